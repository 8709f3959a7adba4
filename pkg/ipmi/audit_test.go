package ipmi

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/powerjockey/powerjockey/test/testkit"
)

// startLogged runs an endpoint with registry reg, observer obs and a log
// recorder, on a guard whose clock the test moves.
func startLogged(t *testing.T, reg *handlers.Registry, obs Observer, gcfg GuardConfig) (*Endpoint, *testkit.Records, func(time.Duration)) {
	t.Helper()
	rec := testkit.NewRecords()
	guard := NewGuard(gcfg)
	var mu sync.Mutex
	now := time.Now()
	guard.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	ctx, cancel := context.WithCancel(context.Background())
	go guard.Run(ctx)
	ep, err := newEndpointOn(newInjectConn(t), newFakeMachine("n0"), testEndpointConfig(), reg, guard, obs, slog.New(rec))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { ep.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); ep.Close(); <-done })
	return ep, rec, advance
}

// TestRefusedLoginsAreAudited: every refused login gets an audit line with
// channel, source address, user and reason, at most ten a minute per
// source; the next line after a pause says how many were suppressed.
func TestRefusedLoginsAreAudited(t *testing.T) {
	gcfg := DefaultGuardConfig()
	gcfg.AuthFailuresPerMinute = 1000 // the lockout is not under test
	obs := newCountingObserver()
	ep, logs, advance := startLogged(t, newRegistry(), obs, gcfg)
	target := ep.Addr().(*net.UDPAddr)
	for i := range 25 {
		if st := newRawConsole(t, "127.0.0.3", target).guess(17, "admin", "guess"); st != 0x0D {
			t.Fatalf("guess %d: status %#x", i, st)
		}
	}
	lines := logs.Messages("login refused")
	if len(lines) != 10 || obs.authFailures() != 25 {
		t.Fatalf("%d audit lines and %d failures counted for 25 refused logins, want 10 and 25", len(lines), obs.authFailures())
	}
	want := map[string]string{"channel": "ipmi", "source": "127.0.0.3", "user": "admin", "node": "n0"}
	for k, v := range want {
		if lines[0][k] != v {
			t.Fatalf("audit line %v: %s is not %q", lines[0], k, v)
		}
	}
	if lines[0]["reason"] == "" {
		t.Fatalf("audit line without a reason: %v", lines[0])
	}
	advance(time.Minute)
	newRawConsole(t, "127.0.0.3", target).guess(17, "root", "guess")
	lines = logs.Messages("login refused")
	if last := lines[len(lines)-1]; last["suppressed"] != "15" || last["user"] != "root" {
		t.Fatalf("line after the pause: %v, want suppressed=15 user=root", last)
	}
}

// panicky is a command that panics, registered for the test only.
var panicky = types.Command{ID: 0x01, NetFn: 0x2e, Name: "Test Panic"}

// TestPanicsCostOneDatagram: a panicking handler answers 0xFF, a panic in
// the conn drops its datagram; both are counted, logged once a minute per
// source, and the endpoint goes on.
func TestPanicsCostOneDatagram(t *testing.T) {
	reg := newRegistry()
	reg.RegisterFunc(panicky, func(context.Context, *handlers.HandlerContext, []byte) ([]byte, types.CompletionCode, error) {
		panic("boom")
	})
	obs := &panickingObserver{countingObserver: newCountingObserver()}
	ep, logs, _ := startLogged(t, reg, obs, DefaultGuardConfig())
	c := newRawConsole(t, "127.0.0.1", ep.Addr().(*net.UDPAddr))
	if err := c.login(17, "admin", "password", 0x14); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if cc, _, ok := c.command(0x2e, 0x01, nil); !ok || cc != 0xFF {
			t.Fatalf("panicking handler: cc %#x ok %v", cc, ok)
		}
	}
	// The observer panics when told of a short datagram: inside the conn.
	for range 3 {
		c.conn.WriteToUDP([]byte{1, 2}, c.target)
	}
	if cc, _, ok := c.command(0x00, 0x01, nil); !ok || cc != 0 {
		t.Fatal("the endpoint stopped answering")
	}
	obs.mu.Lock()
	handler, conn := obs.panics["handler"], obs.panics["conn_read"]
	obs.mu.Unlock()
	if handler != 5 || conn != 3 {
		t.Fatalf("panics counted: handler %d, conn %d; want 5 and 3", handler, conn)
	}
	if n := len(logs.Messages("recovered from a panic; only this datagram was lost")); n != 1 {
		t.Fatalf("%d panic log lines from one source within a minute, want 1", n)
	}
}

type panickingObserver struct{ *countingObserver }

func (o *panickingObserver) Dropped(node, reason string) {
	if reason == "short" {
		panic("observer")
	}
	o.countingObserver.Dropped(node, reason)
}
