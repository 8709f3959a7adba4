package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/pkg/console/consoletest"
	"github.com/powerjockey/powerjockey/pkg/sim"
)

// bmcConfig: a node on two outlets of a metered APC rack PDU (with a
// serial console and an inventory), a node on an APC PDU that does not
// meter, and a node with no PDU at all.
const bmcConfig = `
state_dir: {{.Dir}}/state
http: {listen: "127.0.0.1:{{.HTTP}}"}
pdus:
  - name: metered
    address: "127.0.0.1:{{.PDU1}}"
    model: apc_rpdu2
    snmp: {version: 2c, community_read: public, community_write: private}
    stagger: 100ms
  - name: plain
    address: "127.0.0.1:{{.PDU2}}"
    model: apc_rackpdu
    snmp: {version: 2c, community: private}
nodes:
  - name: dual
    ipmi: {listen: "127.0.0.1:{{.P0}}", username: admin, password: password}
    mac: "52:54:00:cc:00:01"
    wol: {target: "127.0.0.1:{{.WoL}}", interval: 200ms}
    pdu: {name: metered, outlets: [3, 4]}
    on_delay: 300ms
    max_watts: 250
    console: {tcp: "127.0.0.1:{{.Con0}}"}
    fru: {manufacturer: Dell Inc., product: PowerEdge R630, part_number: 0CNCJW, serial: CN7016, asset_tag: rack3-u12}
  - name: unmetered
    ipmi: {listen: "127.0.0.1:{{.P1}}", username: admin, password: password}
    mac: "52:54:00:cc:00:02"
    pdu: {name: plain, outlets: [1]}
  - name: manual
    ipmi: {listen: "127.0.0.1:{{.P2}}", username: admin, password: password}
    mac: "52:54:00:cc:00:03"
`

// runningWatts is the simulated draw of node dual: not a multiple of
// anything, split over its two outlets (68.5 W each, metered as 69 W).
const runningWatts = 137

type bmcEnv struct {
	*env
	ports map[string]int
	pw    string // password file, as Ironic passes it
}

func newBMCEnv(t *testing.T) *bmcEnv {
	requireTool(t, "ipmitool", "snmpget")
	ports := map[string]int{}
	for _, k := range []string{"PDU1", "PDU2", "WoL", "P0", "P1", "P2"} {
		ports[k] = freePort(t, "udp")
	}
	ports["Con0"] = freePort(t, "tcp")
	data := map[string]any{}
	for k, v := range ports {
		data[k] = v
	}
	e := newEnv(t, bmcConfig, data)
	rc, err := sim.FromConfig(loadConfig(t, e.cfgPath), sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range rc.Machines {
		if rc.Machines[i].Name == "dual" {
			rc.Machines[i].RunningWatts = runningWatts
		}
	}
	rack, err := sim.New(rc)
	if err != nil {
		t.Fatal(err)
	}
	e.runRack(rack)
	e.start()
	pw := filepath.Join(e.dir, "pw")
	if err := os.WriteFile(pw, []byte("password"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &bmcEnv{env: e, ports: ports, pw: pw}
}

// outletWatts reads what the APC PDU meters on an outlet, with net-snmp:
// rPDU2OutletMeteredStatusPower (PowerNet-MIB), independently of powerjockey.
func (b *bmcEnv) outletWatts(t *testing.T, outlet int) int {
	t.Helper()
	v := snmpget(t, "-v2c", "-c", "public", fmt.Sprintf("127.0.0.1:%d", b.ports["PDU1"]), fmt.Sprintf("1.3.6.1.4.1.318.1.1.26.9.4.3.1.7.%d", outlet))
	w, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("rPDU2OutletMeteredStatusPower.%d = %q", outlet, v)
	}
	return w
}

// freeipmi runs a freeipmi tool against a node, with an SDR cache of
// the test's own.
func (b *bmcEnv) freeipmi(t *testing.T, node, tool string, args ...string) (string, error) {
	t.Helper()
	base := []string{"-D", "LAN_2_0", "-h", fmt.Sprintf("127.0.0.1:%d", b.ports[node]), "-u", "admin", "-p", "password"}
	if tool != "bmc-info" && tool != "ipmi-dcmi" {
		cache := filepath.Join(b.dir, "sdr-cache")
		if err := os.MkdirAll(cache, 0o700); err != nil {
			t.Fatal(err)
		}
		base = append(base, "--sdr-cache-directory", cache)
	}
	return run(t, 60*time.Second, tool, append(base, args...)...)
}

// waitOn waits until the node's own reading says the machine runs (the
// PDU meters it from the moment it boots; the node reads it at most
// max_age later).
func (b *bmcEnv) waitOn(t *testing.T, node string) {
	t.Helper()
	eventually(t, 20*time.Second, node+" reads on", func() bool {
		out, _ := ipmitool(t, b.ports[node], "power", "status")
		return strings.Contains(out, "Chassis Power is on")
	})
}

// sensorList parses `ipmitool sensor list`: name -> value column.
func sensorList(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "|")
		if len(f) >= 3 {
			m[strings.TrimSpace(f[0])] = strings.TrimSpace(f[1])
		}
	}
	return m
}

