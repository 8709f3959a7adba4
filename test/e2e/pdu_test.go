package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/powerjockey/powerjockey/pkg/power/pdu/pdutest"
	"github.com/powerjockey/powerjockey/pkg/sim"
)

// These tests serve recorded walks of a real APC NetShelter Advanced PDU
// (APDU10150SM, CPDU-MIB; pkg/power/pdu/pdutest) to the real binary,
// driven by ipmitool, curl and the CLI.

// setProofConfig: one node on a PDU that answers every switch with
// noSuchInstance and performs none, one on a PDU that acknowledges and
// performs none, one on a PDU that works.
const setProofConfig = `
state_dir: {{.Dir}}/state
http: {listen: "127.0.0.1:{{.HTTP}}"}
redfish: {listen: "127.0.0.1:{{.RF}}"}
pdus:
  - name: nosuch
    address: "{{.NoSuch}}"
    model: auto
    snmp: {version: 2c, community_read: public, community_write: private}
  - name: stuck
    address: "{{.Stuck}}"
    model: apc_cpdu
    snmp: {version: 2c, community_read: public, community_write: private}
    verify_timeout: 1s
  - name: good
    address: "{{.Good}}"
    model: auto
    snmp: {version: 2c, community_read: public, community_write: private}
nodes:
  - name: nosuch-0
    ipmi: {listen: "127.0.0.1:{{.P0}}", username: admin, password: password}
    pdu: {name: nosuch, outlets: [2]}
    fallback: error
  - name: stuck-0
    ipmi: {listen: "127.0.0.1:{{.P1}}", username: admin, password: password}
    pdu: {name: stuck, outlets: [2]}
    fallback: error
  - name: good-0
    ipmi: {listen: "127.0.0.1:{{.P2}}", username: admin, password: password}
    pdu: {name: good, outlets: [2]}
    fallback: error
`

// startRecorded serves the APC recording with opt, outlet 2 switched off
// (it draws 57 W when on, by the recording).
func startRecorded(t *testing.T, opt pdutest.Options) *pdutest.Device {
	t.Helper()
	d := pdutest.Start(t, "apc-cpdu", opt)
	d.SetStatus(2, d.Family.StatusOff)
	return d
}

func TestSETProvesItselfIPMIAndRedfish(t *testing.T) {
	requireTool(t, "ipmitool", "curl")
	noSuchInstance := func(int) pdutest.Variable { return pdutest.Variable{Type: gosnmp.NoSuchInstance} }
	nosuch := startRecorded(t, pdutest.Options{Ignore: true, Answer: noSuchInstance})
	stuck := startRecorded(t, pdutest.Options{Ignore: true})
	good := startRecorded(t, pdutest.Options{})
	data := map[string]any{"NoSuch": nosuch.Addr(), "Stuck": stuck.Addr(), "Good": good.Addr(), "RF": freePort(t, "tcp")}
	for _, k := range []string{"P0", "P1", "P2"} {
		data[k] = freePort(t, "udp")
	}
	e := newEnv(t, setProofConfig, data)
	e.start()
	control := nosuch.Family.Control(2) // 1.3.6.1.4.1.318.1.1.32.5.5.1.4.1.2
	status := stuck.Family.Status(2)    // 1.3.6.1.4.1.318.1.1.32.5.4.1.4.1.2

	// The agent answers the SET with noSuchInstance (error-status 0).
	mustIPMItool(t, data["P0"].(int), "Chassis Power is off", "power", "status")
	out, err := ipmitool(t, data["P0"].(int), "power", "on")
	if err == nil || !strings.Contains(out, "Unspecified error") {
		t.Errorf("power on answered noSuchInstance: err=%v\n%s", err, out)
	}
	mustIPMItool(t, data["P0"].(int), "Chassis Power is off", "power", "status")
	if lines := e.logLines(control); len(lines) == 0 || !strings.Contains(strings.Join(lines, "\n"), "NoSuchInstance") {
		t.Errorf("no log line names %s and the exception:\n%s", control, e.logs())
	}

	// The agent acknowledges, the outlet never switches.
	start := time.Now()
	out, err = ipmitool(t, data["P1"].(int), "power", "on")
	if err == nil || !strings.Contains(out, "Unspecified error") {
		t.Errorf("power on not performed: err=%v\n%s", err, out)
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("failed after %v, before verify_timeout (1s)", took)
	}
	if lines := e.logLines("outlet did not switch"); len(lines) == 0 || !strings.Contains(lines[0], status) {
		t.Errorf("no log line names the status OID %s:\n%s", status, e.logs())
	}

	// Redfish answers the same failure with a 5xx and a message.
	r := &redfishEnv{env: e, url: fmt.Sprintf("https://127.0.0.1:%d", data["RF"].(int)), ca: filepath.Join(e.dir, "state", "redfish", "tls.crt")}
	r.waitRedfish()
	code, _, body := r.curl("/redfish/v1/Systems/nosuch-0/Actions/ComputerSystem.Reset", "-u", "admin:password",
		"-X", "POST", "-H", "Content-Type: application/json", "--data-binary", `{"ResetType": "On"}`)
	if code < 500 || !strings.Contains(body, "not switched") {
		t.Errorf("Redfish reset On: %d\n%s", code, body)
	}

	// The PDU that works: on, read back, metered on; a second on switches
	// nothing.
	mustIPMItool(t, data["P2"].(int), "Up/On", "power", "on")
	if sets := good.Sets(); len(sets) != 1 || sets[0].OID != good.Family.Control(2) || sets[0].Value != good.Family.On {
		t.Errorf("SETs = %+v, want one %s = %d", sets, good.Family.Control(2), good.Family.On)
	}
	mustIPMItool(t, data["P2"].(int), "Chassis Power is on", "power", "status")
	mustIPMItool(t, data["P2"].(int), "Up/On", "power", "on")
	if n := len(good.Sets()); n != 1 {
		t.Errorf("a power on of a node that is on sent %d SETs in all, want 1", n)
	}
	// One SET per request (IPMI and Redfish on nosuch-0, IPMI on stuck-0):
	// a failed switch is not retried behind the client's back.
	if a, b := len(nosuch.Sets()), len(stuck.Sets()); a != 2 || b != 1 {
		t.Errorf("%d and %d SETs reached the failing PDUs, want 2 and 1", a, b)
	}
}

