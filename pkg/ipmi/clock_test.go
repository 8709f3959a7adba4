package ipmi

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	gobmc "github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/protocol"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/powerjockey/powerjockey/test/testkit"
)

// evictionRan has the guard sweep at the current (fake) time and waits
// until go-ipmi's eviction goroutine, ticked by that sweep, went back to
// waiting for the next tick: its eviction at that time is done.
func evictionRan(t *testing.T, g *Guard, ep *Endpoint) {
	t.Helper()
	tk := evictionTicker(t, ep)
	before := tk.waits.Load()
	g.sweep()
	testkit.Eventually(t, 5*time.Second, "go-ipmi's eviction goroutine ran and waits again", func() bool {
		return len(tk.c) == 0 && tk.waits.Load() > before
	})
}

// evictionTicker waits for the ticker server.Serve's eviction goroutine
// asks the endpoint's clock for when it starts.
func evictionTicker(t *testing.T, ep *Endpoint) (tk *evictTicker) {
	t.Helper()
	testkit.Eventually(t, 5*time.Second, "server.Serve asked the endpoint's clock for its eviction ticker", func() bool {
		ep.clock.mu.Lock()
		defer ep.clock.mu.Unlock()
		tk = ep.clock.evict
		return tk != nil
	})
	return tk
}

// TestIdleSessionsExpire: go-ipmi's session eviction runs when the guard's
// sweep ticks it (not on a ticker of its own per endpoint), and sessions
// still end after their idle timeout and not before, activity restarting
// it — RMCP+ and v1.5 alike, on a fake clock instead of a minute's sleep.
func TestIdleSessionsExpire(t *testing.T) {
	for _, tc := range []struct {
		name  string
		intf  client.Interface
		suite types.CipherSuiteID
	}{
		{"lanplus", client.InterfaceLanplus, 17},
		{"lan", client.InterfaceLan, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // the client's Close Session on the evicted session waits out its timeout
			clk := testkit.NewClock(time.Now())
			cfg := testEndpointConfig()
			cfg.SessionTimeout = time.Minute
			ep, _, g := startGuarded(t, newFakeMachine("n0"), cfg, DefaultGuardConfig(), newInjectConn(t),
				func(g *Guard) { g.now = clk.Now })
			c := dial(t, ep, "admin", "password", tc.intf, tc.suite)
			stores := func() int { return ep.bmc.Sessions.Count() + ep.bmc.V15Sessions.Count() }
			if ep.Sessions() != 1 || stores() != 1 {
				t.Fatalf("after login: %d sessions in the books, %d in go-ipmi's tables, want 1 and 1", ep.Sessions(), stores())
			}
			// Less than the timeout (plus go-ipmi's 3 s tolerance) idle:
			// kept, and a command restarts the count.
			clk.Advance(50 * time.Second)
			evictionRan(t, g, ep)
			if stores() != 1 {
				t.Fatal("session evicted after 50 s idle, timeout 60 s")
			}
			if _, err := c.GetChassisStatus(context.Background()); err != nil {
				t.Fatalf("command after 50 s idle: %v", err)
			}
			clk.Advance(50 * time.Second)
			evictionRan(t, g, ep)
			if stores() != 1 || ep.Sessions() != 1 {
				t.Fatal("session evicted 50 s after its last command, timeout 60 s")
			}
			// Past the timeout and its tolerance: gone from go-ipmi's
			// tables and from the guard's books.
			clk.Advance(gobmc.DefaultInactivityTimeoutTolerance + 11*time.Second)
			g.sweep()
			testkit.Eventually(t, 5*time.Second, "the idle session is evicted", func() bool { return stores() == 0 && ep.Sessions() == 0 })
		})
	}
}

// active reports whether the guard's sweep looks at ep.
func active(g *Guard, ep *Endpoint) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.active[ep.conn]
	return ok
}

// TestIdleEndpointsAreNotWoken: at rest the guard's sweep does not look at
// an endpoint (it is on the active list only from a datagram until a sweep
// finds nothing left to expire) nor tick go-ipmi's eviction goroutine,
// which waits on the ticker it asked the endpoint's clock for (the only one
// go-ipmi's server makes; an active SOL console's pump is the other).
func TestIdleEndpointsAreNotWoken(t *testing.T) {
	clk := testkit.NewClock(time.Now())
	ep, _, g := startGuarded(t, newFakeMachine("n0"), testEndpointConfig(), DefaultGuardConfig(), newInjectConn(t),
		func(g *Guard) { g.now = clk.Now })
	if !ep.conn.quiet() || active(g, ep) {
		t.Fatal("a new endpoint is not quiet, or on the active list")
	}
	var tk *evictTicker
	idle := func() {
		t.Helper()
		for range 3 {
			clk.Advance(gobmc.DefaultSessionEvictInterval)
			g.sweep()
			if tk != nil && len(tk.c) != 0 {
				t.Fatalf("an idle endpoint's eviction ticker was ticked (%d waiting)", len(tk.c))
			}
			if active(g, ep) {
				t.Fatal("a quiet endpoint stayed on the active list")
			}
		}
	}
	// Presence pings are answered before go-ipmi's server runs, and do
	// not start it: no eviction goroutine, no ticker.
	for range 3 {
		presencePing(t, ep)
	}
	idle()
	ep.clock.mu.Lock()
	started := ep.clock.evict != nil
	ep.clock.mu.Unlock()
	if started {
		t.Fatal("presence pings started go-ipmi's server")
	}

	// A session puts it on the list, and keeps it there while it lasts.
	c, err := connect(ep, "admin", "password", client.InterfaceLanplus, 17) // closed below, not by a cleanup
	if err != nil {
		t.Fatal(err)
	}
	tk = evictionTicker(t, ep)
	g.sweep()
	if !active(g, ep) {
		t.Fatal("an endpoint with a session is not on the active list")
	}
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "the closed session leaves the books", func() bool { return ep.Sessions() == 0 })
	idle()

	// Other periods are real tickers, not the guard's.
	sol := ep.clock.NewTicker(10 * time.Millisecond)
	defer sol.Stop()
	if _, ok := sol.(*evictTicker); ok {
		t.Fatal("a 10 ms ticker (the SOL pump's) was taken for the eviction ticker")
	}
}

