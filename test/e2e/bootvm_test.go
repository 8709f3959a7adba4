package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/sim"
	"github.com/powerjockey/powerjockey/test/harness"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// vmRack: three machines that are QEMU VMs on the outlets of a simulated
// PDU, woken by magic packets, network-booting from the daemon's boot
// endpoint; a test upstream network boot the PXE override chains.
const vmRack = `
state_dir: {{.Dir}}/state
http: {listen: "127.0.0.1:{{.HTTP}}"}
redfish: {listen: "127.0.0.1:{{.RF}}"}
boot:
  listen: "127.0.0.1:{{.Boot}}"
  upstream: "http://{{.VMHost}}:{{.Up}}/upstream.ipxe"
pdus:
  - name: rack1
    address: "127.0.0.1:{{.PDU}}"
    model: apc_rpdu2
    snmp: {version: 2c, community: private}
    stagger: 0s
nodes:
{{- range $i, $n := .Nodes}}
  - name: {{$n}}
    ipmi: {listen: "127.0.0.1:{{index $.IPMI $i}}", username: admin, password: password}
    mac: "52:54:00:e2:00:0{{$i}}"
    wol: {target: "127.0.0.1:{{$.WoL}}", repeat: 1}
    pdu: {name: rack1, outlets: [{{index $.Outlets $i}}]}
    on_delay: 100ms
    cycle_delay: 500ms
{{- end}}
`

// vmMarkers are what the boot images print on the serial port.
const (
	upstreamMarker = "PJ-E2E-UPSTREAM-NETWORK-BOOT"
	isoMarker      = "PJ-E2E-ISO-BOOTED"
	diskMarker     = "PJ-E2E-DISK-BOOTED"
)

// bootSector is a 512-byte x86 boot sector that prints text through the
// BIOS (int 10h, which SeaBIOS copies to the serial port) and halts: the
// first sector of the test disk, and the El Torito image of the test ISO.
func bootSector(text string) []byte {
	code := []byte{
		0x31, 0xc0, // xor ax, ax
		0x8e, 0xd8, // mov ds, ax
		0xbe, 0x18, 0x7c, // mov si, 0x7c18 (the text)
		0xac,       // lodsb
		0x08, 0xc0, // or al, al
		0x74, 0x09, // jz halt
		0xb4, 0x0e, // mov ah, 0x0e (teletype output)
		0xbb, 0x07, 0x00, // mov bx, 7
		0xcd, 0x10, // int 0x10
		0xeb, 0xf2, // jmp lodsb
		0xf4,       // halt: hlt
		0xeb, 0xfd, // jmp halt
	}
	b := append(code, []byte(text+"\r\n\x00")...)
	b = append(b, make([]byte, 510-len(b))...)
	return append(b, 0x55, 0xaa)
}

// testISO builds a small bootable ISO (El Torito, no emulation) whose boot
// image prints isoMarker.
func testISO(t *testing.T) string {
	t.Helper()
	requireTool(t, "xorriso")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	if err := os.MkdirAll(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	// Four 512-byte sectors, as -boot-load-size 4 loads.
	img := append(bootSector(isoMarker), make([]byte, 1536)...)
	if err := os.WriteFile(filepath.Join(tree, "boot.bin"), img, 0o644); err != nil {
		t.Fatal(err)
	}
	iso := filepath.Join(dir, "test.iso")
	out, err := exec.Command("xorriso", "-as", "mkisofs", "-quiet", "-b", "boot.bin", "-no-emul-boot",
		"-boot-load-size", "4", "-o", iso, tree).CombinedOutput()
	if err != nil {
		t.Fatalf("xorriso: %v\n%s", err, out)
	}
	return iso
}

// vmEnv is the daemon with its boot endpoint and a rack of VMs.
type vmEnv struct {
	*redfishEnv
	nodes []string
	ipmi  []int
}

func newVMEnv(t *testing.T, nodes []string, disk string) *vmEnv {
	t.Helper()
	harness.RequireVMs(t, false)
	requireTool(t, "ipmitool")
	// The upstream network boot: a script that prints a marker.
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "#!ipxe\necho %s\n", upstreamMarker)
	}))
	t.Cleanup(up.Close)
	upPort := up.Listener.Addr().(*net.TCPAddr).Port

	ports := map[string]int{"RF": freePort(t, "tcp"), "Boot": freePort(t, "tcp"), "PDU": freePort(t, "udp"), "WoL": freePort(t, "udp")}
	ipmiPorts, outlets := make([]int, len(nodes)), make([]int, len(nodes))
	for i := range nodes {
		ipmiPorts[i], outlets[i] = freePort(t, "udp"), i+1
	}
	data := map[string]any{"Nodes": nodes, "IPMI": ipmiPorts, "Outlets": outlets, "VMHost": sim.VMHostAddr, "Up": upPort}
	for k, v := range ports {
		data[k] = v
	}
	e := newEnv(t, vmRack, data)
	rc, err := sim.FromConfig(loadConfig(t, e.cfgPath), sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range rc.Machines {
		rc.Machines[i].VM = &sim.VMConfig{BootURL: fmt.Sprintf("http://127.0.0.1:%d", ports["Boot"]),
			Forward: []int{upPort}, MemoryMiB: 32, Disk: disk}
	}
	rack, err := sim.New(rc)
	if err != nil {
		t.Fatal(err)
	}
	e.runRack(rack)
	e.start()
	r := &redfishEnv{env: e, ports: ports, url: fmt.Sprintf("https://127.0.0.1:%d", ports["RF"]),
		ca: filepath.Join(e.dir, "state", "redfish", "ca.crt")}
	r.waitRedfish()
	return &vmEnv{redfishEnv: r, nodes: nodes, ipmi: ipmiPorts}
}

