package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"

	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/test/testkit"
)

type nodeSpec struct {
	name, password string
	port           int
}

func parseConfig(t *testing.T, dir string, nodes []nodeSpec) *config.Config {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "state_dir: %s\nhttp: {listen: \"off\"}\nnodes:\n", dir)
	for _, n := range nodes {
		fmt.Fprintf(&b, "  - name: %s\n    ipmi: {listen: \"127.0.0.1:%d\", username: admin, password: %s}\n", n.name, n.port, n.password)
	}
	cfg, err := config.Parse("test.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func session(t *testing.T, port int, password string) (*client.Client, error) {
	t.Helper()
	c, err := client.NewClient("127.0.0.1", port, "admin", password)
	if err != nil {
		return nil, err
	}
	c = c.WithInterface(client.InterfaceLanplus).WithCipherSuiteID(17).WithTimeout(time.Second).WithRetry(1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// TestReloadKeepsUntouchedEndpoints: added, removed and changed nodes take
// effect; an untouched node keeps its endpoint and its open session.
func TestReloadKeepsUntouchedEndpoints(t *testing.T) {
	dir := t.TempDir()
	kept := nodeSpec{"kept", "pw-kept", testkit.FreePort(t, "udp")}
	changed := nodeSpec{"changed", "pw-old", testkit.FreePort(t, "udp")}
	removed := nodeSpec{"removed", "pw-removed", testkit.FreePort(t, "udp")}
	d, err := New(parseConfig(t, dir, []nodeSpec{kept, changed, removed}), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer d.Stop()

	c, err := session(t, kept.port, kept.password)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	keptEndpoint := d.IPMI().Endpoint("kept")

	changedNew := nodeSpec{"changed", "pw-new", testkit.FreePort(t, "udp")}
	added := nodeSpec{"added", "pw-added", testkit.FreePort(t, "udp")}
	if err := d.Reload(parseConfig(t, dir, []nodeSpec{kept, changedNew, added})); err != nil {
		t.Fatal(err)
	}

	if d.IPMI().Endpoint("kept") != keptEndpoint {
		t.Fatal("untouched node's endpoint was rebuilt")
	}
	// The session opened before the reload still works.
	if _, err := c.GetChassisStatus(context.Background()); err != nil {
		t.Fatalf("session on the untouched node broke: %v", err)
	}
	if _, err := session(t, changedNew.port, "pw-new"); err != nil {
		t.Fatalf("changed node on its new port: %v", err)
	}
	if _, err := session(t, changed.port, "pw-old"); err == nil {
		t.Fatal("changed node still answers on its old port")
	}
	if _, err := session(t, added.port, added.password); err != nil {
		t.Fatalf("added node: %v", err)
	}
	if _, err := session(t, removed.port, removed.password); err == nil {
		t.Fatal("removed node still answers")
	}
	if d.Inventory().Node("removed") != nil || d.Inventory().Node("added") == nil {
		t.Fatal("node set not updated")
	}
}

// TestReloadFailureKeepsServing: a new endpoint that cannot bind is
// reported, and everything else of the new configuration applies.
func TestReloadFailureKeepsServing(t *testing.T) {
	dir := t.TempDir()
	a := nodeSpec{"a", "pw-a", testkit.FreePort(t, "udp")}
	d, err := New(parseConfig(t, dir, []nodeSpec{a}), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	busy, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	b := nodeSpec{"b", "pw-b", busy.LocalAddr().(*net.UDPAddr).Port}
	err = d.Reload(parseConfig(t, dir, []nodeSpec{a, b}))
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("reload err = %v", err)
	}
	if _, err := session(t, a.port, a.password); err != nil {
		t.Fatalf("existing node stopped serving: %v", err)
	}
}

// TestStateDirIsExclusive: a second daemon on the same state_dir is refused.
func TestStateDirIsExclusive(t *testing.T) {
	dir := t.TempDir()
	cfg := parseConfig(t, dir, []nodeSpec{{"a", "pw", testkit.FreePort(t, "udp")}})
	d, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	if _, err := New(cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), ErrLocked.Error()) {
		t.Fatalf("second daemon: %v", err)
	}
}

func TestLoopbackHostsOnly(t *testing.T) {
	h := loopbackHostsOnly(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }), slog.New(slog.DiscardHandler))
	for host, want := range map[string]int{
		"127.0.0.1:9623": 204, "localhost:9623": 204, "[::1]:9623": 204, "LOCALHOST": 204, "127.0.0.2": 204,
		"evil.example:9623": 421, "192.168.24.1:9623": 421, "": 421,
	} {
		r := httptest.NewRequest("GET", "/api/v1/nodes", nil)
		r.Host = host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("Host %q: %d, want %d", host, w.Code, want)
		}
	}
}
