package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/wol"

	"github.com/powerjockey/powerjockey/pkg/sim"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// rackConfig: a metered APC rack PDU over v2c, an Eaton ePDU over SNMPv3
// authPriv, a PDU that never answers, and nodes on them.
const rackConfig = `
state_dir: {{.Dir}}/state
http: {listen: "127.0.0.1:{{.HTTP}}"}
pdus:
  - name: rack1
    address: "127.0.0.1:{{.PDU1}}"
    model: auto
    snmp: {version: 2c, community_read: public, community_write: private}
    stagger: 200ms
  - name: rack2
    address: "127.0.0.1:{{.PDU2}}"
    model: eatonpower
    snmp:
      version: "3"
      user: pj
      auth_protocol: SHA256
      auth_passphrase: auth-pass-123
      priv_protocol: AES
      priv_passphrase: priv-pass-456
  - name: dead
    address: "127.0.0.1:{{.Dead}}"
    model: apc_rpdu2
    snmp: {version: 2c, community: private, timeout: 500ms, retries: 1}
nodes:
  - name: pdu-wol
    ipmi: {listen: "127.0.0.1:{{.P0}}", username: admin, password: password}
    mac: "52:54:00:bb:00:01"
    wol: {target: "127.0.0.1:{{.Capture}}"}
    pdu: {name: rack1, outlets: [5]}
    on_delay: 1s
  - name: dual
    ipmi: {listen: "127.0.0.1:{{.P1}}", username: admin, password: password}
    mac: "52:54:00:bb:00:02"
    wol: {target: "127.0.0.1:{{.WoL}}", interval: 200ms}
    pdu: {name: rack1, outlets: [3, 4]}
    on_delay: 500ms
  - name: v3
    ipmi: {listen: "127.0.0.1:{{.P2}}", username: admin, password: password}
    mac: "52:54:00:bb:00:03"
    wol: {target: "127.0.0.1:{{.WoL}}", interval: 200ms}
    pdu: {name: rack2, outlets: [2]}
    on_delay: 500ms
  - name: deadnode
    ipmi: {listen: "127.0.0.1:{{.P3}}", username: admin, password: password}
    mac: "52:54:00:bb:00:04"
    pdu: {name: dead, outlets: [1]}
`

type rackEnv struct {
	*env
	ports   map[string]int
	capture *net.UDPConn
}

func newRackEnv(t *testing.T, opt sim.Options) *rackEnv {
	requireTool(t, "ipmitool", "snmpget")
	ports := map[string]int{}
	for _, k := range []string{"PDU1", "PDU2", "Dead", "Capture", "WoL", "P0", "P1", "P2", "P3"} {
		ports[k] = freePort(t, "udp")
	}
	data := map[string]any{}
	for k, v := range ports {
		data[k] = v
	}
	e := newEnv(t, rackConfig, data)
	// The test's own socket is node pdu-wol's WoL target: an independent
	// look at the magic packets on the wire.
	capture, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: ports["Capture"]})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { capture.Close() })
	// Simulate everything but the capture target; the dead PDU drops
	// every request, as a PDU that lost its network does.
	rc := e.rackConfigWithout(t, opt, ports)
	rack, err := sim.New(rc)
	if err != nil {
		t.Fatal(err)
	}
	rack.PDU("dead").Agent().SetDropAll(true)
	e.runRack(rack)
	e.start()
	return &rackEnv{env: e, ports: ports, capture: capture}
}

