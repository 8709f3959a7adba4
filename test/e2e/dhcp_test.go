package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/powerjockey/powerjockey/pkg/sim"
	"github.com/powerjockey/powerjockey/test/harness"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// The DHCP recipe's test runs on a network of its own: a namespace whose
// bridge holds the address docs/boot.md's recipes use, so the snippet is
// used exactly as written (its boot URL http://192.168.24.1:9624/boot.ipxe
// included). Nothing leaves the namespace.
const (
	dhcpServerAddr = "192.168.24.1"
	// dhcpUpstreamMarker is what the test's upstream network boot prints.
	dhcpUpstreamMarker = "PJ-E2E-DHCP-UPSTREAM"
)

// dhcpConfig: the daemon in the namespace, its boot endpoint on the
// recipe's address, two nodes whose machines are the VMs.
const dhcpConfig = `
state_dir: {{.Dir}}/state
boot:
  listen: "192.168.24.1:9624"
  upstream: "http://192.168.24.1:8088/upstream.ipxe"
nodes:
{{- range $i, $n := .Nodes}}
  - name: {{$n.Name}}
    ipmi: {listen: "127.0.0.1:{{$n.IPMI}}", username: admin, password: password}
    mac: "{{$n.MAC}}"
{{- end}}
`

// dnsmasqRecipe is the dnsmasq snippet of docs/boot.md, verbatim: the
// block the doc introduces with "dnsmasq (".
func dnsmasqRecipe(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/boot.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "\ndnsmasq (")
	if ok {
		_, rest, ok = strings.Cut(rest, "```ini\n")
	}
	block, _, closed := strings.Cut(rest, "```")
	if !ok || !closed || !strings.Contains(block, "dhcp-boot=") {
		t.Fatal("docs/boot.md: no dnsmasq block (a line starting 'dnsmasq (' followed by an ```ini block)")
	}
	return block
}

// netns is a network namespace the test made, deleted when it ends.
type netns struct {
	t    *testing.T
	name string
}