func wattsOf(s string) int {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return -1
	}
	return int(f + 0.5)
}

// TestSensorsShowWhatThePDUMeters powers the dual-PSU node on and compares
// what ipmitool and freeipmi show with what the PDU meters, read with
// net-snmp.
func TestSensorsShowWhatThePDUMeters(t *testing.T) {
	requireTool(t, "ipmi-sensors", "ipmi-dcmi")
	b := newBMCEnv(t)
	p0 := b.ports["P0"]
	mustIPMItool(t, p0, "Up/On", "power", "on")
	eventually(t, 15*time.Second, "the machine runs and the PDU meters it", func() bool {
		return b.outletWatts(t, 3) > 50 && b.outletWatts(t, 4) > 50
	})
	w3, w4 := b.outletWatts(t, 3), b.outletWatts(t, 4)
	var last string
	eventually(t, 15*time.Second, fmt.Sprintf("sensor list shows the metered %d + %d W", w3, w4), func() bool {
		out, err := ipmitool(t, p0, "sensor", "list")
		last = out
		s := sensorList(out)
		return err == nil && wattsOf(s["Total Power"]) == w3+w4 && wattsOf(s["PSU1 Power"]) == w3 && wattsOf(s["PSU2 Power"]) == w4
	})
	s := sensorList(last)
	if s["Power State"] != "0x1" || s["PSU1 Status"] != "0x1" || s["PDU Access"] != "0x0" {
		t.Errorf("discrete sensors:\n%s", last)
	}
	out := mustIPMItool(t, p0, "Instantaneous power reading", "dcmi", "power", "reading")
	if !regexp.MustCompile(fmt.Sprintf(`Instantaneous power reading:\s+%d Watts`, w3+w4)).MatchString(out) ||
		!strings.Contains(out, "Power reading state is:                   activated") {
		t.Errorf("dcmi power reading, PDU meters %d W:\n%s", w3+w4, out)
	}
	out, err := b.freeipmi(t, "P0", "ipmi-sensors")
	if err != nil || !regexp.MustCompile(fmt.Sprintf(`Total Power\s+\|\s+Current\s+\|\s+%d\.00\s+\|\s+W`, w3+w4)).MatchString(out) {
		t.Errorf("ipmi-sensors (%v):\n%s", err, out)
	}
	out, err = b.freeipmi(t, "P0", "ipmi-dcmi", "--get-system-power-statistics")
	if err != nil || !regexp.MustCompile(fmt.Sprintf(`Current Power\s+: %d Watts`, w3+w4)).MatchString(out) {
		t.Errorf("ipmi-dcmi (%v):\n%s", err, out)
	}

	// Outlet 4 off behind powerjockey's back: its supply loses input, the
	// machine runs on the other.
	snmpset := exec.Command("snmpset", "-v2c", "-c", "private", fmt.Sprintf("127.0.0.1:%d", b.ports["PDU1"]), "1.3.6.1.4.1.318.1.1.26.9.2.4.1.5.4", "i", "2")
	if out, err := snmpset.CombinedOutput(); err != nil {
		t.Fatalf("snmpset: %v %s", err, out)
	}
	eventually(t, 15*time.Second, "PSU2 reports its input lost", func() bool {
		out, _ := ipmitool(t, p0, "sdr", "elist")
		return strings.Contains(out, "PSU2 Status") && regexp.MustCompile(`PSU2 Status.*Power Supply AC lost`).MatchString(out)
	})
}

