package perf

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/powerjockey/powerjockey/test/ipmiload/load"
)

// TestSessionLoad runs complete RMCP+ sessions (Open Session, RAKP 1-4, Get
// Chassis Status, Close Session) against 100 endpoints of the release
// binary for PJ_LOAD_SECONDS (default 3) with 8 clients, for cipher suites
// 3 and 17. PJ_PERF_ASSERT=1 asserts the target (5,000 sessions/s, p99 under
// 10 ms); CI asserts that every session succeeds and only gross regressions.
func TestSessionLoad(t *testing.T) {
	const nodes = 100
	dir := t.TempDir()
	bin := build(t, dir, "github.com/powerjockey/powerjockey/cmd/powerjockey")
	ports := freePorts(t, nodes)
	var b strings.Builder
	fmt.Fprintf(&b, "state_dir: %s\nhttp: {listen: \"off\"}\nnodes:\n", filepath.Join(dir, "state"))
	for i, p := range ports {
		fmt.Fprintf(&b, "  - {name: n%03d, ipmi: {listen: \"127.0.0.1:%d\", username: admin, password: password}}\n", i, p)
	}
	cfg := filepath.Join(dir, "pj.yaml")
	os.WriteFile(cfg, []byte(b.String()), 0o600)
	cmd := exec.Command(bin, "serve", "--config", cfg)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	if !waitAnswering(ports, time.Now().Add(20*time.Second)) {
		t.Fatal("daemon did not come up")
	}
	minRate, maxP99 := 1000.0, 100*time.Millisecond
	if os.Getenv("PJ_PERF_ASSERT") != "" {
		minRate, maxP99 = 5000, 10*time.Millisecond
	}
	for _, suite := range []uint8{3, 17} {
		r := load.Run(load.Options{Addr: "127.0.0.1", Ports: ports, Concurrency: 8,
			Duration: time.Duration(envInt("PJ_LOAD_SECONDS", 3)) * time.Second,
			Suite:    typesSuite(suite), User: "admin", Pass: "password", Timeout: 2 * time.Second, Lean: true})
		t.Logf("cipher suite %d: %v", suite, r)
		if r.Errors > 0 {
			t.Errorf("cipher suite %d: %d sessions failed: %s", suite, r.Errors, r.FirstErr)
		}
		if r.Rate() < minRate || r.Percentile(0.99) > maxP99 {
			t.Errorf("cipher suite %d: %.0f sessions/s, p99 %v; want at least %.0f/s and at most %v", suite, r.Rate(), r.Percentile(0.99), minRate, maxP99)
		}
	}
}

func typesSuite(s uint8) types.CipherSuiteID { return types.CipherSuiteID(s) }
