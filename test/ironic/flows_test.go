package ironic

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/powerjockey/powerjockey/pkg/sim"
	"github.com/powerjockey/powerjockey/test/harness"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// rackTmpl is one deployment's powerjockey: nodes named after their flow
// (prefixed per hardware type, so that both enrollments live in one
// Ironic), a metered APC PDU, a second PDU that will stop answering, and a
// node with no power means (enrolled as manual-management).
const rackTmpl = `
state_dir: {{.Dir}}/state
http: {listen: "127.0.0.1:{{.HTTP}}"}
redfish: {listen: "127.0.0.1:{{.RF}}"}
pdus:
  - name: rack
    address: "127.0.0.1:{{.PDU}}"
    model: apc_rpdu2
    snmp: {version: 2c, community: private}
    stagger: 0s
  - name: flaky
    address: "127.0.0.1:{{.Flaky}}"
    model: apc_rpdu2
    snmp: {version: 2c, community: private, timeout: 300ms, retries: 0}
    stagger: 0s
nodes:
  - name: {{.Prefix}}power
    ipmi: {listen: "127.0.0.1:{{.P0}}", username: admin, password: 'p&ss "w0rd" #1'}
    mac: "52:54:00:{{.MAC}}:00:01"
    wol: {target: "127.0.0.1:{{.WoL}}", interval: 100ms}
    pdu: {name: rack, outlets: [1]}
    on_delay: 200ms
    cycle_delay: 300ms
  - name: {{.Prefix}}selfoff
    ipmi: {listen: "127.0.0.1:{{.P1}}", username: admin, password: password}
    mac: "52:54:00:{{.MAC}}:00:02"
    wol: {target: "127.0.0.1:{{.WoL}}", interval: 100ms}
    pdu: {name: rack, outlets: [2]}
    on_delay: 200ms
  - name: {{.Prefix}}behind
    ipmi: {listen: "127.0.0.1:{{.P2}}", username: admin, password: password}
    mac: "52:54:00:{{.MAC}}:00:03"
    wol: {target: "127.0.0.1:{{.WoL}}", interval: 100ms}
    pdu: {name: rack, outlets: [3]}
    on_delay: 200ms
  - name: {{.Prefix}}deadpdu
    ipmi: {listen: "127.0.0.1:{{.P3}}", username: admin, password: password}
    mac: "52:54:00:{{.MAC}}:00:04"
    wol: {target: "127.0.0.1:{{.WoL}}", interval: 100ms}
    pdu: {name: flaky, outlets: [1]}
    on_delay: 200ms
  - name: {{.Prefix}}manual
    ipmi: {listen: "127.0.0.1:{{.P4}}", username: admin, password: password}
    mac: "52:54:00:{{.MAC}}:00:05"
  - name: {{.Prefix}}console
    ipmi: {listen: "127.0.0.1:{{.P5}}", username: admin, password: password}
    mac: "52:54:00:{{.MAC}}:00:06"
    wol: {target: "127.0.0.1:{{.WoL}}", interval: 100ms}
    pdu: {name: rack, outlets: [4]}
    on_delay: 200ms
    console: {tcp: "127.0.0.1:{{.Serial}}"}
`

// selfShutdownAfter is how long the selfoff machine runs after each boot,
// as the seed's introspection ramdisk does before powering off: long
// enough for Ironic to see it on first.
const selfShutdownAfter = 8 * time.Second

// deployment is one hardware type's powerjockey, rack and enrollment.
type deployment struct {
	hw     string // ipmi or redfish
	prefix string
	env    *harness.Env
	ports  map[string]int
	ir     *server
	// enrolled is instackenv's file as Ironic got it.
	enrolled enrollFile
}

type enrollFile struct {
	Nodes []struct {
		Name       string         `yaml:"name"`
		Driver     string         `yaml:"driver"`
		DriverInfo map[string]any `yaml:"driver_info"`
	} `yaml:"nodes"`
}

func (d *deployment) node(role string) string { return d.prefix + role }

