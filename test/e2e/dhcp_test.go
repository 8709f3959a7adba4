package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	be "encoding/binary"
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

// docRecipe is a DHCP recipe of docs/boot.md, verbatim: the first fenced
// block after the line that starts with intro ("dnsmasq (", "ISC dhcpd (").
// The doc is the one copy: the tests run what readers copy.
func docRecipe(t *testing.T, intro, want string) string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/boot.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "\n"+intro)
	if ok {
		_, rest, ok = strings.Cut(rest, "\n```")
	}
	if ok {
		_, rest, ok = strings.Cut(rest, "\n") // the fence's language
	}
	block, _, closed := strings.Cut(rest, "```")
	if !ok || !closed || !strings.Contains(block, want) {
		t.Fatalf("docs/boot.md: no recipe block with %q after a line starting %q", want, intro)
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

// command is a command that runs in the namespace, killed if this
// process dies.
func (n *netns) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.name, name}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// do runs f on a thread inside the namespace (this process stays outside
// it: sockets f opens are the namespace's and stay so).
func (n *netns) do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		// The thread enters the namespace and leaves it again; a thread
		// that cannot leave it stays locked, and ends with the goroutine.
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		ns, err := os.Open("/run/netns/" + n.name)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		err = f()
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// listen opens a TCP listener inside the namespace.
func (n *netns) listen(addr string) net.Listener {
	n.t.Helper()
	var ln net.Listener
	err := n.do(func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		n.t.Fatalf("listen on %s in %s: %v", addr, n.name, err)
	}
	n.t.Cleanup(func() { ln.Close() })
	return ln
}

// dhcpNode is a node of the test and its VM.
type dhcpNode struct {
	Name, MAC string
	IPMI      int
	tap       string
	uefi      bool
}

// dhcpLab is a provisioning network in a namespace of its own: a bridge
// with the recipes' server address (and an IPv6 one for router
// advertisements), a tap device per VM, the test's upstream network boot,
// powerjockey in the namespace with its boot endpoint on the recipes' URL,
// and the VMs. The DHCP server is the test's.
type dhcpLab struct {
	ns    *netns
	e     *env
	rack  *sim.Rack
	nodes []*dhcpNode
	// dhcp is the DHCP (and TFTP) servers' output.
	dhcp testkit.Log
}

// dhcpLabNodes are the lab's machines: SeaBIOS with the NIC's iPXE ROM,
// and OVMF with its own PXE client (no iPXE ROM).
var dhcpLabNodes = []dhcpNode{
	{Name: "bios-0", MAC: "52:54:00:d4:00:01", IPMI: 6230, tap: "pjtap0"},
	{Name: "uefi-0", MAC: "52:54:00:d4:00:02", IPMI: 6231, tap: "pjtap1", uefi: true},
}

func newDHCPLab(t *testing.T, names ...string) *dhcpLab {
	t.Helper()
	harness.RequireVMs(t, true)
	testkit.RequireTool(t, "ipmitool", "curl")
	for _, f := range []string{"/usr/lib/ipxe/ipxe.efi", "/usr/lib/ipxe/undionly.kpxe"} {
		if _, err := os.Stat(f); err != nil {
			testkit.Missing(t, fmt.Errorf("%s: apt-get install ipxe", f))
		}
	}
	l := &dhcpLab{ns: newNetns(t)}
	for _, name := range names {
		for _, n := range dhcpLabNodes {
			if n.Name == name {
				l.nodes = append(l.nodes, &n)
			}
		}
	}
	ns := l.ns
	ns.ip("link", "add", "br0", "type", "bridge")
	ns.ip("addr", "add", dhcpServerAddr+"/24", "dev", "br0")
	ns.ip("addr", "add", "fd00:24::1/64", "dev", "br0", "nodad")
	ns.ip("link", "set", "br0", "up")
	for _, n := range l.nodes {
		ns.ip("tuntap", "add", "dev", n.tap, "mode", "tap")
		ns.ip("link", "set", n.tap, "master", "br0", "up")
	}
	l.e = newEnv(t, dhcpConfig, map[string]any{"Nodes": l.nodes})

	// The upstream network boot the PXE override chains.
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "#!ipxe\necho %s ${platform}\n", dhcpUpstreamMarker)
	}), ReadHeaderTimeout: 10 * time.Second}
	go up.Serve(ns.listen(dhcpServerAddr + ":8088"))
	t.Cleanup(func() { up.Close() })

	d := harness.Start(t, &l.e.Log, ns.command(binary, "serve", "--config", l.e.cfgPath, "--log-level", "debug"))
	d.WaitReady(15*time.Second, "serving boot scripts", func() bool { return len(l.e.logLines("boot endpoint serving")) > 0 })

	var machines []sim.MachineConfig
	for _, n := range l.nodes {
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
	l.e.runRack(rack)
	l.rack = rack
	return l
}