// ironicSDRScript runs Ironic's own sensor-data parser over `sdr -v`.
const ironicSDRScript = `
import json, sys
import ironic.drivers.modules.ipmitool as m
class Node: uuid = "node"
data = m._parse_ipmi_sensors_data(Node(), sys.stdin.read())
print(json.dumps({group: {sid: s.get("Sensor Reading") for sid, s in sensors.items()} for group, sensors in data.items()}))
`

func requireIronic(t *testing.T) {
	t.Helper()
	requireTool(t, "/usr/bin/python3")
	if out, err := exec.Command("/usr/bin/python3", "-c", "import ironic.drivers.modules.ipmitool").CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3-ironic is required under CI: %v\n%s", err, out)
		}
		t.Skipf("python3-ironic not installed: %s", out)
	}
}

// TestIronicSensorData: Ironic's sensor collection (`ipmitool ... sdr -v`,
// its exact command line) parsed by Ironic's own code.
func TestIronicSensorData(t *testing.T) {
	requireIronic(t)
	b := newBMCEnv(t)
	mustIPMItool(t, b.ports["P0"], "Up/On", "power", "on")
	b.waitOn(t, "P0")
	for _, node := range []string{"P0", "P1", "P2"} {
		out, err := ironic(t, b.ports[node], b.pw, -1, "sdr", "-v")
		if err != nil {
			t.Fatalf("%s sdr -v: %v\n%s", node, err, out)
		}
		cmd := exec.Command("/usr/bin/python3", "-c", ironicSDRScript)
		cmd.Stdin = strings.NewReader(out)
		js, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: Ironic cannot parse sdr -v: %v\n%s\n%s", node, err, js, out)
		}
		var groups map[string]map[string]string
		if err := json.Unmarshal(js, &groups); err != nil {
			t.Fatalf("%s: %v %s", node, err, js)
		}
		if _, ok := groups["System"]["Power State (0x2)"]; !ok {
			t.Errorf("%s: no power state sensor in %v", node, groups)
		}
		total := groups["Current"]["Total Power (0x1)"]
		switch node {
		case "P0":
			if !strings.HasSuffix(total, "Watts") || strings.HasPrefix(total, "0 ") {
				t.Errorf("dual: Total Power reads %q", total)
			}
		default:
			// No meter: the reading is not invented (ipmitool prints "na"
			// or omits it; Ironic keeps sensors with a reading only).
			if strings.Contains(total, "Watts") {
				t.Errorf("%s: Total Power without a meter reads %q", node, total)
			}
		}
	}
}