// TestIronic enrolls what `powerjockey instackenv --format ironic` writes
// (for the ipmi and, with --redfish, the redfish hardware type) into one
// Ironic and runs every node's flow in parallel. redfish-forcesync runs the
// one flow that [conductor]force_power_state_during_sync changes, the dead
// PDU, on a second Ironic with Ironic's default (true) and its own
// deployment, alongside the others.
func TestIronic(t *testing.T) {
	ir := startIronic(t, false)
	variants := []struct {
		name, hw  string
		forceSync bool
	}{{"ipmi", "ipmi", false}, {"redfish", "redfish", false}, {"redfish-forcesync", "redfish", true}}
	// Every variant and flow at once: t.Run from goroutines is not bound
	// by -parallel (GOMAXPROCS, 2 here), and the flows mostly wait.
	var wg sync.WaitGroup
	for i, v := range variants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(v.name, func(t *testing.T) {
				flows := map[string]func(*testing.T, *deployment){"deadpdu": deadPDUFlow}
				server := ir
				if v.forceSync {
					server = startIronic(t, true)
				} else {
					maps.Copy(flows, map[string]func(*testing.T, *deployment){
						"power":   powerFlow,
						"selfoff": selfShutdownFlow,
						"behind":  behindIronicsBackFlow,
						"manual":  manualFlow,
						"wrong":   wrongEndpointFlow,
					})
					if v.hw == "redfish" {
						flows["verified"] = verifiedTLSFlow
					} else {
						flows["console"] = consoleFlow
					}
				}
				d := newDeployment(t, server, v.hw, i)
				var wg sync.WaitGroup
				for name, flow := range flows {
					wg.Add(1)
					go func() {
						defer wg.Done()
						t.Run(name, func(t *testing.T) { flow(t, d) })
					}()
				}
				wg.Wait()
			})
		}()
	}
	wg.Wait()
}

func newDeployment(t *testing.T, ir *server, hw string, i int) *deployment {
	t.Helper()
	d := &deployment{hw: hw, prefix: hw + "-", ir: ir, ports: map[string]int{"RF": testkit.FreePort(t, "tcp"), "Serial": testkit.FreePort(t, "tcp")}}
	for _, k := range []string{"PDU", "Flaky", "WoL", "P0", "P1", "P2", "P3", "P4", "P5"} {
		d.ports[k] = testkit.FreePort(t, "udp")
	}
	data := map[string]any{"Prefix": d.prefix, "MAC": fmt.Sprintf("%02x", 0xa0+i)}
	for k, v := range d.ports {
		data[k] = v
	}
	d.env = harness.NewEnv(t, binary, rackTmpl, data)
	rc := d.env.RackConfig(sim.Options{})
	for j := range rc.Machines {
		if rc.Machines[j].Name == d.node("selfoff") {
			rc.Machines[j].SelfShutdownAfter = selfShutdownAfter
		}
	}
	rack, err := sim.New(rc)
	if err != nil {
		t.Fatal(err)
	}
	d.env.RunRack(rack)
	d.env.Start()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("powerjockey's log (%s, tail):\n%s\nwhole log: %s", hw, d.env.Log.Tail(16<<10), keepLog(t, "powerjockey.log", &d.env.Log))
		}
	})
	if hw == "redfish" {
		waitRedfish(t, d.env, d.ports["RF"])
	}

	// Enroll exactly what instackenv writes.
	file := filepath.Join(d.env.Dir, "enroll-"+hw+".yaml")
	args := []string{"instackenv", "--config", d.env.CfgPath, "--format", "ironic", "-o", file}
	if hw == "redfish" {
		args = append(args, "--redfish")
	}
	if out, err := testkit.Run(t, 30*time.Second, binary, args...); err != nil {
		t.Fatalf("powerjockey %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &d.enrolled); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	want := map[string]string{d.node("power"): hw, d.node("selfoff"): hw, d.node("behind"): hw, d.node("deadpdu"): hw,
		d.node("console"): hw, d.node("manual"): "manual-management"}
	for _, n := range d.enrolled.Nodes {
		if want[n.Name] != n.Driver {
			t.Errorf("instackenv enrolls %s with driver %s, want %s", n.Name, n.Driver, want[n.Name])
		}
		delete(want, n.Name)
	}
	if len(want) > 0 {
		t.Fatalf("instackenv left out %v:\n%s", want, raw)
	}
	ir.mustBaremetal(t, "create", file)
	// Before powerjockey stops (cleanups run last first): take this
	// deployment's nodes out of Ironic, whose power sync would otherwise
	// fill its log with connection errors for the rest of the run.
	t.Cleanup(func() { d.unenroll(t) })
	return d
}