// dnsmasq runs Debian's dnsmasq in the namespace on the given lines (a
// configuration file of its own) and waits until it serves.
func (l *dhcpLab) dnsmasq(t *testing.T, lines ...string) {
	t.Helper()
	conf := filepath.Join(l.e.dir, "dnsmasq.conf")
	lines = append([]string{
		"port=0", // no DNS
		"interface=br0",
		"bind-interfaces",
		// Router advertisements: Debian's iPXE otherwise waits ~11 s for
		// one before it reports its interface configured.
		"enable-ra",
		"dhcp-range=::,constructor:br0,ra-only",
		"dhcp-leasefile=" + filepath.Join(l.e.dir, "dnsmasq.leases"),
		"log-dhcp",
		"log-facility=-",
	}, lines...)
	if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dm := harness.Start(t, &l.dhcp, l.ns.command(testkit.Tool(t, "dnsmasq"), "--keep-in-foreground", "--no-resolv", "--no-hosts",
		"--pid-file=", "--user=root", "--conf-file="+conf))
	dm.WaitReady(10*time.Second, "serving", func() bool { return len(l.dhcp.Lines("TFTP root is")) > 0 })
}

// ipmi runs ipmitool in the namespace against node n's IPMI endpoint.
func (l *dhcpLab) ipmi(t *testing.T, n *dhcpNode, want string, args ...string) string {
	t.Helper()
	out, err := testkit.Run(t, 20*time.Second, "ip", append([]string{"netns", "exec", l.ns.name, "ipmitool", "-I", "lanplus",
		"-H", "127.0.0.1", "-p", fmt.Sprint(n.IPMI), "-U", "admin", "-P", "password"}, args...)...)
	if err != nil || !strings.Contains(out, want) {
		t.Fatalf("ipmitool %v: %v\n%s\nwant %q", args, err, out, want)
	}
	return out
}

