package daemon

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/pkg/internal/connlimit"
)

// budgetConfig is a configuration of n manual nodes and p PDUs.
func budgetConfig(t *testing.T, nodes, pdus int, extra string) *config.Config {
	t.Helper()
	var b strings.Builder
	b.WriteString(extra + "pdus:\n")
	for i := range pdus {
		fmt.Fprintf(&b, "  - {name: p%d, address: 10.0.0.%d, snmp: {community: c0mmunity}}\n", i, i+1)
	}
	if pdus == 0 {
		b.Reset()
		b.WriteString(extra)
	}
	b.WriteString("nodes:\n")
	for i := range nodes {
		fmt.Fprintf(&b, "  - {name: n%d, ipmi: {listen: \"127.0.0.1:%d\", username: admin, password: pw}}\n", i, 20000+i)
	}
	cfg, err := config.Parse("b.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestFDBudget(t *testing.T) {
	redfishOn := "redfish: {listen: \"127.0.0.1:8000\"}\n"
	for _, c := range []struct {
		name          string
		nodes, pdus   int
		extra         string
		limit         uint64
		reserved      int
		http, redfish connlimit.Limits
		lowered       []string
	}{
		{"systemd unit's limit: as configured", 100, 4, redfishOn, 65536, 64 + 800 + 16 + 4,
			connlimit.Limits{Max: 64, PerSource: 16}, connlimit.Limits{Max: 256, PerSource: 32}, nil},
		{"redfish off", 10, 0, "", 65536, 64 + 80 + 2,
			connlimit.Limits{Max: 64, PerSource: 16}, connlimit.Limits{}, nil},
		{"both off", 10, 0, "http: {listen: \"off\"}\n", 65536, 64 + 80, connlimit.Limits{}, connlimit.Limits{}, nil},
		// 1024 - (64 + 8·100 + 4 + 4) = 152 left for 64 + 256 wanted.
		{"1024 with 100 nodes: shared in proportion", 100, 1, redfishOn, 1024, 64 + 800 + 4 + 4,
			connlimit.Limits{Max: 30, PerSource: 16}, connlimit.Limits{Max: 121, PerSource: 32},
			[]string{"http.max_connections 64 -> 30", "redfish.max_connections 256 -> 121"}},
		{"configured caps", 1, 0, "http: {max_connections: 5, max_connections_per_source: 2}\nredfish: {listen: \":8000\", max_connections: 7}\n",
			4096, 64 + 8 + 4, connlimit.Limits{Max: 5, PerSource: 2}, connlimit.Limits{Max: 7, PerSource: 7}, nil},
		{"nothing left: one connection each", 200, 0, redfishOn, 1024, 64 + 1600 + 4,
			connlimit.Limits{Max: 1, PerSource: 1}, connlimit.Limits{Max: 1, PerSource: 1},
			[]string{"http.max_connections 64 -> 1", "redfish.max_connections 256 -> 1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newFDBudget(budgetConfig(t, c.nodes, c.pdus, c.extra), c.limit)
			if b.reserved != c.reserved || b.http != c.http || b.redfish != c.redfish || !slices.Equal(b.lowered, c.lowered) {
				t.Errorf("budget %+v\nwant reserved %d, http %+v, redfish %+v, lowered %q", b, c.reserved, c.http, c.redfish, c.lowered)
			}
			if total := b.http.Max + b.redfish.Max + b.reserved; uint64(total) > c.limit && len(c.lowered) > 0 && b.http.Max > 1 {
				t.Errorf("caps %d + %d and reserve %d exceed the limit %d", b.http.Max, b.redfish.Max, b.reserved, c.limit)
			}
		})
	}
}

// TestFDBudgetBoot: the boot endpoint has its caps (default 256 and 64),
// shared out with the others when the limit cannot afford them all.
func TestFDBudgetBoot(t *testing.T) {
	bootOn := "boot: {listen: \"127.0.0.1:9624\"}\n"
	b := newFDBudget(budgetConfig(t, 10, 0, bootOn), 65536)
	if b.boot != (connlimit.Limits{Max: 256, PerSource: 64}) || b.reserved != 64+80+2+2 {
		t.Errorf("budget %+v", b)
	}
	// 1024 - (64 + 800 + 2 + 2) = 156 left for 64 + 256 wanted.
	b = newFDBudget(budgetConfig(t, 100, 0, bootOn), 1024)
	if b.http.Max != 31 || b.boot.Max != 124 || b.boot.PerSource != 64 ||
		!slices.Equal(b.lowered, []string{"http.max_connections 64 -> 31", "boot.max_connections 256 -> 124"}) {
		t.Errorf("budget %+v", b)
	}
	if b = newFDBudget(budgetConfig(t, 1, 0, ""), 65536); b.boot != (connlimit.Limits{}) {
		t.Errorf("boot endpoint off: %+v", b.boot)
	}
}

func TestRaiseFileLimit(t *testing.T) {
	got, err := RaiseFileLimit()
	if err != nil || got == 0 || got != fileLimit() {
		t.Errorf("RaiseFileLimit = %d, %v; limit now %d", got, err, fileLimit())
	}
}

// TestServerTimeouts: both TCP servers get the timeouts, header limit and
// connection tracking of newServer (the TLS handshake is bounded by the
// shortest timeout, net/http's rule).
func TestServerTimeouts(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	ln := connlimit.New(inner, "test", connlimit.Limits{Max: 1, PerSource: 1}, slog.New(slog.DiscardHandler))
	srv := newServer(http.NotFoundHandler(), ln, slog.New(slog.DiscardHandler))
	if srv.ReadHeaderTimeout != 10*time.Second || srv.ReadTimeout != 30*time.Second || srv.WriteTimeout != 2*time.Minute ||
		srv.IdleTimeout != time.Minute || srv.MaxHeaderBytes != 64<<10 || srv.ConnState == nil {
		t.Errorf("server %+v", srv)
	}
	if shortest := min(srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout); shortest != 10*time.Second {
		t.Errorf("TLS handshake bounded by %v, want 10s", shortest)
	}
}