// unenroll deletes every node of the deployment from Ironic.
func (d *deployment) unenroll(t *testing.T) {
	var list struct {
		Nodes []struct {
			Name string `json:"name"`
		} `json:"nodes"`
	}
	if err := d.ir.get("/v1/nodes?fields=name", &list); err != nil {
		t.Errorf("list nodes: %v", err)
		return
	}
	args := []string{"node", "delete"}
	for _, n := range list.Nodes {
		if strings.HasPrefix(n.Name, d.prefix) {
			args = append(args, n.Name)
		}
	}
	if len(args) > 2 {
		if _, err := d.ir.baremetal(args...); err != nil {
			t.Logf("unenroll: %v", err)
		}
	}
}

// waitRedfish waits until the Redfish service answers over TLS.
func waitRedfish(t *testing.T, e *harness.Env, port int) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the daemon's own self-signed certificate
	}}
	e.Proc.WaitReady(15*time.Second, "serving Redfish", func() bool {
		resp, err := c.Get(fmt.Sprintf("https://127.0.0.1:%d/redfish/v1/", port))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// pjNode is what powerjockey's API says of a node.
type pjNode struct {
	Power string `json:"power"`
	Boot  struct {
		Device     string `json:"device"`
		Persistent bool   `json:"persistent"`
		UEFI       bool   `json:"uefi"`
	} `json:"boot"`
}

func (d *deployment) pj(t *testing.T, name string) pjNode {
	t.Helper()
	var n pjNode
	body := d.env.HTTPGet("/api/v1/nodes/" + name)
	if err := json.Unmarshal([]byte(body), &n); err != nil {
		t.Fatalf("powerjockey node %s: %v: %s", name, err, body)
	}
	return n
}

// ironicPower maps powerjockey's power to Ironic's words.
func ironicPower(p string) string { return "power " + p }

// validate checks `baremetal node validate`: power and management pass.
func (d *deployment) validate(t *testing.T, name string) {
	t.Helper()
	out := d.ir.mustBaremetal(t, "node", "validate", name, "-f", "json")
	var rows []struct {
		Interface string `json:"Interface"`
		Result    *bool  `json:"Result"`
		Reason    string `json:"Reason"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("node validate %s: %v:\n%s", name, err, out)
	}
	ok := map[string]bool{}
	for _, r := range rows {
		if r.Result != nil && *r.Result {
			ok[r.Interface] = true
		} else if r.Interface == "power" || r.Interface == "management" {
			t.Errorf("node validate %s: %s: %s", name, r.Interface, r.Reason)
		}
	}
	if !ok["power"] || !ok["management"] {
		t.Fatalf("node validate %s: power and management must pass:\n%s", name, out)
	}
}

// makeAvailable validates the node and runs manage (Ironic verifies the
// credentials by reading the power state) and provide (cleaning is off).
// With cli the client does it (`baremetal node validate|manage|provide`),
// else the test calls the same API directly: each client run costs a
// second of CPU, so the flows that are about something else skip it.
func (d *deployment) makeAvailable(t *testing.T, name string, cli bool) ironicNode {
	t.Helper()
	if cli {
		d.validate(t, name)
		d.ir.mustBaremetal(t, "node", "manage", name)
	} else {
		d.ir.validate(t, name)
		d.ir.provision(t, name, "manage")
	}
	d.ir.waitNode(t, name, 60*time.Second, "manageable", func(n ironicNode) bool {
		return n.ProvisionState == "manageable" && idle(n)
	}, nil)
	if cli {
		d.ir.mustBaremetal(t, "node", "provide", name)
	} else {
		d.ir.provision(t, name, "provide")
	}
	return d.ir.waitNode(t, name, 60*time.Second, "available", func(n ironicNode) bool {
		return n.ProvisionState == "available" && idle(n)
	}, nil)
}

// power runs `baremetal node power on|off` or `baremetal node reboot`
// (with cli; else the same request straight to the API) and waits until
// Ironic has finished it without an error.
func (d *deployment) power(t *testing.T, name, verb, want string, cli bool) ironicNode {
	t.Helper()
	switch {
	case !cli:
		target := map[string]string{"on": "power on", "off": "power off", "reboot": "rebooting"}[verb]
		d.ir.setPower(t, name, target)
	case verb == "reboot":
		d.ir.mustBaremetal(t, "node", "reboot", name)
	default:
		d.ir.mustBaremetal(t, "node", "power", verb, name)
	}
	return d.ir.waitNode(t, name, 60*time.Second, "done with "+verb, func(n ironicNode) bool {
		if n.TargetPowerState == nil && n.LastError != nil {
			t.Fatalf("%s %s failed in Ironic: %v", verb, name, n)
		}
		return n.TargetPowerState == nil && n.Reservation == nil && str(n.PowerState) == want
	}, nil)
}

// agree checks that Ironic records what powerjockey senses, and that the
// simulated machine is in the matching state.
func (d *deployment) agree(t *testing.T, name string, want sim.MachineState) {
	t.Helper()
	testkit.Eventually(t, 15*time.Second, name+": Ironic, powerjockey and the machine agree", func() bool {
		n, p := d.ir.node(t, name), d.pj(t, name)
		return str(n.PowerState) == ironicPower(p.Power) && d.env.Rack.Machine(name).State() == want
	})
}

// powerFlow: power on, off, on, reboot through Ironic, with the machine
// booting each time; then the boot device, persistent and once.
func powerFlow(t *testing.T, d *deployment) {
	name := d.node("power")
	m := d.env.Rack.Machine(name)
	step := stepTimer(t)
	d.makeAvailable(t, name, true)
	step("available")

	d.power(t, name, "on", "power on", true)
	d.agree(t, name, sim.Running)
	if m.Boots() != 1 {
		t.Fatalf("power on: %d boots, want 1", m.Boots())
	}
	step("power on")
	d.power(t, name, "off", "power off", true)
	d.agree(t, name, sim.Off)
	step("power off")
	d.power(t, name, "on", "power on", true)
	d.agree(t, name, sim.Running)
	step("power on")
	d.power(t, name, "reboot", "power on", true)
	d.agree(t, name, sim.Running)
	step("reboot")
	if m.Boots() != 3 {
		t.Fatalf("on, off, on, reboot: %d boots, want 3", m.Boots())
	}

	// Boot device: what Ironic sets is what powerjockey holds and what
	// Ironic reads back. The client for the two settings an operator
	// uses, the API for the other two combinations.
	type bootDevice struct {
		Device     string `json:"boot_device"`
		Persistent bool   `json:"persistent"`
	}
	for _, c := range []struct {
		bootDevice
		cli bool
	}{{bootDevice{"pxe", true}, true}, {bootDevice{"disk", false}, true}, {bootDevice{"pxe", false}, false}, {bootDevice{"disk", true}, false}} {
		var shown bootDevice
		if c.cli {
			args := []string{"node", "boot", "device", "set", name, c.Device}
			if c.Persistent {
				args = append(args, "--persistent")
			}
			d.ir.mustBaremetal(t, args...)
			out := d.ir.mustBaremetal(t, "node", "boot", "device", "show", name, "-f", "json")
			if err := json.Unmarshal([]byte(out), &shown); err != nil {
				t.Fatalf("boot device show: %v:\n%s", err, out)
			}
		} else {
			if err := d.ir.do("PUT", "/v1/nodes/"+name+"/management/boot_device", c.bootDevice, nil); err != nil {
				t.Fatal(err)
			}
			if err := d.ir.get("/v1/nodes/"+name+"/management/boot_device", &shown); err != nil {
				t.Fatal(err)
			}
		}
		if shown != c.bootDevice {
			t.Errorf("boot device set %+v: Ironic shows %+v", c.bootDevice, shown)
		}
		if p := d.pj(t, name); p.Boot.Device != c.Device || p.Boot.Persistent != c.Persistent {
			t.Errorf("boot device set %+v: powerjockey holds %+v", c.bootDevice, p.Boot)
		}
		step(fmt.Sprintf("boot device %+v", c.bootDevice))
	}
	var supported struct {
		Devices []string `json:"supported_boot_devices"`
	}
	if err := d.ir.get("/v1/nodes/"+name+"/management/boot_device/supported", &supported); err != nil {
		t.Fatal(err)
	}
	for _, dev := range []string{"pxe", "disk"} {
		if !slices.Contains(supported.Devices, dev) {
			t.Errorf("supported boot devices lack %s: %q", dev, supported.Devices)
		}
	}
}

// stepTimer returns a function that logs how long each step of a flow
// took (shown with -v or on a failure).
func stepTimer(t *testing.T) func(what string) {
	last := time.Now()
	return func(what string) {
		t.Logf("%s: %v", what, time.Since(last).Round(10*time.Millisecond))
		last = time.Now()
	}
}

// selfShutdownFlow: the machine powers itself off after booting (as the
// seed's introspection ramdisk does); Ironic's power sync records it.
func selfShutdownFlow(t *testing.T, d *deployment) {
	name := d.node("selfoff")
	d.makeAvailable(t, name, false)
	d.power(t, name, "on", "power on", false)
	n := d.ir.waitNode(t, name, selfShutdownAfter+30*time.Second, "synced to power off after the self-shutdown", func(n ironicNode) bool {
		return str(n.PowerState) == "power off"
	}, nil)
	if n.LastError != nil || n.Maintenance {
		t.Errorf("a self-shutdown is no failure: %v", n)
	}
	d.agree(t, name, sim.Standby)
	if len(d.ir.log.Lines("Updating recorded state to 'power off'")) == 0 {
		t.Errorf("Ironic's power sync did not log the adopted state")
	}
}

// behindIronicsBackFlow: the operator powers the node on with powerjockey's
// CLI, then its outlet is switched off at the PDU; Ironic's power sync
// records both.
func behindIronicsBackFlow(t *testing.T, d *deployment) {
	name := d.node("behind")
	d.makeAvailable(t, name, false)
	if n := d.ir.node(t, name); str(n.PowerState) != "power off" {
		t.Fatalf("before: %v", n)
	}
	if out, err := testkit.Run(t, 60*time.Second, binary, "power", name, "on", "--config", d.env.CfgPath); err != nil {
		t.Fatalf("powerjockey power %s on: %v\n%s", name, err, out)
	}
	d.ir.waitNode(t, name, 30*time.Second, "synced to power on", func(n ironicNode) bool {
		return str(n.PowerState) == "power on"
	}, nil)
	d.agree(t, name, sim.Running)

	d.env.Rack.PDU("rack").SetOutlet(3, false)
	n := d.ir.waitNode(t, name, 30*time.Second, "synced to power off", func(n ironicNode) bool {
		return str(n.PowerState) == "power off"
	}, nil)
	if n.LastError != nil || n.Maintenance {
		t.Errorf("a change behind Ironic's back is no failure: %v", n)
	}
	d.agree(t, name, sim.Off)
}

// deadPDUFlow: the node's PDU stops answering while the machine runs.
// Ironic's power off fails with last_error set; its power sync never
// records the machine as off; and once the PDU answers again Ironic
// records it on, without switching anything.
func deadPDUFlow(t *testing.T, d *deployment) {
	name := d.node("deadpdu")
	m := d.env.Rack.Machine(name)
	d.makeAvailable(t, name, false)
	d.power(t, name, "on", "power on", false)
	d.agree(t, name, sim.Running)
	boots := m.Boots()

	agent := d.env.Rack.PDU("flaky").Agent()
	agent.SetDropAll(true)
	never := func(n ironicNode) {
		if str(n.PowerState) == "power off" {
			t.Fatalf("Ironic recorded a running machine as off: %v", n)
		}
	}
	d.ir.setPower(t, name, "power off")
	n := d.ir.waitNode(t, name, 90*time.Second, "failed power off", func(n ironicNode) bool {
		return n.TargetPowerState == nil && n.Reservation == nil && n.LastError != nil
	}, never)
	if !strings.Contains(*n.LastError, "power off") {
		t.Errorf("last_error does not name the failed action: %s", *n.LastError)
	}
	t.Logf("after the failed power off: %v", n)
	if st := m.State(); st != sim.Running {
		t.Fatalf("the machine is %v: the failed power off must not have switched anything", st)
	}

	// Powerjockey answers with its last reading while it is recent, then
	// admits it does not know. Ironic's sync then records no power state:
	// unknown, not off.
	switch {
	case d.hw == "ipmi":
		// ipmitool fails; after its retries Ironic sets maintenance.
		n = d.ir.waitNode(t, name, 90*time.Second, "in maintenance after failed syncs", func(n ironicNode) bool {
			return n.Maintenance && n.PowerState == nil
		}, never)
		if !strings.Contains(str(n.MaintenanceReason), "max retries exceeded") || str(n.Fault) != "power failure" {
			t.Errorf("maintenance reason or fault: %v", n)
		}
	case !d.ir.forceSync:
		// PowerState null: sushy and Ironic read "no power state", which
		// the sync adopts.
		n = d.ir.waitNode(t, name, 90*time.Second, "recorded with no power state", func(n ironicNode) bool {
			return n.PowerState == nil
		}, never)
	default:
		n = forcedSyncOnDeadPDU(t, d, name, never)
	}
	t.Logf("with the PDU silent: %v", n)
	if st, b := m.State(), m.Boots(); st != sim.Running || b != boots {
		t.Fatalf("with the PDU silent the machine is %v after %d boots (%d before): nothing may have been switched", st, b, boots)
	}

	agent.SetDropAll(false)
	n = d.ir.waitNode(t, name, 60*time.Second, "power on again once the PDU answers", func(n ironicNode) bool {
		return str(n.PowerState) == "power on" && !n.Maintenance
	}, never)
	if n.Fault != nil {
		t.Errorf("fault not cleared: %v", n)
	}
	t.Logf("once the PDU answers: %v", n)
	d.agree(t, name, sim.Running)
	if b := m.Boots(); b != boots {
		t.Errorf("the machine booted %d times after the PDU came back: Ironic's recovery must only read the state", b-boots)
	}
}

// forcedSyncOnDeadPDU is the dead PDU under Ironic's default,
// force_power_state_during_sync = true. The sync reads no power state
// (PowerState null) where it recorded "power on", so it powers the node
// on to match: powerjockey's Reset On fails, the PDU being silent; after
// power_state_sync_max_retries of these Ironic puts the node into
// maintenance with fault "power failure" and no power state. Its power
// failure recovery then reads the state again, and since sushy's "no power
// state" is no error it takes the node out of maintenance at once, still
// with no power state; last_error keeps the reason. The maintenance may
// last less than one listing, so it is checked in the node's history and
// Ironic's log, where each step is written.
func forcedSyncOnDeadPDU(t *testing.T, d *deployment, name string, never func(ironicNode)) ironicNode {
	t.Helper()
	var sawMaintenance bool
	n := d.ir.waitNode(t, name, 90*time.Second, "back out of maintenance with no power state after the forced syncs failed", func(n ironicNode) bool {
		return !n.Maintenance && n.PowerState == nil && strings.Contains(str(n.LastError), "max retries exceeded")
	}, func(n ironicNode) {
		never(n)
		if n.Maintenance {
			sawMaintenance = true
			if str(n.Fault) != "power failure" || n.PowerState != nil {
				t.Errorf("in maintenance: %v", n)
			}
		}
	})
	var tries, maintenance int
	for _, e := range d.ir.history(t, name) {
		switch {
		case strings.Contains(e.Event, "Failed to change power state to 'power on' by 'power on'"):
			if tries == 0 {
				t.Logf("the first forced power on: %s", e.Event)
			}
			tries++
		case strings.Contains(e.Event, "max retries exceeded") && strings.Contains(e.Event, "Switching node to maintenance mode"):
			maintenance++
		}
	}
	if tries == 0 || maintenance != 1 {
		t.Errorf("node history: %d failed forced power on(s), %d maintenance entries; want some and 1:\n%v", tries, maintenance, d.ir.history(t, name))
	}
	var recovered bool
	for _, l := range d.ir.log.Lines(n.UUID) {
		// Only nodes in maintenance with fault "power failure" are
		// looked at by the recovery.
		recovered = recovered || strings.Contains(l, "is recovered from power failure with actual power state 'None'")
	}
	if !recovered {
		t.Errorf("Ironic did not log the recovery with no power state")
	}
	t.Logf("forced syncs: %d failed power on(s), then maintenance (seen in a listing: %v), then recovery with no power state", tries, sawMaintenance)
	return n
}

// manualFlow: a node with no power means is enrolled as manual-management
// and becomes available like any other.
func manualFlow(t *testing.T, d *deployment) {
	name := d.node("manual")
	n := d.makeAvailable(t, name, false)
	if n.Driver != "manual-management" {
		t.Fatalf("driver %s", n.Driver)
	}
}

// verifiedTLSFlow: a Redfish node whose certificate Ironic verifies
// against powerjockey's generated CA (state_dir/redfish/ca.crt, copied to
// the Ironic host as docs/operations.md says) instead of instackenv's
// redfish_verify_ca: false passes verification.
func verifiedTLSFlow(t *testing.T, d *deployment) {
	var info map[string]any
	for _, n := range d.enrolled.Nodes {
		if n.Name == d.node("behind") {
			info = maps.Clone(n.DriverInfo)
		}
	}
	info["redfish_verify_ca"] = filepath.Join(d.env.Dir, "state", "redfish", "ca.crt")
	name := d.prefix + "verified"
	if err := d.ir.do("POST", "/v1/nodes", map[string]any{"name": name, "driver": d.hw, "driver_info": info}, nil); err != nil {
		t.Fatal(err)
	}
	d.ir.validate(t, name)
	d.ir.provision(t, name, "manage")
	n := d.ir.waitNode(t, name, 60*time.Second, "manageable over verified TLS", func(n ironicNode) bool {
		return idle(n) && (n.ProvisionState == "manageable" || n.LastError != nil)
	}, nil)
	if n.ProvisionState != "manageable" || n.PowerState == nil {
		t.Fatalf("verification with the CA failed: %v", n)
	}
}

// wrongEndpointFlow: a node enrolled (through the API, as `baremetal node
// create` does) with a wrong endpoint or password passes validation
// (Ironic checks the fields there, it contacts nothing) but fails manage,
// Ironic's verification, with an error that names the problem, and stays
// in enroll.
func wrongEndpointFlow(t *testing.T, d *deployment) {
	var good map[string]any
	for _, n := range d.enrolled.Nodes {
		if n.Name == d.node("behind") {
			good = n.DriverInfo
		}
	}
	type variant struct {
		name      string
		change    map[string]any
		wantError string
	}
	var variants []variant
	switch d.hw {
	case "ipmi":
		variants = []variant{
			{"noport", map[string]any{"ipmi_port": testkit.FreePort(t, "udp")}, "IPMI call failed: power status"},
			{"badpass", map[string]any{"ipmi_password": "not-the-password"}, "IPMI call failed: power status"},
		}
	case "redfish":
		variants = []variant{
			{"nosystem", map[string]any{"redfish_system_id": "/redfish/v1/Systems/no-such-node"}, "/redfish/v1/Systems/no-such-node not found"},
			{"badpass", map[string]any{"redfish_password": "not-the-password"}, "401"},
			// Verification against the system's CAs, which do not know
			// powerjockey's generated CA.
			{"untrusted", map[string]any{"redfish_verify_ca": "true"}, "certificate verify failed"},
		}
	}
	var wg sync.WaitGroup
	for _, v := range variants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(v.name, func(t *testing.T) { wrongEndpoint(t, d, good, v.name, v.change, v.wantError) })
		}()
	}
	wg.Wait()
}

// wrongEndpoint enrolls a copy of good with change applied and expects
// Ironic's verification to fail with wantError.
func wrongEndpoint(t *testing.T, d *deployment, good map[string]any, variant string, change map[string]any, wantError string) {
	name := d.prefix + "wrong-" + variant
	info := map[string]any{}
	for k, val := range good {
		if c, ok := change[k]; ok {
			val = c
		}
		info[k] = val
	}
	node := map[string]any{"name": name, "driver": d.hw, "driver_info": info}
	if err := d.ir.do("POST", "/v1/nodes", node, nil); err != nil {
		t.Fatal(err)
	}
	d.ir.validate(t, name)
	d.ir.provision(t, name, "manage")
	n := d.ir.waitNode(t, name, 90*time.Second, "back in enroll after the failed verification", func(n ironicNode) bool {
		return n.ProvisionState == "enroll" && idle(n) && n.LastError != nil
	}, nil)
	if !strings.Contains(*n.LastError, wantError) {
		t.Errorf("last_error %q lacks %q", *n.LastError, wantError)
	}
	if n.PowerState != nil {
		t.Errorf("a node never reached has a power state: %v", n)
	}
	if variant == "badpass" {
		// An abandoned handshake is known for one only after a while.
		// The audit line each face writes for a refused login.
		line := map[string]string{"ipmi": "login refused", "redfish": "redfish authentication failed"}[d.hw]
		testkit.Eventually(t, 30*time.Second, "powerjockey logs the refused login", func() bool {
			return len(d.env.Log.Lines(line)) > 0
		})
	}
}