// bootAll network-boots every VM at once (subtests bios, uefi), each with a
// next-boot PXE override set through ipmitool: the firmware's DHCP, TFTP
// of ipxe.efi for OVMF's PXE client, iPXE's DHCP and the boot URL, the
// node's script from powerjockey, which chains the upstream (its marker,
// with iPXE's platform, on the serial port); the override is used up.
func (l *dhcpLab) bootAll(t *testing.T) {
	for _, n := range l.nodes {
		t.Run(n.Name[:strings.IndexByte(n.Name, '-')], func(t *testing.T) {
			t.Parallel()
			m := l.rack.Machine(n.Name)
			var booted time.Time
			serial := func(from int64, text string) int64 {
				t.Helper()
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				pos, err := m.SerialLog().Wait(ctx, from, text)
				if err != nil {
					t.Fatalf("%v\nserial port:\n%s\nDHCP server:\n%s\ndaemon:\n%s", err, m.SerialLog().Since(0), l.dhcp.Tail(32<<10), l.e.Log.Tail(32<<10))
				}
				t.Logf("%5.1f s  %s", time.Since(booted).Seconds(), text)
				return pos
			}
			l.ipmi(t, n, "Set Boot Device to pxe", "chassis", "bootdev", "pxe")
			booted = time.Now()
			m.PressPowerButton()
			pos := int64(0)
			if n.uefi {
				pos = serial(pos, "NBP filename is ipxe.efi")
				pos = serial(pos, "NBP file downloaded successfully")
			}
			pos = serial(pos, "Filename: http://192.168.24.1:9624/boot.ipxe")
			pos = serial(pos, "powerjockey: "+n.Name+": network boot")
			platform := map[bool]string{false: "pcbios", true: "efi"}[n.uefi]
			serial(pos, dhcpUpstreamMarker+" "+platform)
			l.ipmi(t, n, "Boot Flag Invalid", "chassis", "bootparam", "get", "5")
			if n.uefi && len(l.dhcp.Lines("sent /usr/lib/ipxe/ipxe.efi to ")) == 0 {
				t.Errorf("the TFTP server did not log sending ipxe.efi:\n%s", l.dhcp.Tail(32<<10))
			}
		})
	}
}

// TestDHCPRecipeDnsmasq proves docs/boot.md's dnsmasq recipe with real
// firmware: Debian's dnsmasq runs the doc's snippet verbatim (its own
// file, included), plus only what the doc leaves to the site (interface,
// DHCP range). Two QEMU VMs network-boot through it to powerjockey:
//
//   - bios: SeaBIOS and the NIC's iPXE ROM. iPXE's DHCP carries option 175,
//     so dnsmasq hands it the boot URL (the "tag:ipxe" line);
//   - uefi: OVMF's own PXE client, client architecture 7: dnsmasq hands it
//     ipxe.efi from its own TFTP server (Debian's ipxe package); that iPXE
//     asks again and gets the URL.
func TestDHCPRecipeDnsmasq(t *testing.T) {
	t.Parallel()
	l := newDHCPLab(t, "bios-0", "uefi-0")
	recipe := filepath.Join(l.e.dir, "powerjockey.conf")
	if err := os.WriteFile(recipe, []byte(docRecipe(t, "dnsmasq (", "dhcp-boot=")), 0o644); err != nil {
		t.Fatal(err)
	}
	l.dnsmasq(t, "dhcp-range=192.168.24.100,192.168.24.200,1h", "conf-file="+recipe)
	l.pxeROMs(t)
	l.bootAll(t)
}

