package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/test/harness"
)

// TestSIGHUPReload: a valid new config takes effect without a restart; an
// invalid one is logged and the running one keeps serving.
func TestSIGHUPReload(t *testing.T) {
	requireTool(t, "ipmitool")
	p0, p1 := freePort(t, "udp"), freePort(t, "udp")
	tmpl := `
state_dir: {{.Dir}}/state
http: {listen: "127.0.0.1:{{.HTTP}}"}
nodes:
  - name: n0
    ipmi: {listen: "127.0.0.1:{{.P0}}", username: admin, password: password}
`
	e := newEnv(t, tmpl, map[string]any{"P0": p0})
	e.start()
	mustIPMItool(t, p0, "Chassis Power is", "power", "status")

	added := fmt.Sprintf(`
state_dir: %s/state
http: {listen: "127.0.0.1:%d"}
nodes:
  - name: n0
    ipmi: {listen: "127.0.0.1:%d", username: admin, password: password}
  - name: n1
    ipmi: {listen: "127.0.0.1:%d", username: admin, password: password}
`, e.dir, e.httpPort, p0, p1)
	if err := os.WriteFile(e.cfgPath, []byte(added), 0o600); err != nil {
		t.Fatal(err)
	}
	e.Proc.Signal(syscall.SIGHUP)
	eventually(t, 10*time.Second, "n1 serving after SIGHUP", func() bool {
		out, err := ipmitool(t, p1, "power", "status")
		return err == nil && strings.Contains(out, "Chassis Power is")
	})

	if err := os.WriteFile(e.cfgPath, []byte(added+"    bogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.Proc.Signal(syscall.SIGHUP)
	eventually(t, 10*time.Second, "the invalid config reported", func() bool {
		return len(e.logLines("reload refused")) > 0 && strings.Contains(e.logs(), "nodes[1].bogus: unknown key")
	})
	mustIPMItool(t, p0, "Chassis Power is", "power", "status")
	mustIPMItool(t, p1, "Chassis Power is", "power", "status")
}

// TestStopsWithHTTPOff: SIGTERM stops a daemon that runs no TCP server.
func TestStopsWithHTTPOff(t *testing.T) {
	requireTool(t, "ipmitool")
	port := freePort(t, "udp")
	e := newEnv(t, `
state_dir: {{.Dir}}/state
http: {listen: "off"}
nodes:
  - name: n0
    ipmi: {listen: "127.0.0.1:{{.P}}", username: admin, password: password}
`, map[string]any{"P": port})
	e.Proc = harness.Start(t, &e.Log, exec.Command(binary, "serve", "--config", e.cfgPath))
	eventually(t, 10*time.Second, "serving", func() bool {
		out, err := ipmitool(t, port, "power", "status")
		return err == nil && strings.Contains(out, "Chassis Power is")
	})
	e.stop() // fails the test unless it exits cleanly within 10 s
}
