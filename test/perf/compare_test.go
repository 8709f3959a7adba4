// Package perf holds powerjockey's comparison harness and load tests: the
// figures in docs/performance.md come from here and from test/ipmiload.
package perf

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/pkg/sim"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// envInt reads a positive integer from the environment.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// requireTool is the shared helper under this package's name.
var requireTool = testkit.RequireTool

func build(t *testing.T, dir, pkg string) string {
	t.Helper()
	out := filepath.Join(dir, filepath.Base(pkg))
	// Built as released (Dockerfile): static, stripped.
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("build %s: %v", pkg, err)
	}
	return out
}

// serveSimulatedRack checks that the simulator accepts the configuration
// at cfgPath, then starts the simulated rack and the daemon on it, each as
// a process of its own (their CPU is not this test process's, which may be
// built with the race detector), and returns the daemon's command.
func serveSimulatedRack(t *testing.T, pjBin, cfgPath string) *exec.Cmd {
	t.Helper()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.FromConfig(cfg, sim.Options{}); err != nil {
		t.Fatal(err)
	}
	startUntil(t, exec.Command(pjBin, "sim", "--config", cfgPath), "simulating")
	serve := exec.Command(pjBin, "serve", "--config", cfgPath)
	startUntil(t, serve, "powerjockey serving")
	return serve
}

// startUntil starts cmd and waits until its output contains marker.
func startUntil(t *testing.T, cmd *exec.Cmd, marker string) {
	t.Helper()
	out, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), marker) {
				close(found)
				for sc.Scan() {
				}
				return
			}
		}
	}()
	select {
	case <-found:
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not print %q", cmd.Path, marker)
	}
}

// sweep runs one ipmipower --stat over every port and returns its wall time.
// The baselines get two more tries (pyghmi's single-threaded BMCs now and
// then miss a handshake under a 200-host sweep); powerjockey gets none.
func sweep(t *testing.T, name string, ports []int) time.Duration {
	t.Helper()
	if name != "powerjockey" {
		for try := 0; try < 2; try++ {
			if d, ok := trySweep(ports); ok {
				return d
			}
			t.Logf("%s: a sweep missed hosts; retrying", name)
		}
	}
	return sweepOnce(t, name, ports)
}

func trySweep(ports []int) (time.Duration, bool) {
	hosts := make([]string, len(ports))
	for i, p := range ports {
		hosts[i] = fmt.Sprintf("127.0.0.1:%d", p)
	}
	start := time.Now()
	out, err := exec.Command("ipmipower", "-D", "LAN_2_0", "-u", "admin", "-p", "password",
		"-h", strings.Join(hosts, ","), "--stat").CombinedOutput()
	took := time.Since(start)
	return took, err == nil && strings.Count(string(out), ": off")+strings.Count(string(out), ": on") == len(ports)
}