// TestDHCPRecipeISC proves docs/boot.md's ISC dhcpd recipe: Debian's dhcpd
// runs the doc's block verbatim as its whole configuration (dhcpd -t
// accepts it first); dnsmasq is only the TFTP server the recipe names
// (192.168.24.1, serving Debian's ipxe images) and sends router
// advertisements. The UEFI VM takes both branches that differ from
// dnsmasq's recipe: option 93 = 7 gets ipxe.efi, and iPXE's user class
// gets the boot URL.
func TestDHCPRecipeISC(t *testing.T) {
	t.Parallel()
	dhcpd := testkit.Tool(t, "dhcpd")
	l := newDHCPLab(t, "uefi-0")
	conf := filepath.Join(l.e.dir, "dhcpd.conf")
	if err := os.WriteFile(conf, []byte(docRecipe(t, "ISC dhcpd (", "filename")), 0o644); err != nil {
		t.Fatal(err)
	}
	leases := filepath.Join(l.e.dir, "dhcpd.leases")
	if err := os.WriteFile(leases, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := testkit.Run(t, 10*time.Second, dhcpd, "-t", "-4", "-cf", conf); err != nil {
		t.Fatalf("dhcpd -t: %v\n%s", err, out)
	}
	l.dnsmasq(t, "enable-tftp", "tftp-root=/usr/lib/ipxe")
	d := harness.Start(t, &l.dhcp, l.ns.command(dhcpd, "-f", "-d", "-4", "-cf", conf, "-lf", leases,
		"-pf", filepath.Join(l.e.dir, "dhcpd.pid"), "br0"))
	d.CleanExit = false // dhcpd ends by the signal; its exit is not the subject
	d.WaitReady(10*time.Second, "serving", func() bool { return len(l.dhcp.Lines("Sending on   Socket")) > 0 })
	l.pxeROMs(t)
	l.bootAll(t)
}

// pxeDiscover is a DHCPDISCOVER as a PXE ROM that is not iPXE sends it
// (PXE specification 2.1, section 2.2.1; RFC 4578): client system
// architecture (option 93), network interface identifier (94), client
// machine identifier (97) and the "PXEClient:Arch:xxxxx:UNDI:yyyzzz"
// vendor class (60); no user class and no option 175, which only iPXE
// sends. The broadcast flag asks for a broadcast answer (no address yet).
func pxeDiscover(xid uint32, mac net.HardwareAddr, arch uint16) []byte {
	p := make([]byte, 240)
	p[0], p[1], p[2] = 1, 1, 6 // BOOTREQUEST, Ethernet, 6-byte address
	be.BigEndian.PutUint32(p[4:], xid)
	be.BigEndian.PutUint16(p[10:], 0x8000)
	copy(p[28:], mac)
	copy(p[236:], []byte{99, 130, 83, 99})
	opt := func(code byte, v ...byte) { p = append(append(p, code, byte(len(v))), v...) }
	opt(53, 1)          // DHCPDISCOVER
	opt(57, 0x04, 0xec) // maximum message size 1260
	opt(55, 1, 3, 43, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135)
	opt(93, byte(arch>>8), byte(arch))
	opt(94, 1, 2, 1) // UNDI 2.1
	opt(97, append([]byte{0}, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)...)
	undi := map[uint16]string{0: "002001", 7: "003000", 9: "003000"}[arch]
	opt(60, []byte(fmt.Sprintf("PXEClient:Arch:%05d:UNDI:%s", arch, undi))...)
	return append(p, 255)
}

// pxeOffer is what a DHCPOFFER tells a PXE client: the boot file and the
// server to fetch it from (siaddr).
type pxeOffer struct {
	file       string
	nextServer net.IP
}

// parsePXEOffer reads a DHCPOFFER to xid; ok is false for anything else.
func parsePXEOffer(b []byte, xid uint32) (o pxeOffer, ok bool) {
	if len(b) < 240 || b[0] != 2 || be.BigEndian.Uint32(b[4:]) != xid || !bytes.Equal(b[236:240], []byte{99, 130, 83, 99}) {
		return o, false
	}
	o.nextServer = net.IP(append([]byte{}, b[20:24]...))
	o.file, _, _ = strings.Cut(string(b[108:236]), "\x00")
	offer := false
	for i := 240; i < len(b) && b[i] != 255; {
		if b[i] == 0 {
			i++
			continue
		}
		if i+1 >= len(b) || i+2+int(b[i+1]) > len(b) {
			return o, false
		}
		v := b[i+2 : i+2+int(b[i+1])]
		switch b[i] {
		case 53:
			offer = len(v) == 1 && v[0] == 2
		case 67: // the boot file as an option overrides the file field
			o.file = strings.TrimRight(string(v), "\x00")
		}
		i += 2 + len(v)
	}
	return o, offer
}

// pxeROMs checks the branches no VM takes (subtests pxe-bios, pxe-efi9):
// a DHCPDISCOVER as a BIOS PXE ROM (architecture 0) and as an x86-64 UEFI
// one announcing architecture 9 (RFC 4578 names 7 "EFI BC", 9 "EFI
// x86-64"; firmware sends either) gets the recipe's file and next server,
// from a client port on the namespace's bridge; the BIOS file is then
// fetched over TFTP (curl) and must be Debian's undionly.kpxe.
func (l *dhcpLab) pxeROMs(t *testing.T) {
	// The client is in a namespace of its own, linked to the bridge: in
	// the server's, every source address would be local, and dropped.
	cli := newNetns(t)
	l.ns.ip("link", "add", "pjcli1", "type", "veth", "peer", "name", "pjcli0", "netns", cli.name)
	l.ns.ip("link", "set", "pjcli1", "master", "br0", "up")
	cli.ip("link", "set", "pjcli0", "up")
	for i, c := range []struct {
		name string
		arch uint16
		file string
	}{
		{"pxe-bios", 0, "undionly.kpxe"},
		{"pxe-efi9", 9, "ipxe.efi"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // with the VMs; each client filters by its xid
			mac := net.HardwareAddr{0x52, 0x54, 0, 0xd4, 0, byte(0x10 + i)}
			xid := uint32(0x706a0000 + i)
			offer := l.pxeDiscoverOffer(t, cli, xid, mac, c.arch)
			if offer.file != c.file || !offer.nextServer.Equal(net.ParseIP(dhcpServerAddr)) {
				t.Fatalf("architecture %d: offered file %q from %v; want %q from %s\n%s", c.arch, offer.file, offer.nextServer, c.file, dhcpServerAddr, l.dhcp.Tail(16<<10))
			}
			if c.arch != 0 {
				return
			}
			got := filepath.Join(t.TempDir(), c.file)
			if out, err := testkit.Run(t, 20*time.Second, "ip", "netns", "exec", l.ns.name, "curl", "-sS", "-o", got,
				"tftp://"+dhcpServerAddr+"/"+offer.file); err != nil {
				t.Fatalf("TFTP %s: %v\n%s", offer.file, err, out)
			}
			a, _ := os.ReadFile(got)
			b, _ := os.ReadFile("/usr/lib/ipxe/undionly.kpxe")
			if len(a) == 0 || !bytes.Equal(a, b) {
				t.Errorf("TFTP %s: %d bytes, not Debian's undionly.kpxe (%d bytes)", offer.file, len(a), len(b))
			}
		})
	}
}

