// Package testkit is what the tests of this repository share, written
// once: checks for the peer tools a test drives (skipping without them,
// failing under CI), loopback ports, bounded polling, log capture, a fake
// clock, fake power means (actuators, sensors, PDU feeds), TLS clients and
// metrics scrapes.
//
// It lives under test/ because every test package imports it: those under
// pkg/ (a package under pkg/internal/ could not be imported by cmd/ and
// test/), cmd/ and test/. It therefore imports nothing of this module but
// pkg/power, a leaf: pkg/power has no tests of its own, so no package's
// internal tests import a package that imports them. Process-driving
// helpers that need the simulator and the binary are in test/harness.
//
// It is imported by tests only; it is not a stable API.
package testkit

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// UnderCI reports whether a missing peer must fail the test rather than
// skip it (CI is set, as .ci/run sets it).
func UnderCI() bool { return os.Getenv("CI") != "" }

// Missing skips the test for what err says is missing, or fails it under
// CI; it does nothing when err is nil.
func Missing(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if UnderCI() {
		t.Fatalf("required under CI: %v", err)
	}
	t.Skip(err)
}

// RequireTool skips (or, under CI, fails) unless every named program is
// installed.
func RequireTool(t testing.TB, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			if UnderCI() {
				t.Fatalf("%s is required under CI but missing: %v", name, err)
			}
			t.Skipf("%s not installed", name)
		}
	}
}

// Tool returns the path of a program, looking also in /usr/sbin and /sbin
// (freeipmi, fence-agents) which a non-root PATH lacks; it skips (or,
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
		if UnderCI() {
			t.Fatalf("%s (python module %s) is required under CI: %v\n%s", pkg, m, err, out)
		}
		t.Skipf("%s not installed (import %s: %s)", pkg, m, strings.TrimSpace(string(out)))
	}
}

// Run runs a program with a timeout and returns its combined output.
func Run(t testing.TB, timeout time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
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