func (e *env) rackConfigWithout(t *testing.T, opt sim.Options, ports map[string]int) sim.Config {
	t.Helper()
	cfg := loadConfig(t, e.cfgPath)
	rc, err := sim.FromConfig(cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	rc.WoLListen = []string{fmt.Sprintf("127.0.0.1:%d", ports["WoL"])}
	return rc
}

// snmpget reads one integer with net-snmp, independently of powerjockey.
func snmpget(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Only stdout is the value: on a fresh machine net-snmp also prints
	// "Created directory: /var/lib/snmp/cert_indexes" (to stderr).
	var stderr strings.Builder
	cmd := exec.CommandContext(ctx, "snmpget", append([]string{"-On", "-Oqv"}, args...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("snmpget %v: %v\n%s%s", args, err, out, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

const apcRPDU2State = "1.3.6.1.4.1.318.1.1.26.9.2.3.1.5." // 1 off, 2 on

func (r *rackEnv) apcOutlet(t *testing.T, outlet int) string {
	return snmpget(t, "-v2c", "-c", "public", fmt.Sprintf("127.0.0.1:%d", r.ports["PDU1"]), fmt.Sprintf("%s%d", apcRPDU2State, outlet))
}

func TestPowerOnSwitchesOutletAndSendsMagicPackets(t *testing.T) {
	r := newRackEnv(t, sim.Options{})
	port := r.ports["P0"]
	if got := r.apcOutlet(t, 5); got != "1" {
		t.Fatalf("outlet 5 state %s before power on, want 1 (off)", got)
	}
	packets := make(chan wol.MagicPacket, 10)
	go func() {
		buf := make([]byte, 1500)
		for {
			n, _, err := r.capture.ReadFromUDP(buf)
			if err != nil {
				return
			}
			var mp wol.MagicPacket
			if mp.UnmarshalBinary(buf[:n]) == nil {
				packets <- mp
			}
		}
	}()
	start := time.Now()
	mustIPMItool(t, port, "Chassis Power Control: Up/On", "power", "on")
	if got := r.apcOutlet(t, 5); got != "2" {
		t.Fatalf("outlet 5 state %s after power on, want 2 (on)", got)
	}
	// Default WoL: 3 packets 1 s apart, after on_delay (1 s).
	var times []time.Duration
	for len(times) < 3 {
		select {
		case mp := <-packets:
			if mp.Target.String() != "52:54:00:bb:00:01" {
				t.Fatalf("magic packet for %s", mp.Target)
			}
			times = append(times, time.Since(start))
		case <-time.After(5 * time.Second):
			t.Fatalf("got %d magic packets, want 3", len(times))
		}
	}
	if times[0] < 900*time.Millisecond || times[2]-times[0] < 1800*time.Millisecond {
		t.Errorf("packet times %v: want the first after on_delay and the rest 1 s apart", times)
	}
	mustIPMItool(t, port, "Down/Off", "power", "off")
	if got := r.apcOutlet(t, 5); got != "1" {
		t.Fatalf("outlet 5 state %s after power off, want 1", got)
	}
	mustIPMItool(t, port, "Chassis Power is off", "power", "status")
	if v := r.metric(`powerjockey_wol_packets_sent_total{node="pdu-wol"}`); v != "3" {
		t.Errorf("wol metric = %q, want 3", v)
	}
}

func TestDualPSUNode(t *testing.T) {
	r := newRackEnv(t, sim.Options{})
	port := r.ports["P1"]
	mustIPMItool(t, port, "Up/On", "power", "on")
	for _, o := range []int{3, 4} {
		if got := r.apcOutlet(t, o); got != "2" {
			t.Fatalf("outlet %d = %s, want on", o, got)
		}
	}
	eventually(t, 10*time.Second, "machine dual runs and reads on through metering", func() bool {
		out, _ := ipmitool(t, port, "power", "status")
		return r.rack.Machine("dual").State() == sim.Running && strings.Contains(out, "Chassis Power is on")
	})
	var n struct {
		Watts  float64 `json:"watts"`
		Source string  `json:"source"`
	}
	json.Unmarshal([]byte(r.httpGet("/api/v1/nodes/dual")), &n)
	if n.Source != "metering" || n.Watts < 115 || n.Watts > 125 {
		t.Errorf("dual reads %v W from %s, want ~120 W (two outlets summed) from metering", n.Watts, n.Source)
	}
	mustIPMItool(t, port, "Down/Off", "power", "off")
	for _, o := range []int{3, 4} {
		if got := r.apcOutlet(t, o); got != "1" {
			t.Fatalf("outlet %d = %s, want off", o, got)
		}
	}
}

func TestUnreachablePDUFailsPromptly(t *testing.T) {
	r := newRackEnv(t, sim.Options{})
	port := r.ports["P3"]
	start := time.Now()
	out, err := run(t, 30*time.Second, "ipmitool", "-I", "lanplus", "-H", "127.0.0.1", "-p", fmt.Sprint(port),
		"-U", "admin", "-P", "password", "-R", "12", "-N", "5", "power", "on")
	took := time.Since(start)
	if err == nil || strings.Contains(out, "Up/On") && !strings.Contains(out, "failed") {
		t.Fatalf("power on through a dead PDU succeeded:\n%s", out)
	}
	if !strings.Contains(out, "Timeout") && !strings.Contains(out, "0xc3") {
		t.Errorf("want a timeout completion code in:\n%s", out)
	}
	// timeout 500ms with 1 retry: about 1 s, never ipmitool's 60 s.
	if took < 900*time.Millisecond || took > 5*time.Second {
		t.Errorf("took %v to fail; want a few seconds", took)
	}
	if out, err := ipmitool(t, port, "power", "status"); err == nil {
		t.Errorf("power status of a node behind a dead PDU claimed an answer:\n%s", out)
	}
	if js := r.httpGet("/api/v1/nodes/deadnode"); !strings.Contains(js, `"recorded_power": "unknown"`) {
		t.Errorf("failed action changed the recorded state:\n%s", js)
	}
}

func TestSNMPv3AuthPrivPDU(t *testing.T) {
	r := newRackEnv(t, sim.Options{})
	port := r.ports["P2"]
	v3 := []string{"-v3", "-l", "authPriv", "-u", "pj", "-a", "SHA-256", "-A", "auth-pass-123", "-x", "AES", "-X", "priv-pass-456",
		fmt.Sprintf("127.0.0.1:%d", r.ports["PDU2"])}
	const eatonStatus = "1.3.6.1.4.1.534.6.6.7.6.6.1.2.0.2" // 1 on, 0 off
	if got := snmpget(t, append(v3, eatonStatus)...); got != "0" {
		t.Fatalf("status %s before power on, want 0", got)
	}
	mustIPMItool(t, port, "Up/On", "power", "on")
	if got := snmpget(t, append(v3, eatonStatus)...); got != "1" {
		t.Fatalf("status %s after power on, want 1", got)
	}
	eventually(t, 10*time.Second, "v3 node reads on", func() bool {
		out, _ := ipmitool(t, port, "power", "status")
		return strings.Contains(out, "Chassis Power is on")
	})
	mustIPMItool(t, port, "Down/Off", "power", "off")
	if got := snmpget(t, append(v3, eatonStatus)...); got != "0" {
		t.Fatalf("status %s after power off, want 0", got)
	}
}

// TestSeedWorkflow scripts the fake_pxe workflow of the seed with no manual
// step: power on for introspection, the machine shuts itself down (seen as
// off through metering while its outlet stays on), power on for deploy, it
// shuts down again after writing its image, power on at active.
func TestSeedWorkflow(t *testing.T) {
	r := newRackEnv(t, sim.Options{SelfShutdownAfter: 3 * time.Second})
	port, m := r.ports["P1"], r.rack.Machine("dual")
	waitStatus := func(state string) {
		t.Helper()
		eventually(t, 20*time.Second, "power status "+state, func() bool {
			out, _ := ipmitool(t, port, "power", "status")
			return strings.Contains(out, "Chassis Power is "+state+"\n")
		})
	}
	// Enrolled nodes start powered off.
	mustIPMItool(t, port, "Down/Off", "power", "off")
	waitStatus("off")
	for i, phase := range []string{"introspection", "deploy", "active"} {
		mustIPMItool(t, port, "Up/On", "power", "on")
		waitStatus("on")
		if phase == "active" {
			break
		}
		// The ramdisk powers the machine down; its outlets stay on.
		waitStatus("off")
		if got := r.apcOutlet(t, 3); got != "2" {
			t.Fatalf("%s: outlet switched off by someone: %s", phase, got)
		}
		if m.Boots() != i+1 {
			t.Fatalf("%s: %d boots", phase, m.Boots())
		}
		if phase == "introspection" {
			// Ironic powers the node off after introspection.
			mustIPMItool(t, port, "Down/Off", "power", "off")
			waitStatus("off")
		}
	}
	if m.Boots() != 3 || m.State() != sim.Running {
		t.Fatalf("machine booted %d times, now %v; want 3 boots and running", m.Boots(), m.State())
	}
	if lines := r.logLines("manual action needed"); len(lines) > 0 {
		t.Fatalf("the workflow needed a human:\n%s", strings.Join(lines, "\n"))
	}
}

// TestWireWithTshark looks at what powerjockey puts on the wire with an
// independent dissector: the SNMP SET to the outlet's control OID and the
// Wake-on-LAN magic packet with the node's MAC.
func TestWireWithTshark(t *testing.T) {
	requireTool(t, "tshark")
	r := newRackEnv(t, sim.Options{})
	filter := fmt.Sprintf("udp port %d or udp port %d", r.ports["PDU1"], r.ports["Capture"])
	cmd := exec.Command("tshark", "-l", "-i", "lo", "-f", filter,
		// Wireshark finds magic packets heuristically on any UDP port.
		"-d", fmt.Sprintf("udp.port==%d,snmp", r.ports["PDU1"]),
		"-T", "fields", "-e", "snmp.name", "-e", "snmp.value.int", "-e", "wol.mac", "-a", "duration:40")
	var out testkit.Log
	cmd.Stdout = &out
	var stderr testkit.Log
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	// tshark takes seconds to start; wait until it says it captures.
	eventually(t, 30*time.Second, "tshark capturing", func() bool { return strings.Contains(stderr.String(), "Capturing on") })
	time.Sleep(time.Second)
	mustIPMItool(t, r.ports["P0"], "Up/On", "power", "on")
	eventually(t, 15*time.Second, "tshark saw the SET and a magic packet", func() bool {
		s := out.String()
		return strings.Contains(s, "1.3.6.1.4.1.318.1.1.26.9.2.4.1.5.5\t1") && strings.Contains(s, "52:54:00:bb:00:01")
	})
}
