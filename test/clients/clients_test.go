// Package clients drives the real powerjockey binary with the exact command
// lines of the bare-metal tools other than Ironic: MAAS's IPMI power driver
// (freeipmi), Pacemaker's fence_ipmilan and the Prometheus IPMI exporter's
// freeipmi collectors, against a simulated rack (fence_redfish is in
// test/e2e with the Redfish tests). docs/clients.md lists each client, its
// version and its test.
//
// The tools are required under CI; without CI a test skips when its tool
// is missing.
package clients

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/sim"
	"github.com/powerjockey/powerjockey/test/harness"
	"github.com/powerjockey/powerjockey/test/testkit"
)

var binary string

func TestMain(m *testing.M) { harness.RunMain(m, "clients", &binary) }

// rackTmpl: every node of the listed names on its own outlet of a metered
// APC PDU with Wake-on-LAN, all with the same credentials, and a node
// whose user has only the User privilege.
const rackTmpl = `
state_dir: {{.Dir}}/state
http: {listen: "127.0.0.1:{{.HTTP}}"}
pdus:
  - name: rack
    address: "127.0.0.1:{{.PDU}}"
    model: apc_rpdu2
    snmp: {version: 2c, community: private}
    stagger: 0s
nodes:
{{- range .Nodes}}
  - name: {{.Name}}
    ipmi: {listen: "127.0.0.1:{{.Port}}", username: admin, password: password}
    mac: "52:54:00:dd:00:{{printf "%02x" .Outlet}}"
    wol: {target: "127.0.0.1:{{$.WoL}}", interval: 100ms}
    pdu: {name: rack, outlets: [{{.Outlet}}]}
    on_delay: 200ms
    cycle_delay: 300ms
{{- end}}
  - name: viewer
    ipmi: {listen: "127.0.0.1:{{.Viewer}}", username: viewer, password: viewer-secret, privilege: user}
`

// rack is one test's powerjockey and simulated hardware.
type rack struct {
	*harness.Env
	ports map[string]int // node name (and "Viewer") -> port
}

type rackNode struct {
	Name         string
	Port, Outlet int
}

// newRack starts powerjockey for nodes with the given names (plus
// "viewer") on a simulated rack.
func newRack(t *testing.T, names ...string) *rack {
	t.Helper()
	r := &rack{ports: map[string]int{"Viewer": testkit.FreePort(t, "udp")}}
	var nodes []rackNode
	for i, n := range names {
		r.ports[n] = testkit.FreePort(t, "udp")
		nodes = append(nodes, rackNode{n, r.ports[n], i + 1})
	}
	data := map[string]any{
		"Nodes": nodes, "Viewer": r.ports["Viewer"],
		"PDU": testkit.FreePort(t, "udp"), "WoL": testkit.FreePort(t, "udp"),
	}
	r.Env = harness.NewEnv(t, binary, rackTmpl, data)
	r.StartRack(sim.Options{})
	r.Start()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("powerjockey's log (tail):\n%s", r.Log.Tail(32<<10))
		}
	})
	return r
}

// machine is the simulated machine of a node.
func (r *rack) machine(name string) *sim.Machine { return r.Rack.Machine(name) }

// waitMachine waits until the node's machine is in state st.
func (r *rack) waitMachine(t *testing.T, name string, st sim.MachineState) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, fmt.Sprintf("%s %v", name, st), func() bool {
		return r.machine(name).State() == st
	})
}

// pjBoot is the boot override powerjockey holds for a node.
type pjBoot struct {
	Device     string `json:"device"`
	Valid      bool   `json:"valid"`
	Persistent bool   `json:"persistent"`
	UEFI       bool   `json:"uefi"`
}

func (r *rack) boot(t *testing.T, name string) pjBoot {
	t.Helper()
	var n struct {
		Boot pjBoot `json:"boot"`
	}
	body := r.HTTPGet("/api/v1/nodes/" + name)
	if err := json.Unmarshal([]byte(body), &n); err != nil {
		t.Fatalf("node %s: %v: %s", name, err, body)
	}
	return n.Boot
}

// power is the power state powerjockey reports for a node.
func (r *rack) power(t *testing.T, name string) string {
	t.Helper()
	var n struct {
		Power string `json:"power"`
	}
	body := r.HTTPGet("/api/v1/nodes/" + name)
	if err := json.Unmarshal([]byte(body), &n); err != nil {
		t.Fatalf("node %s: %v: %s", name, err, body)
	}
	return n.Power
}

// result is one run of a client tool.
type result struct {
	stdout, stderr string
	code           int // exit status; -1 if it did not run to the end
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// tool runs a client with its standard output and error apart (Python
// tools print deprecation warnings on stderr, which are noise) and
// without the CA bundle overrides python-requests would apply.
func tool(t *testing.T, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testkit.Tool(t, name), args...)
	cmd.Env = testkit.WithoutEnv(os.Environ(), "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	if err == nil {
		return res
	}
	if ee, ok := err.(*exec.ExitError); ok && ctx.Err() == nil {
		res.code = ee.ExitCode()
		return res
	}
	t.Fatalf("%s %s: %v\n%v", name, strings.Join(args, " "), err, res)
	return res
}