// serial waits (at most a minute: a TCG boot takes seconds) for text on
// the named machine's serial port after position from, and returns the
// position after it.
func (v *vmEnv) serial(name string, from int64, text string) int64 {
	v.t.Helper()
	m := v.rack.Machine(name)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pos, err := m.SerialLog().Wait(ctx, from, text)
	if err != nil {
		v.t.Fatalf("%s: %v\nserial port:\n%s\ndaemon log:\n%s", name, err, m.SerialLog().Since(from), v.logs())
	}
	return pos
}

func (v *vmEnv) port(name string) int {
	for i, n := range v.nodes {
		if n == name {
			return v.ipmi[i]
		}
	}
	v.t.Fatalf("no node %s", name)
	return 0
}

// TestVMObeysPXEOnceThenDefault: "chassis bootdev pxe" (next boot only)
// then "power on" through ipmitool: the VM fetches its script, which
// chains the upstream network boot (its marker on the serial port); a
// power cycle boots it again with the override used up, and the default
// (exit to the firmware, which goes on to its disk) applies. Power off
// through the PDU kills the VM.
func TestVMObeysPXEOnceThenDefault(t *testing.T) {
	t.Parallel()
	v := newVMEnv(t, []string{"pxe-0"}, "")
	p := v.port("pxe-0")
	m := v.rack.Machine("pxe-0")
	mustIPMItool(t, p, "Set Boot Device to pxe", "chassis", "bootdev", "pxe")
	start := time.Now()
	mustIPMItool(t, p, "Up/On", "power", "on")
	pos := v.serial("pxe-0", 0, "powerjockey: pxe-0: network boot")
	pos = v.serial("pxe-0", pos, upstreamMarker)
	t.Logf("power on to the upstream's marker: %v", time.Since(start).Round(100*time.Millisecond))
	// Used up by the fetch, as IPMI shows.
	if out := mustIPMItool(t, p, "Boot Flag", "chassis", "bootparam", "get", "5"); !strings.Contains(out, "Boot Flag Invalid") {
		t.Errorf("after the fetch, boot flags:\n%s", out)
	}
	start = time.Now()
	mustIPMItool(t, p, "Cycle", "power", "cycle")
	pos = v.serial("pxe-0", pos, "powerjockey: pxe-0: no boot override: exiting to the firmware")
	v.serial("pxe-0", pos, "Booting from Hard Disk")
	t.Logf("power cycle to the default: %v", time.Since(start).Round(100*time.Millisecond))
	if strings.Count(m.SerialLog().Since(0), upstreamMarker) != 1 {
		t.Error("the upstream was chained twice: the override was not used up")
	}
	if m.VMStarts() != 2 {
		t.Errorf("%d VM starts, want 2", m.VMStarts())
	}
	// Each script served is in the log, and in the node's event log.
	if n := len(v.logLines("boot script served")); n != 2 {
		t.Errorf("%d 'boot script served' log lines, want 2", n)
	}
	status, _, body := v.curl("/redfish/v1/Systems/pxe-0/LogServices/EventLog/Entries", "-u", "admin:password")
	if status != 200 || strings.Count(body, "Boot script served to the machine at") != 2 ||
		!strings.Contains(body, "(override pxe, next boot only, now used up): Chains the network boot at http://"+sim.VMHostAddr) {
		t.Errorf("event log: %d\n%s", status, body)
	}
	// Power off through the PDU stops the VM.
	mustIPMItool(t, p, "Down/Off", "power", "off")
	eventually(t, 5*time.Second, "the VM to stop", func() bool { return !m.VMRunning() })
	if out := mustIPMItool(t, p, "Chassis Power", "power", "status"); !strings.Contains(out, "off") {
		t.Errorf("power status: %s", out)
	}
}

