// Package harness is what the process-driving test packages (test/e2e,
// test/ironic, test/perf) share: building the real binary, finding the
// peer tools (skipping without them, failing under CI), loopback ports,
// bounded polling, and running processes with their output captured for
// the failure message.
//
// It is imported by tests only; nothing under cmd/ or pkg/ uses it.
package harness

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/sim"
)

// Build compiles cmd/powerjockey into dir and returns the binary's path.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "powerjockey")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/powerjockey/powerjockey/cmd/powerjockey")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build powerjockey: %w", err)
	}
	return bin, nil
}

// underCI reports whether a missing peer must fail the test rather than
// skip it.
func underCI() bool { return os.Getenv("CI") != "" }

// RequireTool skips (or, under CI, fails) unless every named program is
// installed.
func RequireTool(t testing.TB, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			if underCI() {
				t.Fatalf("%s is required under CI but missing: %v", name, err)
			}
			t.Skipf("%s not installed", name)
		}
	}
}

// Tool returns the path of a program that may live in /usr/sbin or /sbin
// (freeipmi, fence-agents), which a non-root PATH lacks; it skips (or,
// under CI, fails) when the program is nowhere.
func Tool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	RequireTool(t, name)
	return ""
}

// Python is Debian's interpreter: the python3-* packages the tests drive
// (sushy, ironic, fence-agents' libraries) are installed for it, not for
// whatever python3 comes first on PATH.
const Python = "/usr/bin/python3"

// RequirePython skips (or, under CI, fails) unless every named module is
// importable by Debian's python3; pkg names the Debian package for the
// message.
func RequirePython(t testing.TB, pkg string, modules ...string) {
	t.Helper()
	RequireTool(t, Python)
	for _, m := range modules {
		out, err := exec.Command(Python, "-c", "import "+m).CombinedOutput()
		if err == nil {
			continue
		}
		if underCI() {
			t.Fatalf("%s (python module %s) is required under CI: %v\n%s", pkg, m, err, out)
		}
		t.Skipf("%s not installed (import %s: %s)", pkg, m, strings.TrimSpace(string(out)))
	}
}

// RequireVMs skips (or, under CI, fails) unless machines can run as QEMU
// VMs (sim.CheckVMTools names what is missing); uefi asks for OVMF too.
func RequireVMs(t testing.TB, uefi bool) {
	t.Helper()
	if err := sim.CheckVMTools(sim.VMConfig{UEFI: uefi}); err != nil {
		if underCI() {
			t.Fatalf("required under CI: %v", err)
		}
		t.Skip(err)
	}
}

// portMu and usedPorts keep two tests of one process from being handed the
// same port between its release and its use; they are per process by
// nature, hence package-level.
var (
	portMu    sync.Mutex
	usedPorts = map[int]bool{}
)

// FreePort hands out a 127.0.0.1 port ("udp" or "tcp") that was free a
// moment ago and that no other caller in this process got.
func FreePort(t testing.TB, network string) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	for i := 0; i < 50; i++ {
		var port int
		switch network {
		case "udp":
			c, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			port = c.LocalAddr().(*net.UDPAddr).Port
			c.Close()
		default:
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			port = l.Addr().(*net.TCPAddr).Port
			l.Close()
		}
		if !usedPorts[port] {
			usedPorts[port] = true
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// Run runs a program with a timeout and returns its combined output.
func Run(t testing.TB, timeout time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

// Eventually polls cond every 100 ms until it holds, and fails the test
// when it has not within the given time.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WithoutEnv returns env without the named variables. Tests drop
// REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE this way: python-requests lets them
// override an explicit verify= (requests#3829), which would make sushy
// verify a certificate its caller said not to.
func WithoutEnv(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		drop := false
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				drop = true
			}
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}