// TestRefusedPDUStopsStart: serve and check --probe refuse a UPS
// configured as model auto, naming its sysObjectID.
func TestRefusedPDUStopsStart(t *testing.T) {
	ups := pdutest.Start(t, "cyberpower-ups", pdutest.Options{})
	data := map[string]any{"UPS": ups.Addr(), "P0": freePort(t, "udp")}
	e := newEnv(t, `
state_dir: {{.Dir}}/state
http: {listen: "127.0.0.1:{{.HTTP}}"}
pdus:
  - name: ups
    address: "{{.UPS}}"
    model: auto
    snmp: {version: 2c, community: public}
nodes:
  - name: n0
    ipmi: {listen: "127.0.0.1:{{.P0}}", username: admin, password: password}
    pdu: {name: ups, outlets: [1]}
`, data)
	out, err := run(t, 30*time.Second, binary, "serve", "--config", e.cfgPath)
	if err == nil || !strings.Contains(out, "sysObjectID 1.3.6.1.4.1.3808.1.1.3") || !strings.Contains(out, "a UPS") ||
		!strings.Contains(out, "closest rows: cyberpower") {
		t.Errorf("serve: err=%v\n%s", err, out)
	}
	out, err = run(t, 30*time.Second, binary, "check", "--config", e.cfgPath, "--probe")
	if err == nil || !strings.Contains(out, "pdus[0].model: sysObjectID 1.3.6.1.4.1.3808.1.1.3") && !strings.Contains(out, "pdu ups: sysObjectID 1.3.6.1.4.1.3808.1.1.3") {
		t.Errorf("check --probe: err=%v\n%s", err, out)
	}
}

// TestDiscoverBinary runs `powerjockey discover` against a recording and
// the simulator.
func TestDiscoverBinary(t *testing.T) {
	d := pdutest.Start(t, "apc-cpdu", pdutest.Options{})
	out, err := run(t, 30*time.Second, binary, "discover", "--pdu", d.Addr(), "--timeout", "1s")
	if err != nil || !strings.Contains(out, "model apc_cpdu (detected), sysObjectID 1.3.6.1.4.1.318.1.1.32.1, 64 outlets") ||
		!strings.Contains(out, "- name: test-name\n    pdu: {name: pdu1, outlets: [1]}") {
		t.Errorf("discover --pdu (recording): %v\n%s", err, out)
	}
	if n := len(d.Sets()); n != 0 {
		t.Errorf("discover wrote %d SETs", n)
	}

	requireTool(t, "ipmitool")
	re := newRackEnv(t, sim.Options{})
	out, err = run(t, 30*time.Second, binary, "discover", "--config", re.cfgPath)
	// The dead PDU of the rack is an error; the others are read.
	if err == nil || !strings.Contains(out, "PDU rack1 (") || !strings.Contains(out, "PDU rack2 (") || !strings.Contains(out, "pdus[2]") {
		t.Errorf("discover --config (simulator): %v\n%s", err, out)
	}
}