// TestVMBootsInsertedISO: Ironic's redfish-virtual-media insertion (its
// own _insert_vmedia through sushy) of a small ISO, a Cd override (Once)
// and a power-on through sushy: the VM's script sanboots the image from
// the boot endpoint, which streams it with Range from the image server,
// and the ISO's boot image prints its marker. An image that cannot be
// reached is refused at insertion; ejection leaves the drive empty.
func TestVMBootsInsertedISO(t *testing.T) {
	t.Parallel()
	requireSushy(t)
	// The insertion is Ironic's own code.
	testkit.RequirePython(t, "python3-ironic", "ironic.drivers.modules.redfish.boot")
	iso := testISO(t)
	data, err := os.ReadFile(iso)
	if err != nil {
		t.Fatal(err)
	}
	images := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "test.iso", time.Time{}, bytes.NewReader(data))
	}))
	defer images.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL + "/gone.iso"
	closed.Close()

	v := newVMEnv(t, []string{"cd-0"}, "")
	const sys = "/redfish/v1/Systems/cd-0"
	res := v.sushy("admin", "password",
		map[string]any{"op": "system", "id": sys},
		map[string]any{"op": "vmedia_insert", "url": closedURL},
		map[string]any{"op": "vmedia_insert", "url": images.URL + "/test.iso"},
		map[string]any{"op": "boot", "target": "Cd", "enabled": "Once"},
		map[string]any{"op": "reset", "value": "On"},
	)
	if s := res[2]; s.Error == "" || s.Status != 400 || !strings.Contains(s.Error, "CouldNotEstablishConnection") {
		t.Errorf("an unreachable image: %+v", s)
	}
	ins := mustStep(t, res[3])
	if len(ins.VMedia) != 1 || !ins.VMedia[0].Inserted || ins.VMedia[0].Image != images.URL+"/test.iso" ||
		ins.VMedia[0].ConnectedVia != "URI" || strings.Join(ins.VMedia[0].MediaTypes, ",") != "CD,DVD" {
		t.Errorf("inserted: %+v", ins.VMedia)
	}
	if b := mustStep(t, res[4]).Boot; b.Target != "Cd" || b.Enabled != "Once" {
		t.Errorf("boot: %+v", b)
	}
	mustStep(t, res[5])
	start := time.Now()
	pos := v.serial("cd-0", 0, "powerjockey: cd-0: virtual CD test.iso")
	v.serial("cd-0", pos, isoMarker)
	t.Logf("power on to the ISO's marker: %v", time.Since(start).Round(100*time.Millisecond))

	res = v.sushy("admin", "password",
		map[string]any{"op": "system", "id": sys},
		map[string]any{"op": "vmedia_eject"},
	)
	if b := mustStep(t, res[1]).Boot; b.Enabled != "Disabled" {
		t.Errorf("the Once override was not used up by the boot: %+v", b)
	}
	if ej := mustStep(t, res[2]); len(ej.VMedia) != 1 || ej.VMedia[0].Inserted || ej.VMedia[0].Image != "" {
		t.Errorf("ejected: %+v", ej.VMedia)
	}
}

// TestVMObeysDiskOverride: "chassis bootdev disk" and a power-on: the
// VM's script leaves network boot for its first hard disk (sanboot of
// BIOS drive 0x80), whose boot sector prints its marker.
func TestVMObeysDiskOverride(t *testing.T) {
	t.Parallel()
	disk := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(disk, bootSector(diskMarker), 0o644); err != nil {
		t.Fatal(err)
	}
	v := newVMEnv(t, []string{"disk-0"}, disk)
	p := v.port("disk-0")
	mustIPMItool(t, p, "Set Boot Device to disk", "chassis", "bootdev", "disk")
	start := time.Now()
	mustIPMItool(t, p, "Up/On", "power", "on")
	pos := v.serial("disk-0", 0, "powerjockey: disk-0: local disk")
	pos = v.serial("disk-0", pos, "Booting from SAN device 0x80")
	v.serial("disk-0", pos, diskMarker)
	t.Logf("power on to the disk's marker: %v", time.Since(start).Round(100*time.Millisecond))
}
