package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/powerjockey/powerjockey/pkg/power/pdu/pdutest"
	"github.com/powerjockey/powerjockey/pkg/sim"
)

func TestNodeNameFor(t *testing.T) {
	for _, tt := range []struct{ outlet, want string }{
		{"web01", "web01"},
		{"  Web01  ", "web01"},
		{"web01-PSU1", "web01"},
		{"web01_psu2", "web01"},
		{"db-02 (PSU 2)", "db-02"},
		{"db02 PS-A", "db02"},
		{"db02 power supply 1", "db02"},
		{"DEVICE 8:PS1:Planned", "device-8"}, // the Raritan PX3 recording's convention
		{"compute-0.lab.example.com", "compute-0.lab.example.com"},
		{"Rack A / srv 1", "rack-a-srv-1"},
		{"Outlet 3", ""},
		{"OUTLET_07", ""},
		{"outlet#12", ""},
		{"3", ""},
		{"", ""},
		{"spare", ""},
		{"Test Name", "test-name"},
		{"-", ""},
		{"été", ""},
	} {
		if got := nodeNameFor(tt.outlet); got != tt.want {
			t.Errorf("nodeNameFor(%q) = %q, want %q", tt.outlet, got, tt.want)
		}
	}
}

// skeleton is the part of discover's configuration skeleton the tests read.
type skeleton struct {
	PDUs []struct {
		Name, Address, Model string
		Outlets              int
	} `yaml:"pdus"`
	Nodes []struct {
		Name string
		PDU  struct {
			Name    string
			Outlets []int
		} `yaml:"pdu"`
	} `yaml:"nodes"`
}

func parseSkeleton(t *testing.T, out string) skeleton {
	t.Helper()
	i := strings.Index(out, "# Configuration skeleton")
	if i < 0 {
		t.Fatalf("no configuration skeleton in:\n%s", out)
	}
	var s skeleton
	if err := yaml.Unmarshal([]byte(out[i:]), &s); err != nil {
		t.Fatalf("skeleton is not YAML: %v\n%s", err, out[i:])
	}
	return s
}

const discoverSimConfig = `state_dir: {{.Dir}}/state
pdus:
  - name: rack1
    address: "127.0.0.1:{{.PDU}}"
    model: auto
    snmp: {version: 2c, community: private, timeout: 300ms, retries: 1}
nodes:
  - name: web01
    ipmi: {listen: "127.0.0.1:{{.P0}}", username: admin, password: pw}
    pdu: {name: rack1, outlets: [1]}
  - name: db01
    ipmi: {listen: "127.0.0.1:{{.P1}}", username: admin, password: pw}
    pdu: {name: rack1, outlets: [2, 3]}
  - name: web02
    ipmi: {listen: "127.0.0.1:{{.P2}}", username: admin, password: pw}
    pdu: {name: rack1, outlets: [5]}
`

