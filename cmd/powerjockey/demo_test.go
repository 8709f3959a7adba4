package main

import (
	"strings"
	"testing"

	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/pkg/sim"
)

// TestDemoVMConfig: with --vm the demo's configuration has the boot
// endpoint on loopback, the machines with power means become VMs whose
// serial ports are their console ports, and the manual node, which stays
// simulated, fetches no script.
func TestDemoVMConfig(t *testing.T) {
	nodes := []demoNode{
		{Name: "compute-0", MAC: "52:54:00:00:00:01", PDU: "rack1", Outlets: "1", WoL: true, Port: 6230, ConsolePort: 6330, IsVM: true},
		{Name: "wol-only-0", MAC: "52:54:00:00:00:05", WoL: true, Port: 6234, ConsolePort: 6334, IsVM: true},
		{Name: "manual-0", MAC: "52:54:00:00:00:06", Port: 6235, ConsolePort: 6335},
	}
	var b strings.Builder
	if err := demoConfig.Execute(&b, map[string]any{"StateDir": "/tmp/pj-demo-test", "HTTP": 9623, "PDU1": 16161, "PDU2": 16162,
		"WoL": 19999, "Nodes": nodes, "VM": true, "Boot": demoBootPort}); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("demo.yaml", []byte(b.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if cfg.Boot.Listen != "127.0.0.1:9624" {
		t.Errorf("boot.listen %q", cfg.Boot.Listen)
	}
	if !cfg.FetchesBootScript(cfg.Nodes[0]) || !cfg.FetchesBootScript(cfg.Nodes[1]) || cfg.FetchesBootScript(cfg.Nodes[2]) {
		t.Error("the VMs fetch their scripts, the simulated manual node does not")
	}
	rc, err := sim.FromConfig(cfg, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	demoVMs(rc, nodes)
	for _, m := range rc.Machines {
		switch {
		case m.Name == "manual-0" && m.VM != nil:
			t.Error("manual-0 became a VM")
		case m.Name != "manual-0" && (m.VM == nil || m.VM.BootURL != "http://127.0.0.1:9624" || !strings.HasPrefix(m.VM.Serial, "127.0.0.1:63")):
			t.Errorf("%s: VM %+v", m.Name, m.VM)
		}
	}
	// Without --vm there is no boot endpoint.
	b.Reset()
	if err := demoConfig.Execute(&b, map[string]any{"StateDir": "/tmp/pj-demo-test", "HTTP": 9623, "PDU1": 16161, "PDU2": 16162,
		"WoL": 19999, "Nodes": nodes, "VM": false, "Boot": demoBootPort}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "boot") {
		t.Errorf("boot keys without --vm:\n%s", b.String())
	}
}