// TestClientMatrix runs the everyday ipmitool and freeipmi commands
// against a metered node, an unmetered one and one without a PDU.
func TestClientMatrix(t *testing.T) {
	requireTool(t, "ipmi-sensors", "ipmi-sel", "ipmi-fru", "ipmi-dcmi", "bmc-info")
	b := newBMCEnv(t)
	mustIPMItool(t, b.ports["P0"], "Up/On", "power", "on")
	b.waitOn(t, "P0")
	type check struct {
		args  string
		wants map[string][]string // node -> strings the output must contain; nil: must fail
	}
	// The suites offered are the configuration's (the default here).
	var ids []string
	for _, id := range config.DefaultCipherSuites {
		ids = append(ids, fmt.Sprint(id))
	}
	suites := strings.Join(ids, ",") + "\n"
	all := func(s ...string) map[string][]string {
		return map[string][]string{"P0": s, "P1": s, "P2": s}
	}
	checks := []check{
		{"sdr list", map[string][]string{"P0": {"Total Power", "Watts", "PSU2 Power"}, "P1": {"Total Power      | no reading", "PSU1 Status"}, "P2": {"Total Power      | no reading", "Power State"}}},
		{"sdr elist", map[string][]string{"P0": {"S0/G0: working", "Presence detected"}, "P1": {"Power State"}, "P2": {"Power State"}}},
		{"sdr info", all("SDR Version                         : 0x51", "Reserve SDR repository supported    : yes")},
		{"sdr list all", all("Event-Only", "Power Control")},
		{"sensor list", map[string][]string{"P0": {"Total Power      | 13", "| Watts"}, "P1": {"Total Power      | na"}, "P2": {"Total Power      | na"}}},
		{"sel info", all("Version          : 1.5 (v1.5, v2 compliant)", "Supported Cmds   : 'Reserve' 'Get Alloc Info'")},
		{"sel list", map[string][]string{"P0": {"System Boot Initiated", "Initiated by power up"}, "P1": {}, "P2": {}}},
		{"sel elist", map[string][]string{"P0": {"System Boot Initiated Boot | Initiated by power up | Asserted"}, "P1": {}, "P2": {}}},
		{"fru print", map[string][]string{"P0": {"Product Manufacturer  : Dell Inc.", "Product Name          : PowerEdge R630", "Product Serial        : CN7016", "Product Asset Tag     : rack3-u12"}, "P1": {"Product Name          : unmetered"}, "P2": {"Product Name          : manual"}}},
		{"channel info", all("Channel Medium Type   : 802.3 LAN", "Access Mode         : always available")},
		{"lan print 1", all("IP Address              : 127.0.0.1", "IP Address Source       : Static Address", "RMCP+ Cipher Suites     : "+suites)},
		{"mc getenables", all("System Event Logging                     : enabled")},
		{"mc watchdog get", all("Watchdog Timer Is:      Stopped")},
		{"chassis poh", all("POH Counter")},
		{"chassis restart_cause", map[string][]string{"P0": {"System restart cause: chassis power control command"}, "P1": {"System restart cause: unknown"}, "P2": {"System restart cause: unknown"}}},
		{"dcmi discover", map[string][]string{"P0": {"Power management available", "Out-of-band primary LAN channel available"}, "P1": {"Out-of-band primary LAN channel available"}, "P2": {"Out-of-band primary LAN channel available"}}},
		{"dcmi power reading", map[string][]string{"P0": {"Instantaneous power reading", "activated"}, "P1": nil, "P2": nil}},
		{"sol info", all("Enabled                         : true")},
		{"mc info", all("Sensor Device", "SEL Device", "FRU Inventory Device")},
	}
	for _, c := range checks {
		for _, node := range []string{"P0", "P1", "P2"} {
			wants := c.wants[node]
			out, err := ipmitool(t, b.ports[node], strings.Fields(c.args)...)
			if wants == nil {
				if err == nil {
					t.Errorf("%s %s: succeeded, want a failure:\n%s", node, c.args, out)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s %s: %v\n%s", node, c.args, err, out)
				continue
			}
			for _, w := range wants {
				if !strings.Contains(out, w) {
					t.Errorf("%s %s: no %q in:\n%s", node, c.args, w, out)
				}
			}
		}
	}
	// The port in the LAN parameters is the endpoint's own.
	if out := mustIPMItool(t, b.ports["P1"], "Payload Port", "sol", "info"); !strings.Contains(out, fmt.Sprint(b.ports["P1"])) {
		t.Errorf("sol info port:\n%s", out)
	}
	// Without a meter, DCMI says the BMC has no power management.
	if out, _ := ipmitool(t, b.ports["P1"], "dcmi", "power", "reading"); !strings.Contains(out, "Invalid command") {
		t.Errorf("unmetered dcmi power reading:\n%s", out)
	}

	free := []struct {
		tool  string
		args  []string
		wants map[string][]string
	}{
		{"ipmi-sensors", nil, map[string][]string{"P0": {"Total Power", "W ", "'S0/G0'"}, "P1": {"Total Power | Current                     | N/A"}, "P2": {"Power State"}}},
		{"ipmi-sel", nil, map[string][]string{"P0": {"Boot           | System Boot Initiated       | Initiated by power up"}, "P1": {}, "P2": {}}},
		{"ipmi-sel", []string{"--info"}, map[string][]string{"P0": {"SEL version                            : 1.5"}, "P1": {"Number of log entries"}, "P2": {"Number of log entries"}}},
		{"ipmi-fru", nil, map[string][]string{"P0": {"FRU Product Name: PowerEdge R630", "FRU Product Asset Tag: rack3-u12"}, "P1": {"FRU Product Name: unmetered"}, "P2": {"FRU Product Name: manual"}}},
		{"ipmi-dcmi", []string{"--get-system-power-statistics"}, map[string][]string{"P0": {"Current Power", "Power Measurement                    : Active"}, "P1": nil, "P2": nil}},
		{"bmc-info", nil, map[string][]string{"P0": {"SDR Repository Device : supported", "SEL Device            : supported"}, "P1": {"IPMI Version          : 2.0"}, "P2": {"IPMI Version          : 2.0"}}},
	}
	for _, f := range free {
		for _, node := range []string{"P0", "P1", "P2"} {
			wants := f.wants[node]
			out, err := b.freeipmi(t, node, f.tool, f.args...)
			if wants == nil {
				if err == nil {
					t.Errorf("%s %s %v: succeeded, want a failure:\n%s", node, f.tool, f.args, out)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s %s %v: %v\n%s", node, f.tool, f.args, err, out)
				continue
			}
			for _, w := range wants {
				if !strings.Contains(out, w) {
					t.Errorf("%s %s %v: no %q in:\n%s", node, f.tool, f.args, w, out)
				}
			}
		}
	}
}

// TestSELFollowsPowerActions: the SEL is the node's event log; power
// actions appear as they happen, and a clear leaves one record saying so.
func TestSELFollowsPowerActions(t *testing.T) {
	requireTool(t, "ipmi-sel")
	b := newBMCEnv(t)
	p0 := b.ports["P0"]
	mustIPMItool(t, p0, "Up/On", "power", "on")
	eventually(t, 15*time.Second, "the power-on in the SEL", func() bool {
		out, _ := ipmitool(t, p0, "sel", "elist")
		return strings.Contains(out, "System Boot Initiated Boot | Initiated by power up | Asserted")
	})
	b.waitOn(t, "P0")
	// The machine shuts itself down behind live outlets: the meter sees it.
	b.rack.Machine("dual").Shutdown()
	eventually(t, 40*time.Second, "the self-shutdown in the SEL", func() bool {
		out, _ := ipmitool(t, p0, "sel", "elist")
		return strings.Contains(out, "System ACPI Power State Power State | S5/G2: soft-off | Asserted")
	})
	mustIPMItool(t, p0, "Down/Off", "power", "off")
	out := mustIPMItool(t, p0, "Power Unit Power Control | Power off/down | Asserted", "sel", "elist")
	if !strings.Contains(out, "Initiated by power up") {
		t.Errorf("sel elist:\n%s", out)
	}
	// ipmitool reserves the SEL and clears it.
	mustIPMItool(t, p0, "Clearing SEL", "sel", "clear")
	out = mustIPMItool(t, p0, "Log area reset/cleared", "sel", "elist")
	if n := len(strings.Split(strings.TrimSpace(out), "\n")); n != 1 {
		t.Errorf("after clear, %d records:\n%s", n, out)
	}
	// freeipmi clears too.
	if out, err := b.freeipmi(t, "P0", "ipmi-sel", "--clear"); err != nil {
		t.Fatalf("ipmi-sel --clear: %v %s", err, out)
	}
	out, err := b.freeipmi(t, "P0", "ipmi-sel")
	if err != nil || !strings.Contains(out, "Log Area Reset/Cleared") {
		t.Errorf("ipmi-sel after clear (%v):\n%s", err, out)
	}
	// SEL time is the daemon's; only "now" may be set.
	mustIPMItool(t, p0, "", "sel", "time", "get")
	if out, err := ipmitool(t, p0, "sel", "time", "set", "now"); err != nil {
		t.Errorf("sel time set now: %v %s", err, out)
	}
	// Set SEL Time to 2020-01-01 00:00:00 UTC (5E0BE100h, LS byte first).
	if out, err := ipmitool(t, p0, "raw", "0x0a", "0x49", "0x00", "0xe1", "0x0b", "0x5e"); err == nil || !strings.Contains(out, "rsp=0xcc") {
		t.Errorf("Set SEL Time to 2020 (%v):\n%s", err, out)
	}
}

// solSession is `ipmitool sol activate` on a pseudo-terminal, as a person
// at a terminal runs it.
type solSession struct {
	t    *testing.T
	ptmx *os.File
	cmd  *exec.Cmd
	out  chan []byte
	done chan error
	seen strings.Builder
}

func startSOL(t *testing.T, port int) *solSession {
	t.Helper()
	ptmx, tty := consoletest.OpenPTY(t)
	f, err := os.OpenFile(tty, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command("ipmitool", "-I", "lanplus", "-H", "127.0.0.1", "-p", fmt.Sprint(port), "-U", "admin", "-P", "password", "sol", "activate")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = f, f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &solSession{t: t, ptmx: ptmx, cmd: cmd, out: make(chan []byte, 64), done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()
	go func() {
		buf := make([]byte, 1024)
		for {
			n, err := ptmx.Read(buf)
			if n > 0 {
				s.out <- append([]byte(nil), buf[:n]...)
			}
			if err != nil {
				close(s.out)
				return
			}
		}
	}()
	t.Cleanup(func() { cmd.Process.Kill(); <-s.done; s.done <- nil })
	return s
}

// expect reads the terminal until it shows want.
func (s *solSession) expect(want string) {
	s.t.Helper()
	deadline := time.After(15 * time.Second)
	for !strings.Contains(s.seen.String(), want) {
		select {
		case b, ok := <-s.out:
			if !ok {
				s.t.Fatalf("terminal closed before %q; saw %q", want, s.seen.String())
			}
			s.seen.Write(b)
		case <-deadline:
			s.t.Fatalf("no %q on the terminal; saw %q", want, s.seen.String())
		}
	}
}

func (s *solSession) typeIn(text string) {
	s.t.Helper()
	if _, err := s.ptmx.Write([]byte(text)); err != nil {
		s.t.Fatal(err)
	}
}

// TestSerialOverLAN: ipmitool's sol activate on a pty bridges to the
// machine's serial port both ways, replays what the console printed
// before, admits one session per node, and sol deactivate ends it.
func TestSerialOverLAN(t *testing.T) {
	b := newBMCEnv(t)
	p0 := b.ports["P0"]
	// Boot before anyone watches: the console keeps the history.
	mustIPMItool(t, p0, "Up/On", "power", "on")
	time.Sleep(2 * time.Second) // on_delay 300ms, then the magic packet boots it
	s := startSOL(t, p0)
	s.expect("[SOL Session operational")
	s.expect("dual login: ")
	s.typeIn("root\r")
	s.expect("root")

	// A second session gets the spec's "already active" answer.
	out, err := ipmitool(t, p0, "sol", "activate")
	if err == nil || !strings.Contains(out, "SOL payload already active on another session") {
		t.Errorf("second sol activate (%v):\n%s", err, out)
	}
	mustIPMItool(t, p0, "Payload Channel", "sol", "info")
	// sol set: SOL's own tuning may change; the speed is the console's.
	if out, err := ipmitool(t, p0, "sol", "set", "retry-count", "5"); err != nil {
		t.Errorf("sol set retry-count: %v\n%s", err, out)
	}
	mustIPMItool(t, p0, "Retry Count                     : 5", "sol", "info")
	if out, err := ipmitool(t, p0, "sol", "set", "volatile-bit-rate", "9.6"); err == nil {
		t.Errorf("sol set volatile-bit-rate succeeded:\n%s", out)
	}
	mustIPMItool(t, p0, "Volatile Bit Rate (kbps)        : 115.2", "sol", "info")
	// Ironic's stop: sol deactivate from another session ends the
	// first. ipmitool ignores the "deactivated" status the BMC sends; it
	// learns of it when its next characters are not acknowledged.
	if out, err := ipmitool(t, p0, "sol", "deactivate"); err != nil {
		t.Errorf("sol deactivate: %v %s", err, out)
	}
	s.typeIn("x")
	select {
	case err := <-s.done:
		s.done <- err
		s.expect("SOL session closed by BMC")
	case <-time.After(30 * time.Second):
		t.Error("ipmitool sol activate still running after sol deactivate")
	}
	// Ironic accepts exit code 1 here ("already de-activated").
	out, _ = ipmitool(t, p0, "sol", "deactivate")
	if !strings.Contains(out, "SOL payload already de-activated") {
		t.Errorf("second sol deactivate:\n%s", out)
	}
	// Nodes without a console say SOL is not available.
	if out, err := ipmitool(t, b.ports["P1"], "sol", "activate"); err == nil {
		t.Errorf("sol activate without a console succeeded:\n%s", out)
	}
}

// TestIronicSocatConsole runs Ironic's ipmitool-socat console line: socat
// listening on TCP, EXEC'ing `ipmitool ... sol activate` on a pty; a TCP
// client then sees the node's console.
func TestIronicSocatConsole(t *testing.T) {
	requireTool(t, "socat")
	b := newBMCEnv(t)
	p0 := b.ports["P0"]
	mustIPMItool(t, p0, "Up/On", "power", "on")
	time.Sleep(2 * time.Second)
	// Ironic first drops any session; exit code 1 is accepted.
	ironic(t, p0, b.pw, -1, "sol", "deactivate")
	lport := freePort(t, "tcp")
	exe := fmt.Sprintf("ipmitool -I lanplus -H 127.0.0.1 -L ADMINISTRATOR -p %d -U admin -R 12 -N 5 -f %s sol activate", p0, b.pw)
	socat := exec.Command("socat", "-T600", fmt.Sprintf("TCP4-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork,max-children=1", lport),
		fmt.Sprintf("EXEC:%q,pty,stderr", exe))
	if err := socat.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { socat.Process.Kill(); socat.Wait() })
	var conn net.Conn
	eventually(t, 10*time.Second, "socat listens", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", lport))
		if err == nil {
			conn = c
		}
		return err == nil
	})
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(conn)
	var seen strings.Builder
	readUntil := func(want string) {
		t.Helper()
		for !strings.Contains(seen.String(), want) {
			b, err := r.ReadByte()
			if err != nil {
				t.Fatalf("console: %v; saw %q, want %q", err, seen.String(), want)
			}
			seen.WriteByte(b)
		}
	}
	readUntil("dual login: ")
	conn.Write([]byte("admin\r"))
	readUntil("admin")
}

// ipmiSimConfig is OpenIPMI's ipmi_sim as a plain simulated BMC: a LAN
// channel, a user, a SEL, the watchdog sensor; its example files
// (lanserv/lan.conf, ipmisim1.emu) trimmed to that.
const ipmiSimLAN = `name "pjcompare"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 %d
    priv_limit admin
    allowed_auths_callback md5
    allowed_auths_user md5
    allowed_auths_operator md5
    allowed_auths_admin md5
    guid a123456789abcdefa123456789abcdef
  endlan
  sol "telnet:127.0.0.1:%d" 115200
  user 2 true "admin" "password" admin 63 md5
`

const ipmiSimEmu = `mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
sel_enable 0x20 1000 0x0a
sensor_add 0x20 0 0 35 0x6f event-only
sensor_set_event_support 0x20 0 0 enable scanning per-state 000000000001111 000000000000000 000000000001111 000000000000000
mc_enable 0x20
`

// TestAnswersWhatIPMISimAnswers runs the command list against
// OpenIPMI's ipmi_sim and against powerjockey: every command ipmi_sim
// answers, powerjockey answers too.
func TestAnswersWhatIPMISimAnswers(t *testing.T) {
	requireTool(t, "ipmi_sim")
	dir := t.TempDir()
	simPort := freePort(t, "udp")
	lan := filepath.Join(dir, "lan.conf")
	emu := filepath.Join(dir, "sim.emu")
	os.WriteFile(lan, []byte(fmt.Sprintf(ipmiSimLAN, simPort, freePort(t, "tcp"))), 0o600)
	os.WriteFile(emu, []byte(ipmiSimEmu), 0o600)
	sim := exec.Command("ipmi_sim", "-c", lan, "-f", emu, "-s", dir, "-n")
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Process.Kill(); sim.Wait() })
	eventually(t, 10*time.Second, "ipmi_sim answers", func() bool {
		_, err := ipmitool(t, simPort, "-C", "3", "mc", "info")
		return err == nil
	})
	b := newBMCEnv(t)
	commands := []string{
		"sdr list", "sdr elist", "sdr info", "sdr -v", "sensor list", "sel info", "sel list", "sel elist",
		"fru print", "channel info", "lan print 1", "mc getenables", "mc watchdog get", "chassis poh",
		"chassis restart_cause", "dcmi discover", "dcmi power reading", "sol info", "mc info", "sel time get",
		"chassis status", "mc guid", "channel getaccess 1 2",
	}
	simAnswers := 0
	for _, c := range commands {
		// -C 3: ipmi_sim does not answer Get Channel Cipher Suites, which
		// ipmitool would otherwise wait for on every call.
		simOut, simErr := ipmitool(t, simPort, append([]string{"-C", "3"}, strings.Fields(c)...)...)
		if simErr != nil {
			t.Logf("ipmi_sim does not answer %q: %v", c, simErr)
			continue
		}
		simAnswers++
		if out, err := ipmitool(t, b.ports["P0"], append([]string{"-C", "3"}, strings.Fields(c)...)...); err != nil {
			t.Errorf("ipmi_sim answers %q, powerjockey does not: %v\n%s\nipmi_sim:\n%s", c, err, out, simOut)
		}
	}
	if simAnswers < 10 {
		t.Errorf("ipmi_sim answered only %d commands: the comparison is not meaningful", simAnswers)
	}
}

// TestSensorsOfADeadPDU: a node whose PDU does not answer gets its
// sensor answers at once, "unavailable" rather than invented, with the
// PDU Access sensor asserted; its DCMI power reading fails with an error
// completion code.
func TestSensorsOfADeadPDU(t *testing.T) {
	r := newRackEnv(t, sim.Options{})
	port := r.ports["P3"]
	ipmitool(t, port, "power", "status") // the first read finds the PDU silent
	start := time.Now()
	out, err := ipmitool(t, port, "sensor", "list")
	took := time.Since(start)
	s := sensorList(out)
	if err != nil || s["Total Power"] != "na" || s["PDU Access"] != "0x1" {
		t.Errorf("sensor list of a node behind a dead PDU (%v):\n%s", err, out)
	}
	if took > 10*time.Second {
		t.Errorf("sensor list took %v", took)
	}
	out, err = ipmitool(t, port, "dcmi", "power", "reading")
	if err == nil || !strings.Contains(out, "DCMI request failed") {
		t.Errorf("dcmi power reading behind a dead PDU (%v):\n%s", err, out)
	}
	mustIPMItool(t, port, "Sensor access degraded or unavailable", "sel", "elist")
}