// TestDiscoverSimulator reads the simulated rack (outlets named after its
// machines) into a table and a skeleton, without switching anything.
func TestDiscoverSimulator(t *testing.T) {
	dir := t.TempDir()
	data := ports(t, "PDU", "P0", "P1", "P2")
	path := writeConfig(t, dir, discoverSimConfig, data)
	rack := startRack(t, path, nil)
	rack.PDU("rack1").SetOutlet(1, true)
	sets := rack.PDU("rack1").Sets()

	addr := "127.0.0.1:" + itoa(data["PDU"].(int))
	out, errOut, code := runCmd(t, "discover", "--pdu", addr, "--community", "private", "--timeout", "300ms", "--name", "rack1")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, re := range []string{
		`(?m)^PDU 127\.0\.0\.1:\d+: model apc_rpdu2 \(detected\), sysObjectID 1\.3\.6\.1\.4\.1\.318\.1\.3\.4\.6\.1, 8 outlets$`,
		`(?m)^OUTLET +NAME +STATE +WATTS +NODE$`,
		`(?m)^1 +web01 +on +[1-9]\d* +web01$`,
		`(?m)^2 +db01-PSU1 +off +0 +db01$`,
		`(?m)^3 +db01-PSU2 +off +0 +db01$`,
		`(?m)^4 +Outlet 4 +off +0 +-$`,
		`(?m)^  # outlet 4 "Outlet 4" \(off, 0 W\): no machine name$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output does not match %s:\n%s", re, out)
		}
	}
	s := parseSkeleton(t, out)
	if len(s.PDUs) != 1 || s.PDUs[0].Name != "rack1" || s.PDUs[0].Address != addr || s.PDUs[0].Model != "apc_rpdu2" || s.PDUs[0].Outlets != 8 {
		t.Errorf("skeleton pdus = %+v", s.PDUs)
	}
	got := map[string][]int{}
	for _, n := range s.Nodes {
		if n.PDU.Name != "rack1" {
			t.Errorf("node %s on PDU %q", n.Name, n.PDU.Name)
		}
		got[n.Name] = n.PDU.Outlets
	}
	want := map[string][]int{"web01": {1}, "db01": {2, 3}, "web02": {5}}
	for name, outlets := range want {
		if !slices.Equal(got[name], outlets) {
			t.Errorf("skeleton node %s outlets %v, want %v (all: %v)", name, got[name], outlets, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("skeleton nodes %v, want %v", got, want)
	}
	if n := rack.PDU("rack1").Sets(); n != sets {
		t.Errorf("discover switched %d outlets", n-sets)
	}
}

// TestDiscoverRecording reads a real PX3's recorded walk.
func TestDiscoverRecording(t *testing.T) {
	d := pdutest.Start(t, "raritan-pdu_px3", pdutest.Options{})
	out, errOut, code := runCmd(t, "discover", "--pdu", d.Addr(), "--timeout", "500ms")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, re := range []string{
		`(?m)^PDU 127\.0\.0\.1:\d+: model raritan_pdu2 \(detected\), sysObjectID 1\.3\.6\.1\.4\.1\.13742\.6, 24 outlets$`,
		`(?m)^  Raritan PDU, MD:PX3-5493U-K2 HW:0x10 FW:4\.2\.0\.5-50274$`,
		`(?m)^1 +- +on +143 +-$`,
		`(?m)^2 +DEVICE 8:PS1:Planned +on +207 +device-8$`,
		`(?m)^24 +DEVICE 1:PS1:Installed +on +550 +device-1$`,
		`(?m)^  - name: device-8\n    pdu: \{name: pdu1, outlets: \[2\]\}$`,
		`(?m)^    model: raritan_pdu2$`,
		`(?m)^    outlets: 24$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output does not match %s:\n%s", re, out)
		}
	}
	if s := parseSkeleton(t, out); len(s.Nodes) != 8 {
		t.Errorf("skeleton has %d nodes, want the 8 named outlets", len(s.Nodes))
	}
	if n := len(d.Sets()); n != 0 {
		t.Errorf("discover wrote %d SETs", n)
	}

	// A device that is not a PDU is refused, naming its sysObjectID.
	ups := pdutest.Start(t, "cyberpower-ups", pdutest.Options{})
	out, errOut, code = runCmd(t, "discover", "--pdu", ups.Addr(), "--timeout", "500ms")
	if code != 1 || !strings.Contains(errOut, "sysObjectID 1.3.6.1.4.1.3808.1.1.3") || !strings.Contains(errOut, "a UPS") {
		t.Errorf("UPS: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

// TestDiscoverConfig compares a configuration with the simulated PDU:
// an outlet named after another node, an outlet the PDU lacks, a node
// recorded on whose outlet is off, an outlet in use by no node.
func TestDiscoverConfig(t *testing.T) {
	dir := t.TempDir()
	data := ports(t, "PDU", "P0", "P1", "P2")
	cfg := strings.Replace(discoverSimConfig, "outlets: [2, 3]", "outlets: [2, 3, 12]", 1)
	path := writeConfig(t, dir, cfg, data)
	rack := startRack(t, path, func(c *sim.Config) {
		c.PDUs[0].Outlets = 10
		c.PDUs[0].OutletNames[1] = "web02.lab"
		c.PDUs[0].OutletNames[7] = "backup01"
		for i := range c.Machines {
			if c.Machines[i].Name == "db01" {
				c.Machines[i].Outlets = []int{2, 3}
			}
		}
	})
	rack.PDU("rack1").SetOutlet(7, true)
	sets := rack.PDU("rack1").Sets()
	if err := os.MkdirAll(filepath.Join(dir, "state", "nodes"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "state", "nodes", "web02.json"), `{"power": "on"}`, 0o600)

	out, errOut, code := runCmd(t, "discover", "--config", path)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	q := regexp.QuoteMeta(path)
	for _, re := range []string{
		`(?m)^` + q + `:10:24: nodes\[0\].pdu.outlets: warning: node web01: outlet 1 of PDU rack1 is named "web02.lab", the name of node web02$`,
		`(?m)^` + q + `:13:24: nodes\[1\].pdu.outlets: warning: node db01: PDU rack1 reports no outlet 12 \(its outlets: 1-10\)$`,
		`(?m)^` + q + `:16:24: nodes\[2\].pdu.outlets: warning: node web02 is recorded on, but its outlets are off$`,
		`(?m)^` + q + `:3:5: pdus\[0\]: note: PDU rack1 outlet 7, named "backup01", is on \(0 W\) but no node uses it$`,
		`(?m)^PDU rack1 \(127\.0\.0\.1:\d+\): model apc_rpdu2, 10 outlets$`,
		`(?m)^2 +db01-PSU1 +off +0 +db01$`,
		`(?m)^7 +backup01 +on +0 +-$`,
		`(?m)^.*: 3 nodes, 1 PDU: 0 errors, 3 warnings$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output does not match %s:\n%s", re, out)
		}
	}
	if n := rack.PDU("rack1").Sets(); n != sets {
		t.Errorf("discover --config switched %d outlets", n-sets)
	}

	// A PDU that does not answer is an error.
	rack.PDU("rack1").Agent().SetDropAll(true)
	out, _, code = runCmd(t, "discover", "--config", path)
	if code != 1 || !regexp.MustCompile(`(?m)^`+q+`:3:5: pdus\[0\]: .*did not answer`).MatchString(out) {
		t.Errorf("dead PDU: exit %d\n%s", code, out)
	}
}

func TestDiscoverUsage(t *testing.T) {
	_, errOut, code := runCmd(t, "discover")
	if code != 1 || !strings.Contains(errOut, "give either --pdu or --config") {
		t.Errorf("no flags: exit %d\n%s", code, errOut)
	}
	_, errOut, code = runCmd(t, "discover", "--help")
	if code != 0 || !strings.Contains(errOut, "usage: powerjockey discover --pdu ADDRESS") {
		t.Errorf("--help: exit %d\n%s", code, errOut)
	}
}