// newNetns makes a namespace with its loopback up. It needs root (CI runs
// as root) and tap devices: without them the test skips, and fails under CI.
func newNetns(t *testing.T) *netns {
	t.Helper()
	testkit.RequireTool(t, "ip")
	missing := ""
	if os.Geteuid() != 0 {
		missing = "root (for a network namespace)"
	} else if _, err := os.Stat("/dev/net/tun"); err != nil {
		missing = "/dev/net/tun (tap devices)"
	}
	if missing != "" {
		testkit.Missing(t, fmt.Errorf("needs %s; CI runs as root", missing))
	}
	b := make([]byte, 4)
	rand.Read(b)
	n := &netns{t: t, name: "pj-e2e-" + hex.EncodeToString(b)}
	if out, err := exec.Command("ip", "netns", "add", n.name).CombinedOutput(); err != nil {
		testkit.Missing(t, fmt.Errorf("ip netns add: %v: %s", err, out))
	}
	t.Cleanup(func() {
		// Whatever still runs in it was started by this test (each has its
		// own cleanup, registered later, which ran first).
		if out, _ := exec.Command("ip", "netns", "pids", n.name).Output(); len(out) > 0 {
			for _, f := range strings.Fields(string(out)) {
				var pid int
				if _, err := fmt.Sscan(f, &pid); err == nil && pid > 1 {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		if out, err := exec.Command("ip", "netns", "del", n.name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", n.name, err, out)
		}
	})
	n.ip("link", "set", "lo", "up")
	return n
}

// ip runs ip -n NS args.
func (n *netns) ip(args ...string) {
	n.t.Helper()
	if out, err := exec.Command("ip", append([]string{"-n", n.name}, args...)...).CombinedOutput(); err != nil {
		n.t.Fatalf("ip -n %s %s: %v: %s", n.name, strings.Join(args, " "), err, out)
	}
}

// exec is a command that runs in the namespace.
func (n *netns) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.name, name}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// listen opens a TCP listener inside the namespace (this process stays
// outside it: only the socket is the namespace's).
func (n *netns) listen(addr string) net.Listener {
	n.t.Helper()
	type result struct {
		ln  net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// The thread enters the namespace and leaves it again; a thread
		// that cannot leave it stays locked, and ends with the goroutine.
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer orig.Close()
		ns, err := os.Open("/run/netns/" + n.name)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		ln, err := net.Listen("tcp", addr)
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		ch <- result{ln, err}
	}()
	r := <-ch
	if r.err != nil {
		n.t.Fatalf("listen on %s in %s: %v", addr, n.name, r.err)
	}
	n.t.Cleanup(func() { r.ln.Close() })
	return r.ln
}

// dhcpNode is a node of the test and its VM.
type dhcpNode struct {
	Name, MAC string
	IPMI      int
	tap       string
	uefi      bool
}

// TestDHCPRecipeDnsmasq proves docs/boot.md's dnsmasq recipe with real
// firmware: in a network namespace of its own, Debian's dnsmasq runs the
// doc's snippet verbatim, plus only what the doc leaves to the site
// (interface, range); powerjockey's boot endpoint listens on the recipe's
// address. Two QEMU VMs on tap devices of the namespace's bridge boot from
// the network with a PXE override set through ipmitool:
//
//   - bios: SeaBIOS and the NIC's iPXE ROM. iPXE's DHCP carries option 175,
//     so dnsmasq hands it the boot URL (the "tag:ipxe" line);
//   - uefi: OVMF's own PXE client (the NIC without its iPXE ROM), client
//     architecture 7: dnsmasq hands it ipxe.efi, served by its own TFTP
//     from Debian's ipxe package; that iPXE asks again and gets the URL.
//
// Each VM fetches its script from powerjockey, which chains the test's
// upstream (its marker on the serial port), and the override is used up.
func TestDHCPRecipeDnsmasq(t *testing.T) {
	harness.RequireVMs(t, true)
	testkit.RequireTool(t, "ipmitool")
	dnsmasq := testkit.Tool(t, "dnsmasq")
	ipxeEFI := "/usr/lib/ipxe/ipxe.efi"
	if _, err := os.Stat(ipxeEFI); err != nil {
		testkit.Missing(t, fmt.Errorf("%s: apt-get install ipxe", ipxeEFI))
	}
	start := time.Now()
	ns := newNetns(t)
	nodes := []*dhcpNode{
		{Name: "bios-0", MAC: "52:54:00:d4:00:01", IPMI: 6230, tap: "pjtap0"},
		{Name: "uefi-0", MAC: "52:54:00:d4:00:02", IPMI: 6231, tap: "pjtap1", uefi: true},
	}
	// The provisioning network: a bridge with the recipe's server address,
	// a tap device per VM.
	ns.ip("link", "add", "br0", "type", "bridge")
	ns.ip("addr", "add", dhcpServerAddr+"/24", "dev", "br0")
	ns.ip("addr", "add", "fd00:24::1/64", "dev", "br0", "nodad")
	ns.ip("link", "set", "br0", "up")
	for _, n := range nodes {
		ns.ip("tuntap", "add", "dev", n.tap, "mode", "tap")
		ns.ip("link", "set", n.tap, "master", "br0", "up")
	}

	// dnsmasq: the doc's snippet in a file of its own, included by the
	// site's part (what the doc leaves to the reader's existing dnsmasq).
	e := newEnv(t, dhcpConfig, map[string]any{"Nodes": nodes})
	recipe := filepath.Join(e.dir, "powerjockey.conf")
	if err := os.WriteFile(recipe, []byte(dnsmasqRecipe(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	site := filepath.Join(e.dir, "dnsmasq.conf")
	if err := os.WriteFile(site, []byte(strings.Join([]string{
		"port=0", // no DNS: only DHCP and TFTP
		"interface=br0",
		"bind-interfaces",
		"dhcp-range=192.168.24.100,192.168.24.200,1h",
		"enable-ra",
		"dhcp-range=::,constructor:br0,ra-only",
		"dhcp-leasefile=" + filepath.Join(e.dir, "dnsmasq.leases"),
		"log-dhcp",
		"log-facility=-",
		"conf-file=" + recipe,
		"",
	}, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	var dlog testkit.Log
	dm := harness.Start(t, &dlog, ns.command(dnsmasq, "--keep-in-foreground", "--no-resolv", "--no-hosts",
		"--pid-file=", "--user=root", "--conf-file="+site))
	dm.WaitReady(10*time.Second, "serving DHCP", func() bool { return len(dlog.Lines("TFTP root is")) > 0 })

	// The upstream network boot the PXE override chains.
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "#!ipxe\necho %s ${platform}\n", dhcpUpstreamMarker)
	}), ReadHeaderTimeout: 10 * time.Second}
	go up.Serve(ns.listen(dhcpServerAddr + ":8088"))
	t.Cleanup(func() { up.Close() })

	// The daemon, in the namespace.
	d := harness.Start(t, &e.Log, ns.command(binary, "serve", "--config", e.cfgPath, "--log-level", "debug"))
	d.WaitReady(15*time.Second, "serving boot scripts", func() bool { return len(e.logLines("boot endpoint serving")) > 0 })

	var machines []sim.MachineConfig
	for _, n := range nodes {
		mac, _ := net.ParseMAC(n.MAC)
		vm := &sim.VMConfig{Tap: n.tap, Netns: ns.name, MemoryMiB: 32}
		if n.uefi {
			vm = &sim.VMConfig{Tap: n.tap, Netns: ns.name, UEFI: true, FirmwarePXE: true}
		}
		machines = append(machines, sim.MachineConfig{Name: n.Name, MAC: mac, VM: vm})
	}
	rack, err := sim.New(sim.Config{Machines: machines})
	if err != nil {
		t.Fatal(err)
	}
	e.runRack(rack)
	t.Logf("namespace, dnsmasq, daemon and rack ready: %v", time.Since(start).Round(100*time.Millisecond))

	ipmi := func(t *testing.T, n *dhcpNode, want string, args ...string) string {
		t.Helper()
		out, err := testkit.Run(t, 20*time.Second, "ip", append([]string{"netns", "exec", ns.name, "ipmitool", "-I", "lanplus",
			"-H", "127.0.0.1", "-p", fmt.Sprint(n.IPMI), "-U", "admin", "-P", "password"}, args...)...)
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("ipmitool %v: %v\n%s\nwant %q", args, err, out, want)
		}
		return out
	}
	for _, n := range nodes {
		t.Run(n.Name[:strings.IndexByte(n.Name, '-')], func(t *testing.T) {
			t.Parallel()
			m := rack.Machine(n.Name)
			var booted time.Time
			serial := func(from int64, text string) int64 {
				t.Helper()
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				pos, err := m.SerialLog().Wait(ctx, from, text)
				if err != nil {
					t.Fatalf("%v\nserial port:\n%s\ndnsmasq:\n%s\ndaemon:\n%s", err, m.SerialLog().Since(0), dlog.Tail(32<<10), e.Log.Tail(32<<10))
				}
				t.Logf("%5.1f s  %s", time.Since(booted).Seconds(), text)
				return pos
			}
			ipmi(t, n, "Set Boot Device to pxe", "chassis", "bootdev", "pxe")
			booted = time.Now()
			m.PressPowerButton()
			pos := int64(0)
			if n.uefi {
				// OVMF's PXE got ipxe.efi over dnsmasq's TFTP.
				pos = serial(pos, "NBP filename is ipxe.efi")
				pos = serial(pos, "NBP file downloaded successfully")
			}
			pos = serial(pos, "Filename: http://192.168.24.1:9624/boot.ipxe")
			pos = serial(pos, "powerjockey: "+n.Name+": network boot")
			platform := map[bool]string{false: "pcbios", true: "efi"}[n.uefi]
			serial(pos, dhcpUpstreamMarker+" "+platform)
			t.Logf("power button to the upstream's marker: %v", time.Since(booted).Round(100*time.Millisecond))
			ipmi(t, n, "Boot Flag Invalid", "chassis", "bootparam", "get", "5")
			if n.uefi && len(dlog.Lines("sent "+ipxeEFI+" to ")) == 0 {
				t.Errorf("dnsmasq did not log sending %s:\n%s", ipxeEFI, dlog.Tail(32<<10))
			}
		})
	}
}
