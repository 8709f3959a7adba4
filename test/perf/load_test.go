package perf

import (
	"os"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/powerjockey/powerjockey/test/ipmiload/load"
)

// TestSessionLoad runs complete RMCP+ sessions (Open Session, RAKP 1-4, Get
// Chassis Status, Close Session) against 100 endpoints of the release
// binary for PJ_LOAD_SECONDS (default 3) with 8 clients, for cipher suites
// 3 and 17. PJ_PERF_ASSERT=1 asserts the target (5,000 sessions/s, p99 under
// 10 ms) on a machine of its own. CI asserts that every session succeeds and
// only gross regressions, by measures that do not depend on how much of a
// shared machine the daemon gets: its CPU time per session, and a median
// latency far above what a busy machine adds (a stall in the session path).
// A rate or a p99 is the machine's load as much as the daemon's: 730/s and
// p99 148 ms failed a 1,000/s, 100 ms bound while two other processes kept
// both cores busy, although every session succeeded.
func TestSessionLoad(t *testing.T) {
	const nodes = 100
	dir := t.TempDir()
	bin := build(t, dir, "github.com/powerjockey/powerjockey/cmd/powerjockey")
	cmd, ports := serveIPMINodes(t, dir, bin, nodes, "n%03d", "off")
	// maxCPU is five to eight times what a session costs the daemon
	// (115-210 µs, docs/performance.md), maxP50 twenty times the median
	// seen with both cores taken by others (4.4 ms).
	const maxCPU, maxP50 = time.Millisecond, 100 * time.Millisecond
	target := os.Getenv("PJ_PERF_ASSERT") != ""
	for _, suite := range []uint8{3, 17} {
		before := readUsage(t, cmd.Process.Pid)
		r := load.Run(load.Options{Addr: "127.0.0.1", Ports: ports, Concurrency: 8,
			Duration: time.Duration(envInt("PJ_LOAD_SECONDS", 3)) * time.Second,
			Suite:    typesSuite(suite), User: "admin", Pass: "password", Timeout: 2 * time.Second, Lean: true})
		cpu := readUsage(t, cmd.Process.Pid).cpu - before.cpu
		perSession := cpu / time.Duration(max(r.Sessions, 1))
		t.Logf("cipher suite %d: %v; daemon CPU %v, %v a session", suite, r, cpu, perSession)
		if r.Errors > 0 {
			t.Errorf("cipher suite %d: %d sessions failed: %s", suite, r.Errors, r.FirstErr)
		}
		if r.Sessions == 0 || perSession > maxCPU || r.Percentile(0.5) > maxP50 {
			t.Errorf("cipher suite %d: %d sessions, %v of daemon CPU a session, p50 %v; want at most %v and %v",
				suite, r.Sessions, perSession, r.Percentile(0.5), maxCPU, maxP50)
		}
		if target && (r.Rate() < 5000 || r.Percentile(0.99) > 10*time.Millisecond) {
			t.Errorf("cipher suite %d: %.0f sessions/s, p99 %v; want at least 5000/s and at most 10ms", suite, r.Rate(), r.Percentile(0.99))
		}
	}
}

func typesSuite(s uint8) types.CipherSuiteID { return types.CipherSuiteID(s) }
