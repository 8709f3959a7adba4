package perf

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/pkg/daemon"
	"github.com/powerjockey/powerjockey/pkg/sim"
)

// rackConfig writes a config of n nodes spread over PDUs of 24 outlets,
// every address on 127.0.0.1 with ports from free sockets.
func rackConfig(t *testing.T, dir string, n int, cacheTTL time.Duration) *config.Config {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "state_dir: %s\nhttp: {listen: \"off\"}\npdus:\n", filepath.Join(dir, "state"))
	pdus := (n + 23) / 24
	ports := freePorts(t, pdus+n)
	for p := 0; p < pdus; p++ {
		fmt.Fprintf(&b, "  - {name: pdu%d, address: \"127.0.0.1:%d\", model: apc_rpdu2, cache_ttl: %s, snmp: {version: 2c, community: private}}\n",
			p, ports[p], cacheTTL)
	}
	b.WriteString("nodes:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - {name: n%04d, ipmi: {listen: \"127.0.0.1:%d\", username: admin, password: password}, pdu: {name: pdu%d, outlets: [%d]}}\n",
			i, ports[pdus+i], i/24, i%24+1)
	}
	cfg, err := config.Parse(filepath.Join(dir, "pj.yaml"), []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// freePorts returns n consecutive UDP ports on 127.0.0.1 that were free a
// moment ago, below the kernel's ephemeral range so that no client socket
// opened meanwhile (by the test, the daemon or anything else) takes one.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil {
				low = v
			}
		}
	}
	for try := 0; try < 20; try++ {
		base := 10000 + rand.IntN(max(1, low-10000-n))
		conns := make([]net.PacketConn, 0, n)
		ok := true
		for p := base; p < base+n; p++ {
			c, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				break
			}
			conns = append(conns, c)
		}
		for _, c := range conns {
			c.Close()
		}
		if ok {
			out := make([]int, n)
			for i := range out {
				out[i] = base + i
			}
			return out
		}
	}
	t.Fatalf("no %d free consecutive ports below %d", n, low)
	return nil
}

// polls reads powerjockey_pdu_snmp_requests_total{op="poll"} per PDU.
func polls(t *testing.T, d *daemon.Daemon) map[string]float64 {
	t.Helper()
	mfs, err := d.Metrics().Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "powerjockey_pdu_snmp_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label(m, "op") == "poll" {
				out[label(m, "pdu")] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// TestPDUEconomy: 1,000 nodes on 42 PDUs polled together, as Ironic's
// periodic power sync does, cost one poll (one SNMP GET) per PDU per cache
// window, proved with the daemon's own metrics and the agents' counters.
func TestPDUEconomy(t *testing.T) {
	const n = 1000
	const ttl = 3 * time.Second
	cfg := rackConfig(t, t.TempDir(), n, ttl)
	rc, err := sim.FromConfig(cfg, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rack, err := sim.New(rc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go rack.Run(ctx)
	d, err := daemon.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer d.Stop()

	sweep := func() time.Duration {
		start := time.Now()
		var wg sync.WaitGroup
		sem := make(chan struct{}, 64) // Ironic runs many ipmitool processes in parallel
		errs := make(chan error, n)
		for _, nd := range d.Inventory().Nodes() {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if _, err := nd.PowerState(ctx); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	agentRequests := func() uint64 {
		var total uint64
		for _, p := range rc.PDUs {
			total += rack.PDU(p.Name).Agent().Stats().Requests
		}
		return total
	}

	took := sweep()
	if took > ttl {
		t.Fatalf("a sweep took %v, longer than the cache window; the test cannot tell", took)
	}
	first := polls(t, d)
	if len(first) != len(rc.PDUs) {
		t.Fatalf("%d PDUs polled, want %d", len(first), len(rc.PDUs))
	}
	for pdu, v := range first {
		if v != 1 {
			t.Errorf("%s polled %v times for one sweep of its nodes, want 1", pdu, v)
		}
	}
	if got := agentRequests(); got != uint64(len(rc.PDUs)) {
		t.Errorf("agents saw %d SNMP requests for %d PDUs, want one each", got, len(rc.PDUs))
	}
	// A second sweep inside the window costs nothing.
	sweep()
	for pdu, v := range polls(t, d) {
		if v != 1 {
			t.Errorf("%s polled again within its cache window (%v polls)", pdu, v)
		}
	}
	// After the window, one more poll each.
	time.Sleep(ttl)
	sweep()
	for pdu, v := range polls(t, d) {
		if v != 2 {
			t.Errorf("%s: %v polls after two windows, want 2", pdu, v)
		}
	}
	t.Logf("%d nodes on %d PDUs: a status sweep took %v; %d SNMP requests in all", n, len(rc.PDUs), took, agentRequests())
}
