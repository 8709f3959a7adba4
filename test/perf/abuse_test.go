package perf

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/protocol"
	"github.com/bougou/go-ipmi/pkg/rmcpplus"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/powerjockey/powerjockey/test/testkit"
)

// abuseScale bounds the abuse test; PJ_ABUSE_SCALE=10 runs ten times the
// CI size (docs/performance.md).
func abuseScale() int { return envInt("PJ_ABUSE_SCALE", 1) }

// flooder sends from its own loopback address, as a hostile or broken
// host on the provisioning network would.
type flooder struct {
	conn *net.UDPConn
	sent atomic.Int64
}

func newFlooder(t *testing.T, src string) *flooder {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(src)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// Drain replies so they do not pile up in the kernel.
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := c.ReadFromUDP(buf); err != nil {
				return
			}
		}
	}()
	return &flooder{conn: c}
}

func (f *flooder) send(port int, pkt []byte) {
	f.conn.WriteToUDP(pkt, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	f.sent.Add(1)
}

func openSessionRequest(r *rand.Rand) []byte {
	a, i, c := rmcpplus.NewAlgorithmPayloads(types.AuthAlg_HMAC_SHA256, types.IntegrityAlg_HMAC_SHA256_128, types.CryptAlg_AES_CBC_128)
	req := &rmcpplus.OpenSessionRequest{MessageTag: byte(r.Uint32()), RequestedMaximumPrivilegeLevel: types.PrivilegeLevelAdministrator,
		RemoteConsoleSessionID: r.Uint32() | 1, AuthenticationPayload: a, IntegrityPayload: i, ConfidentialityPayload: c}
	return protocol.BuildRMCPPlusPacket(0x10, 0, 0, 0, req.Pack())
}

// garbage returns random, truncated or mangled datagrams, some of them
// valid headers with nonsense behind.
func garbage(r *rand.Rand) []byte {
	switch r.IntN(4) {
	case 0:
		b := make([]byte, r.IntN(300))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	case 1:
		p := openSessionRequest(r)
		return p[:r.IntN(len(p))]
	case 2:
		p := protocol.BuildRMCPPlusPacket(0x00, 0xc0, r.Uint32(), r.Uint32(), make([]byte, r.IntN(64)))
		return p
	default:
		p := protocol.BuildRMCPPlusPacket(0x12, 0, 0, 0, make([]byte, 28+r.IntN(40)))
		binary.LittleEndian.PutUint32(p[16+4:], r.Uint32())
		p[16+27] = byte(r.IntN(256))
		return p
	}
}

func vmRSS(pid int) int { return rssKiB(pid) }

// TestAbuse: tens of thousands of random and truncated datagrams and 20,000
// half-open RMCP+ sessions to one endpoint, and a sustained flood across 100
// endpoints, while legitimate ipmitool sessions keep succeeding (p99 under
// 1 s) and afterwards; memory stays bounded; failed logins are rate-limited
// per source address and counted.
func TestAbuse(t *testing.T) {
	requireTool(t, "ipmitool")
	const nodes = 100
	scale := abuseScale()
	dir := t.TempDir()
	bin := build(t, dir, "github.com/powerjockey/powerjockey/cmd/powerjockey")
	httpPort := testkit.FreePort(t, "tcp")
	cmd, ports := serveIPMINodes(t, dir, bin, nodes, "n%03d", fmt.Sprintf("127.0.0.1:%d", httpPort))
	metrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort)
	rssBefore := vmRSS(cmd.Process.Pid)

	// The legitimate console: ipmitool from 127.0.0.1, all the time.
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu        sync.Mutex
		latencies []time.Duration
		failures  []string
	)
	var legit sync.WaitGroup
	for w := 0; w < 2; w++ {
		legit.Add(1)
		go func() {
			defer legit.Done()
			for i := 0; i < 1000 && ctx.Err() == nil; i++ {
				port := ports[(i*7+w)%4] // endpoint 0 is under the heaviest fire
				start := time.Now()
				out, err := exec.Command("ipmitool", "-I", "lanplus", "-H", "127.0.0.1", "-p", strconv.Itoa(port),
					"-U", "admin", "-P", "password", "-R", "3", "-N", "1", "power", "status").CombinedOutput()
				mu.Lock()
				if err != nil || !strings.Contains(string(out), "Chassis Power is") {
					failures = append(failures, fmt.Sprintf("%v: %s", err, out))
				} else {
					latencies = append(latencies, time.Since(start))
				}
				mu.Unlock()
			}
		}()
	}

	// The flood, from 127.0.0.2 (garbage, half-open sessions) and across
	// every endpoint from 127.0.0.4.
	r := rand.New(rand.NewPCG(1, 2))
	f := newFlooder(t, "127.0.0.2")
	wide := newFlooder(t, "127.0.0.4")
	start := time.Now()
	for i := 0; i < 30000*scale; i++ {
		f.send(ports[0], garbage(r))
	}
	for i := 0; i < 20000*scale; i++ {
		f.send(ports[0], openSessionRequest(r))
	}
	// Sustained: about 20,000 datagrams a second across every endpoint.
	floodEnd := time.Now().Add(time.Duration(5*scale) * time.Second)
	for i := 0; time.Now().Before(floodEnd) && i < 2_000_000; i++ {
		port := ports[i%nodes]
		if i%2 == 0 {
			wide.send(port, openSessionRequest(r))
		} else {
			wide.send(port, garbage(r))
		}
		if i%200 == 199 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	floodTook := time.Since(start)
	rssPeak := vmRSS(cmd.Process.Pid)
	cancel()
	legit.Wait()

	// Failed logins from one address are rate-limited and counted.
	for i := 0; i < 40; i++ {
		exec.Command("ipmitool", "-I", "lanplus", "-H", "127.0.0.1", "-p", strconv.Itoa(ports[5]),
			"-U", "admin", "-P", "wrong", "-R", "1", "-N", "1", "power", "status").Run()
	}
	time.Sleep(7 * time.Second) // abandoned handshakes count after 5 s
	exec.Command("ipmitool", "-I", "lanplus", "-H", "127.0.0.1", "-p", strconv.Itoa(ports[5]),
		"-U", "admin", "-P", "password", "-R", "1", "-N", "1", "power", "status").Run() // refused: over the limit

	// After the flood everything still works.
	if out, err := exec.Command("ipmitool", "-I", "lanplus", "-H", "127.0.0.1", "-p", strconv.Itoa(ports[0]),
		"-U", "admin", "-P", "password", "power", "status").CombinedOutput(); err != nil {
		t.Fatalf("after the flood: %v\n%s", err, out)
	}
	if cmd.ProcessState != nil {
		t.Fatal("daemon died")
	}
	slices.Sort(latencies)
	p99 := latencies[len(latencies)*99/100]
	dropped := testkit.MetricSum(t, metrics, "powerjockey_ipmi_dropped_datagrams_total")
	authFailures := testkit.MetricSum(t, metrics, "powerjockey_ipmi_auth_failures_total")
	limited := testkit.MetricSum(t, metrics, `powerjockey_ipmi_dropped_datagrams_total{node="n005",reason="auth_rate_limited"}`)
	t.Logf("flood: %d datagrams from 2 sources in %v; %d ipmitool calls during it, p50 %v p99 %v max %v, %d failed",
		f.sent.Load()+wide.sent.Load(), floodTook.Round(time.Millisecond), len(latencies),
		latencies[len(latencies)/2].Round(time.Millisecond), p99.Round(time.Millisecond), latencies[len(latencies)-1].Round(time.Millisecond), len(failures))
	t.Logf("RSS %d KiB before, %d KiB at the end of the flood; %.0f datagrams dropped, %.0f auth failures, %.0f handshakes refused by the per-source limit",
		rssBefore, rssPeak, dropped, authFailures, limited)
	if len(failures) > 0 {
		t.Errorf("%d legitimate calls failed during the flood, first: %s", len(failures), failures[0])
	}
	if p99 > time.Second {
		t.Errorf("p99 of legitimate calls during the flood %v, want under 1 s", p99)
	}
	if rssPeak > 128*1024 {
		t.Errorf("RSS grew to %d KiB under the flood", rssPeak)
	}
	if dropped < float64(20000*scale) {
		t.Errorf("only %.0f datagrams counted as dropped", dropped)
	}
	if authFailures < 30 || limited == 0 {
		t.Errorf("failed logins: %.0f counted, %.0f refused by the limit; want >= 30 and > 0", authFailures, limited)
	}
}