// pxeDiscoverOffer broadcasts a PXE ROM's DHCPDISCOVER from pjcli0 in cli
// (no address, as a booting machine has none: the source is 0.0.0.0) and
// returns the offer; each send waits 4 s for it (dnsmasq pings an address
// before it offers it), three times at most.
func (l *dhcpLab) pxeDiscoverOffer(t *testing.T, cli *netns, xid uint32, mac net.HardwareAddr, arch uint16) pxeOffer {
	t.Helper()
	var conn net.PacketConn
	err := cli.do(func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		f := os.NewFile(uintptr(fd), "dhcp-client")
		defer f.Close()
		for _, o := range []int{unix.SO_REUSEADDR, unix.SO_BROADCAST} {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, o, 1); err != nil {
				return err
			}
		}
		if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, "pjcli0"); err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrInet4{Port: 68}); err != nil {
			return err
		}
		conn, err = net.FilePacketConn(f)
		return err
	})
	if err != nil {
		t.Fatalf("DHCP client socket in the namespace: %v", err)
	}
	defer conn.Close()
	bcast := &net.UDPAddr{IP: net.IPv4bcast, Port: 67}
	buf := make([]byte, 1500)
	for try := 0; try < 3; try++ {
		if _, err := conn.WriteTo(pxeDiscover(xid, mac, arch), bcast); err != nil {
			t.Fatalf("send DHCPDISCOVER: %v", err)
		}
		conn.SetReadDeadline(time.Now().Add(4 * time.Second))
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				break // this try's time is up
			}
			if o, ok := parsePXEOffer(buf[:n], xid); ok {
				return o
			}
		}
	}
	t.Fatalf("no DHCPOFFER for architecture %d within 12 s\n%s", arch, l.dhcp.Tail(16<<10))
	return pxeOffer{}
}
