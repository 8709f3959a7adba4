package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/pkg/daemon"
	"github.com/powerjockey/powerjockey/pkg/sim"
)

// demoConfig is the built-in demo: a simulated rack on loopback. Every
// address is 127.0.0.1; ports derive from --base-port.
var demoConfig = template.Must(template.New("demo").Parse(`# powerjockey demo: a simulated rack on loopback (written by "powerjockey demo").
state_dir: {{.StateDir}}
http:
  listen: "127.0.0.1:{{.HTTP}}"
{{- if .VM}}
boot:                               # the VMs' iPXE fetches its boot script here
  listen: "127.0.0.1:{{.Boot}}"
{{- end}}
ipmi:
  v15_auth_types: [md5, password]
pdus:
  - name: rack1                     # metered APC rack PDU (rPDU2 MIB), SNMP v2c
    address: "127.0.0.1:{{.PDU1}}"
    model: auto
    outlets: 24
    snmp: {version: 2c, community: private}
    stagger: 500ms
  - name: rack2                     # Eaton ePDU over SNMPv3 authPriv
    address: "127.0.0.1:{{.PDU2}}"
    model: eatonpower
    outlets: 8
    snmp:
      version: "3"
      user: powerjockey
      auth_protocol: SHA256
      auth_passphrase: demo-auth-pass
      priv_protocol: AES
      priv_passphrase: demo-priv-pass
nodes:
{{- range .Nodes}}
  - name: {{.Name}}
    ipmi: {listen: "127.0.0.1:{{.Port}}", username: admin, password: password}
    mac: "{{.MAC}}"
    console: {tcp: "127.0.0.1:{{.ConsolePort}}"}  # the simulated machine's serial port
{{- if .WoL}}
    wol: {target: "127.0.0.1:{{$.WoL}}"}
{{- end}}
{{- if .PDU}}
    pdu: {name: {{.PDU}}, outlets: [{{.Outlets}}]}
    on_delay: 2s
{{- end}}
    cycle_delay: 2s
{{- if and $.VM (not .IsVM)}}
    boot: {script: false}           # simulated, not a VM: it fetches no script
{{- end}}
{{- end}}
`))

type demoNode struct {
	Name, MAC, PDU, Outlets string
	// ConsolePort is the machine's serial port (TCP): the simulated
	// machine's, or its QEMU VM's with --vm.
	Port, ConsolePort int
	WoL               bool
	// IsVM: with --vm, the machine is a QEMU VM.
	IsVM bool
}