func sweepOnce(t *testing.T, name string, ports []int) time.Duration {
	t.Helper()
	hosts := make([]string, len(ports))
	for i, p := range ports {
		hosts[i] = fmt.Sprintf("127.0.0.1:%d", p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, "ipmipower", "-D", "LAN_2_0", "-u", "admin", "-p", "password",
		"-h", strings.Join(hosts, ","), "--stat").CombinedOutput()
	took := time.Since(start)
	if err != nil {
		t.Fatalf("%s: ipmipower: %v\n%s", name, err, out)
	}
	if got := strings.Count(string(out), ": off") + strings.Count(string(out), ": on"); got != len(ports) {
		t.Fatalf("%s: ipmipower answered %d of %d hosts:\n%s", name, got, len(ports), out)
	}
	return took
}

func ports(base, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = base + i
	}
	return out
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestCompareSweeps measures ipmipower --stat sweeps against powerjockey
// (all layers: node state, persistence, metrics, PDU backends behind the
// status cache, on a simulated rack), go-ipmi's bare reference BMC, and a
// VirtualBMC-style design (pyghmi's Bmc, one process per BMC), in one run.
// PJ_COMPARE_NODES sets the size (default 50 in CI; docs/performance.md
// uses 200), PJ_COMPARE_SWEEPS the sweeps per design (default 5).
func TestCompareSweeps(t *testing.T) {
	requireTool(t, "ipmipower", "/usr/bin/python3")
	if err := exec.Command("/usr/bin/python3", "-c", "import pyghmi.ipmi.bmc").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3-pyghmi is required under CI: %v", err)
		}
		t.Skip("python3-pyghmi not installed")
	}
	n := envInt("PJ_COMPARE_NODES", 50)
	sweeps := envInt("PJ_COMPARE_SWEEPS", 5)
	dir := t.TempDir()
	pjBin := build(t, dir, "github.com/powerjockey/powerjockey/cmd/powerjockey")
	bareBin := build(t, dir, "github.com/powerjockey/powerjockey/test/perf/bareipmi")

	all := freePorts(t, 3*n+(n+23)/24)
	pjBase, bareBase, pyBase, pduBase := all[0], all[n], all[2*n], all[3*n]
	// powerjockey: n nodes on metered PDUs of 24 outlets, simulated.
	var b strings.Builder
	fmt.Fprintf(&b, "state_dir: %s/state\nhttp: {listen: \"off\"}\npdus:\n", dir)
	for p := 0; p < (n+23)/24; p++ {
		fmt.Fprintf(&b, "  - {name: pdu%d, address: \"127.0.0.1:%d\", model: apc_rpdu2, snmp: {version: 2c, community: private}}\n", p, pduBase+p)
	}
	b.WriteString("nodes:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - {name: n%d, ipmi: {listen: \"127.0.0.1:%d\", username: admin, password: password}, pdu: {name: pdu%d, outlets: [%d]}}\n",
			i, pjBase+i, i/24, i%24+1)
	}
	cfgPath := filepath.Join(dir, "pj.yaml")
	if err := os.WriteFile(cfgPath, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	serveSimulatedRack(t, pjBin, cfgPath)
	startUntil(t, exec.Command(bareBin, "-base-port", strconv.Itoa(bareBase), "-n", strconv.Itoa(n)), "ready")
	for i := 0; i < n; i++ {
		py := exec.Command("/usr/bin/python3", "pyghmibmc/bmc.py", strconv.Itoa(pyBase+i))
		if err := py.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { py.Process.Kill(); py.Wait() })
	}
	// Hundreds of Python processes importing pyghmi at once take a while
	// (tens of CPU-seconds); wait until every one answers.
	deadline := time.Now().Add(5 * time.Minute)
	for {
		hosts := make([]string, n)
		for i := range hosts {
			hosts[i] = fmt.Sprintf("127.0.0.1:%d", pyBase+i)
		}
		out, _ := exec.Command("ipmipower", "-D", "LAN_2_0", "-u", "admin", "-p", "password",
			"-h", strings.Join(hosts, ","), "--stat").CombinedOutput()
		if strings.Count(string(out), ": off") == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pyghmi BMCs did not all answer:\n%s", out)
		}
		time.Sleep(time.Second)
	}

	designs := []struct {
		name  string
		ports []int
		times []time.Duration
	}{
		{name: "powerjockey", ports: ports(pjBase, n)},
		{name: "go-ipmi bare", ports: ports(bareBase, n)},
		{name: "pyghmi per process", ports: ports(pyBase, n)},
	}
	for i := range designs {
		sweep(t, designs[i].name, designs[i].ports) // warm-up
	}
	// Interleave rounds so drift on the machine affects all designs alike.
	for r := 0; r < sweeps; r++ {
		for i := range designs {
			designs[i].times = append(designs[i].times, sweep(t, designs[i].name, designs[i].ports))
		}
	}
	pj, bare, py := median(designs[0].times), median(designs[1].times), median(designs[2].times)
	for _, d := range designs {
		var sum time.Duration
		for _, x := range d.times {
			sum += x
		}
		t.Logf("%-20s %d-node sweep: median %v, total of %d %v", d.name, n, median(d.times).Round(time.Millisecond), sweeps, sum.Round(time.Millisecond))
	}
	t.Logf("powerjockey / bare go-ipmi = %.2f (target <= 1.15); powerjockey / pyghmi = %.2f (target <= 0.35)",
		float64(pj)/float64(bare), float64(pj)/float64(py))
	// Small runs are noisy; the targets are asserted with PJ_PERF_ASSERT=1
	// (docs/performance.md); CI asserts only gross regressions. What other
	// processes take of the machine adds to every sweep alike and so pulls
	// each ratio towards 1: a bound above 1 holds under any load, one below
	// 1 does not (0.72 against pyghmi, above the former 0.7, with two busy
	// loops on the two cores; 0.45 on a quiet machine). Against pyghmi, CI
	// asserts that powerjockey is not the slower design.
	bareLimit, pyLimit := 1.5, 1.0
	if os.Getenv("PJ_PERF_ASSERT") != "" {
		bareLimit, pyLimit = 1.15, 0.35
	}
	if float64(pj) > bareLimit*float64(bare) {
		t.Errorf("powerjockey sweep %v is more than %.2f× go-ipmi's %v", pj, bareLimit, bare)
	}
	if float64(pj) > pyLimit*float64(py) {
		t.Errorf("powerjockey sweep %v is more than %.2f× pyghmi's %v", pj, pyLimit, py)
	}
}