// admissionState returns the endpoint's unproven budget left (-1: no admission
// state) and whether any of its tables is allocated.
func admissionState(ep *Endpoint) (tokens float64, tables bool) {
	c := ep.conn
	c.mu.Lock()
	defer c.mu.Unlock()
	tokens = -1
	if c.adm != nil {
		tokens = c.adm.unproven.tokens
	}
	tables = c.pending != nil || c.awaitOpen != nil || c.awaitRAKP2 != nil || c.awaitRAKP4 != nil ||
		c.sessions != nil || c.v15 != nil || c.awaitChallenge != nil || c.awaitActivate != nil ||
		c.v15Active != nil || c.unprovenQueue != nil
	return tokens, tables
}

// TestAdmissionStateComesAndGoes: an endpoint holds its admission state
// (the unproven budget and the 2 KiB heavy-hitters table) and its tables
// only while it has use for them. They are made by traffic, and the sweep
// drops them once the budget has refilled and the counting window passed,
// never sooner, so that dropping them changes no decision: a drained
// budget stays drained until it has leaked back.
func TestAdmissionStateComesAndGoes(t *testing.T) {
	clk := testkit.NewClock(time.Now())
	conn := newInjectConn(t)
	ep, obs, g := startGuarded(t, newFakeMachine("n0"), testEndpointConfig(), DefaultGuardConfig(), conn,
		func(g *Guard) { g.now = clk.Now })
	if tokens, tables := admissionState(ep); tokens != -1 || tables {
		t.Fatalf("a new endpoint holds admission state (%v tokens) or tables (%v)", tokens, tables)
	}
	burst := g.cfg.Unproven.Burst
	ping := []byte{0x06, 0x00, 0xff, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x80, 0x01, 0x00, 0x00}
	r := rand.New(rand.NewPCG(3, 4))
	flood := func(n int) {
		t.Helper()
		for range n {
			conn.inject(ping, randomLoopback(r))
		}
		testkit.Eventually(t, 5*time.Second, "the pings are read", func() bool { return len(conn.in) == 0 })
	}
	// The whole burst and 50 more on a frozen clock: 50 refused.
	flood(int(burst) + 50)
	testkit.Eventually(t, 5*time.Second, "50 pings refused", func() bool { return obs.droppedFor("unproven_budget") == 50 })
	if tokens, _ := admissionState(ep); tokens != 0 {
		t.Fatalf("%v tokens left after the burst, want 0", tokens)
	}
	// Half refilled: kept (a new budget would be full).
	clk.Advance(time.Second)
	g.sweep()
	if tokens, _ := admissionState(ep); tokens < 0 || !active(g, ep) {
		t.Fatal("the sweep dropped a budget that had not refilled, or took the endpoint off the list")
	}
	flood(int(burst)/2 + 10)
	testkit.Eventually(t, 5*time.Second, "10 more refused", func() bool { return obs.droppedFor("unproven_budget") == 60 })
	// Refilled and the window over: dropped, and with it the tables.
	clk.Advance(time.Duration(burst/g.cfg.Unproven.Rate) * time.Second)
	g.sweep()
	if tokens, tables := admissionState(ep); tokens != -1 || tables || active(g, ep) {
		t.Fatalf("a settled endpoint keeps its admission state (%v tokens) or tables (%v), or stays on the list", tokens, tables)
	}
	// A new one is the same as the old one would have been: a full burst.
	flood(int(burst) + 1)
	testkit.Eventually(t, 5*time.Second, "one more refused", func() bool { return obs.droppedFor("unproven_budget") == 61 })
}

// presencePing sends an ASF Presence Ping to ep from a socket of its own
// and checks the answer is go-ipmi's pong with the ping's tag.
func presencePing(t *testing.T, ep *Endpoint) {
	t.Helper()
	c, err := net.DialUDP("udp", nil, ep.Addr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const tag = 0x5a
	if _, err := c.Write([]byte{0x06, 0x00, 0xff, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x80, tag, 0x00, 0x00}); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no pong: %v", err)
	}
	if want := protocol.BuildASFPresencePong(tag); !bytes.Equal(buf[:n], want) {
		t.Fatalf("pong % x, want % x", buf[:n], want)
	}
}