// demoBootPort is the demo's boot endpoint (with --vm).
const demoBootPort = 9624

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", "[flags]", stderr)
	base := fs.Int("base-port", 6230, "first IPMI port; the demo uses 127.0.0.1 ports from here, from here+100 (serial consoles), and 9623 (HTTP), 16161-16162 (SNMP), 19999 (WoL)")
	stateDir := fs.String("state-dir", filepath.Join(os.TempDir(), "powerjockey-demo"), "where the demo keeps its config and state")
	shutdownAfter := fs.Duration("self-shutdown", 0, "make simulated machines shut themselves down this long after each boot (0: never)")
	vm := fs.Bool("vm", false, "run the machines that have power means as QEMU VMs that network-boot from the boot endpoint (127.0.0.1:9624); serial ports on 127.0.0.1 from base-port+100")
	var lf logFlags
	lf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	nodes := []demoNode{
		{Name: "compute-0", MAC: "52:54:00:00:00:01", PDU: "rack1", Outlets: "1", WoL: true},
		{Name: "compute-1", MAC: "52:54:00:00:00:02", PDU: "rack1", Outlets: "2", WoL: true},
		{Name: "compute-2", MAC: "52:54:00:00:00:03", PDU: "rack1", Outlets: "3, 4", WoL: true},
		{Name: "controller-0", MAC: "52:54:00:00:00:04", PDU: "rack2", Outlets: "1", WoL: true},
		{Name: "wol-only-0", MAC: "52:54:00:00:00:05", WoL: true},
		{Name: "manual-0", MAC: "52:54:00:00:00:06"},
	}
	for i := range nodes {
		nodes[i].Port = *base + i
		nodes[i].ConsolePort = *base + 100 + i
		// A machine with no power means at all (manual-0) stays simulated:
		// nothing would ever switch its VM on.
		nodes[i].IsVM = *vm && (nodes[i].PDU != "" || nodes[i].WoL)
	}
	if *vm {
		if err := sim.CheckVMTools(sim.VMConfig{}); err != nil {
			return fmt.Errorf("demo --vm: %w", err)
		}
	}
	if err := os.MkdirAll(*stateDir, 0o750); err != nil {
		return err
	}
	var b strings.Builder
	if err := demoConfig.Execute(&b, map[string]any{
		"StateDir": filepath.Join(*stateDir, "state"), "HTTP": 9623, "PDU1": 16161, "PDU2": 16162, "WoL": 19999, "Nodes": nodes,
		"VM": *vm, "Boot": demoBootPort,
	}); err != nil {
		return err
	}
	cfgPath := filepath.Join(*stateDir, "powerjockey.yaml")
	if err := os.WriteFile(cfgPath, []byte(b.String()), 0o600); err != nil {
		return err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rackCfg, err := sim.FromConfig(cfg, sim.Options{SelfShutdownAfter: *shutdownAfter, Logger: log.With("component", "sim")})
	if err != nil {
		return err
	}
	if *vm {
		demoVMs(rackCfg, nodes)
	}
	rack, err := sim.New(rackCfg)
	if err != nil {
		return fmt.Errorf("start the simulated rack (ports in use? try --base-port): %w", err)
	}
	rackDone := make(chan error, 1)
	go func() { rackDone <- rack.Run(ctx) }()

	d, err := daemon.New(cfg, log)
	if err != nil {
		return err
	}
	if err := d.Start(ctx); err != nil {
		d.Stop()
		return fmt.Errorf("%w (ports in use? try --base-port)", err)
	}
	defer d.Stop()

	fmt.Fprintf(stdout, `powerjockey demo: %d nodes on a simulated rack (2 SNMP PDUs, Wake-on-LAN), all on 127.0.0.1.
config: %s
page:   http://127.0.0.1:9623/

try:
  ipmitool -I lanplus -H 127.0.0.1 -p %d -U admin -P password power on
  ipmitool -I lanplus -H 127.0.0.1 -p %d -U admin -P password power status
  ipmitool -I lanplus -H 127.0.0.1 -p %d -U admin -P password chassis bootdev pxe options=persistent,efiboot
  ipmitool -I lanplus -H 127.0.0.1 -p %d -U admin -P password sensor list
  ipmitool -I lanplus -H 127.0.0.1 -p %d -U admin -P password sol activate     (~. leaves)
  snmpwalk -v2c -c private 127.0.0.1:16161 1.3.6.1.4.1.318.1.1.26.9.2.3.1.5
  curl -s http://127.0.0.1:9623/api/v1/nodes
Ctrl-C stops.
`, len(nodes), cfgPath, nodes[0].Port, nodes[0].Port, nodes[0].Port, nodes[0].Port, nodes[0].Port)
	if *vm {
		fmt.Fprintf(stdout, `
--vm: the machines on PDUs or Wake-on-LAN are QEMU VMs (SeaBIOS, iPXE, TCG) that network-boot from the
boot endpoint http://127.0.0.1:%d/boot.ipxe; without an override their script exits to the firmware.
  socat - TCP:127.0.0.1:%d     # compute-0's serial port (or: nc 127.0.0.1 %d)
  ipmitool -I lanplus -H 127.0.0.1 -p %d -U admin -P password chassis bootdev pxe    # then power on, watch the serial port
`, demoBootPort, nodes[0].ConsolePort, nodes[0].ConsolePort, nodes[0].Port)
	}
	err = serveUntilDone(ctx, d, cfgPath)
	<-rackDone
	return err
}

// runSim simulates the hardware a configuration describes, for trying a
// configuration without hardware.
func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sim", "--config FILE", stderr)
	cfgPath := fs.String("config", "", "powerjockey configuration whose PDUs and machines to simulate (all addresses on loopback)")
	shutdownAfter := fs.Duration("self-shutdown", 0, "machines shut themselves down this long after each boot (0: never)")
	var lf logFlags
	lf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" {
		fs.Usage()
		return flag.ErrHelp
	}
	log, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	rackCfg, err := sim.FromConfig(cfg, sim.Options{SelfShutdownAfter: *shutdownAfter, Logger: log})
	if err != nil {
		return err
	}
	rack, err := sim.New(rackCfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stdout, "simulating %d PDUs and %d machines; WoL on %v\n", len(rackCfg.PDUs), len(rackCfg.Machines), rack.WoLAddrs())
	start := time.Now()
	err = rack.Run(ctx)
	log.Info("simulation stopped", "ran", time.Since(start).Round(time.Second))
	return err
}

// demoVMs makes the demo's machines that have power means QEMU VMs booting
// from the demo's boot endpoint, each with its serial port on its console
// port.
func demoVMs(rc sim.Config, nodes []demoNode) {
	for i := range rc.Machines {
		for _, n := range nodes {
			if n.Name == rc.Machines[i].Name && n.IsVM {
				rc.Machines[i].VM = &sim.VMConfig{
					BootURL: fmt.Sprintf("http://127.0.0.1:%d", demoBootPort),
					Serial:  fmt.Sprintf("127.0.0.1:%d", n.ConsolePort),
				}
			}
		}
	}
}
