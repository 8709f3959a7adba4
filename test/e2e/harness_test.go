// Package e2e drives the real powerjockey binary with the real peers Ironic
// and operators use: ipmitool, freeipmi, net-snmp, tshark and go-ipmi's
// client, against a simulated rack on loopback.
//
// A test that needs a tool skips when it is missing, unless CI is set: then
// a missing tool is a failure.
package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/sim"
	"github.com/powerjockey/powerjockey/test/harness"
	"github.com/powerjockey/powerjockey/test/testkit"
)

var binary string

func TestMain(m *testing.M) { harness.RunMain(m, "e2e", &binary) }

// The shared helpers under the names this package's tests use.
var (
	requireTool = testkit.RequireTool
	freePort    = testkit.FreePort
	run         = testkit.Run
	eventually  = testkit.Eventually
	withoutEnv  = testkit.WithoutEnv
)

// env is one test's world: a config, a daemon process and maybe a rack
// (harness.Env under this package's names).
type env struct {
	*harness.Env
	t        *testing.T
	dir      string
	cfgPath  string
	httpPort int
	rack     *sim.Rack
	// cmd is the running daemon's command (for its PID and signals).
	cmd *exec.Cmd
	// bin, when set, is the daemon binary to run instead of the one built
	// for the tests; attr, when set, how (another user, capabilities).
	bin  string
	attr *syscall.SysProcAttr
	// wrap, when set, prefixes the daemon's command line (a shell that
	// lowers a resource limit, say).
	wrap []string
}

// newEnv renders tmpl (text/template over data plus .Dir and .HTTP) into
// the test's directory.
func newEnv(t *testing.T, tmpl string, data map[string]any) *env {
	t.Helper()
	h := harness.NewEnv(t, binary, tmpl, data)
	return &env{Env: h, t: t, dir: h.Dir, cfgPath: h.CfgPath, httpPort: h.HTTPPort}
}

var loadConfig = harness.LoadConfig

func (e *env) startRack(opt sim.Options) *sim.Rack {
	e.t.Helper()
	e.rack = e.StartRack(opt)
	return e.rack
}

func (e *env) runRack(rack *sim.Rack) { e.RunRack(rack); e.rack = rack }
func (e *env) start() {
	e.t.Helper()
	e.Binary = binary
	if e.bin != "" {
		e.Binary = e.bin
	}
	e.Wrap, e.SysProcAttr = e.wrap, e.attr
	e.Start()
	e.cmd = e.Proc.Cmd()
}
func (e *env) stop()        { e.Stop() }
func (e *env) kill()        { e.Kill() }
func (e *env) logs() string { return e.Logs() }
func (e *env) logLines(s string) []string {
	return e.Log.Lines(s)
}
func (e *env) httpGet(path string) string  { e.t.Helper(); return e.HTTPGet(path) }
func (e *env) metric(prefix string) string { return e.Metric(prefix) }

// ipmitool runs ipmitool against 127.0.0.1:port as admin/password.
func ipmitool(t *testing.T, port int, args ...string) (string, error) {
	t.Helper()
	base := []string{"-I", "lanplus", "-H", "127.0.0.1", "-p", fmt.Sprint(port), "-U", "admin", "-P", "password", "-R", "2", "-N", "2"}
	return run(t, 30*time.Second, "ipmitool", append(base, args...)...)
}

// mustIPMItool fails the test unless ipmitool succeeds and prints want.
func mustIPMItool(t *testing.T, port int, want string, args ...string) string {
	t.Helper()
	out, err := ipmitool(t, port, args...)
	if err != nil || !strings.Contains(out, want) {
		t.Fatalf("ipmitool %v: err=%v, want %q in:\n%s", args, err, want, out)
	}
	return out
}
