package sim

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/test/testkit"
)

func TestVMURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:9624":           "http://10.0.2.100:9624",
		"http://127.0.0.1:8088/boot.ipxe": "http://10.0.2.100:8088/boot.ipxe",
		"http://192.0.2.1:80":             "",
		"http://127.0.0.1":                "",
	} {
		got, err := VMURL(in)
		if (err == nil) != (want != "") || got != want {
			t.Errorf("VMURL(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestQEMUArgs(t *testing.T) {
	args, err := qemuArgs("vm1", net.HardwareAddr{0x52, 0x54, 0, 0, 0, 1}, VMConfig{BootURL: "http://127.0.0.1:9624", Forward: []int{8088, 9624}, Disk: "/tmp/a,b.img"})
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Join(args, " ")
	for _, want := range []string{
		"-accel tcg",
		"-netdev user,id=net0,restrict=on,bootfile=http://10.0.2.100:9624/boot.ipxe," +
			"guestfwd=tcp:10.0.2.100:9624-cmd:socat STDIO TCP:127.0.0.1:9624," +
			"guestfwd=tcp:10.0.2.100:8088-cmd:socat STDIO TCP:127.0.0.1:8088 ",
		"-device virtio-net-pci,netdev=net0,mac=52:54:00:00:00:01,bootindex=1",
		"-drive file=/tmp/a,,b.img,format=raw,if=none,id=disk0,snapshot=on",
	} {
		if !strings.Contains(line+" ", want) {
			t.Errorf("args lack %q:\n%s", want, line)
		}
	}
	// A boot URL with a path: the port is still forwarded.
	if args, _ := qemuArgs("vm1", net.HardwareAddr{0x52, 0x54, 0, 0, 0, 1}, VMConfig{BootURL: "http://127.0.0.1:9624/pj/"}); !strings.Contains(strings.Join(args, " "),
		"bootfile=http://10.0.2.100:9624/pj/boot.ipxe,guestfwd=tcp:10.0.2.100:9624-cmd:socat STDIO TCP:127.0.0.1:9624") {
		t.Errorf("args with a path: %v", args)
	}
	if _, err := qemuArgs("vm1", nil, VMConfig{BootURL: "http://192.0.2.1:80"}); err == nil {
		t.Error("a boot URL off loopback was accepted")
	}
}

// TestVMFollowsPower boots a real VM, with SeaBIOS and with OVMF (UEFI):
// it starts when its outlet has power and a magic packet arrives, fetches
// its script through its restricted user network, prints it on its serial
// port (also readable over TCP), and is killed when its outlet goes off.
func TestVMFollowsPower(t *testing.T) {
	for _, uefi := range []bool{false, true} {
		name := "bios"
		if uefi {
			name = "uefi"
		}
		t.Run(name, func(t *testing.T) {
			testkit.Missing(t, CheckVMTools(VMConfig{}))
			if uefi {
				if err := CheckVMTools(VMConfig{UEFI: true}); err != nil {
					if os.Getenv("CI") != "" {
						t.Fatalf("required under CI: %v", err)
					}
					t.Skip(err)
				}
			}
			t.Parallel()
			testVMFollowsPower(t, uefi)
		})
	}
}

func testVMFollowsPower(t *testing.T, uefi bool) {
	mem := 32
	if uefi {
		mem = 0
	}
	var fetches atomic.Int32
	scripts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		if r.URL.Query().Get("mac") == "" {
			w.Write([]byte("#!ipxe\nchain boot.ipxe?mac=${netX/mac:hexhyp}\n"))
			return
		}
		w.Write([]byte("#!ipxe\necho SIM-VM-SCRIPT mac=" + r.URL.Query().Get("mac") + " platform=${platform}\n"))
	}))
	defer scripts.Close()
	r, err := New(Config{
		PDUs: []PDUConfig{{Name: "p", Model: "apc_rpdu2", Listen: "127.0.0.1:0", ReadCommunity: "public", WriteCommunity: "private"}},
		Machines: []MachineConfig{{Name: "vm1", MAC: net.HardwareAddr{0x52, 0x54, 0, 0x5e, 0, 1}, PDU: "p", Outlets: []int{1},
			VM: &VMConfig{BootURL: scripts.URL, Serial: "127.0.0.1:0", MemoryMiB: mem, UEFI: uefi}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	m := r.Machine("vm1")
	conn, err := net.Dial("tcp", m.SerialAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r.HandleMagicPacket(magic(t, "52:54:00:5e:00:01"))
	if m.VMRunning() {
		t.Fatal("a magic packet started a VM without power")
	}
	r.PDU("p").SetOutlet(1, true)
	r.HandleMagicPacket(magic(t, "52:54:00:5e:00:01"))
	if !m.VMRunning() || m.State() != Running {
		t.Fatalf("after power and a magic packet: running %v, state %v", m.VMRunning(), m.State())
	}
	start := time.Now()
	wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
	defer wcancel()
	platform := "pcbios"
	if uefi {
		platform = "efi"
	}
	if _, err := m.SerialLog().Wait(wctx, 0, "SIM-VM-SCRIPT mac=52-54-00-5e-00-01 platform="+platform); err != nil {
		t.Fatalf("%v\nserial:\n%s", err, m.SerialLog().Since(0))
	}
	t.Logf("power-on to script on the serial port: %v", time.Since(start).Round(100*time.Millisecond))
	// The TCP client saw it too.
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	sc := bufio.NewScanner(conn)
	seen := false
	for sc.Scan() {
		if strings.Contains(sc.Text(), "SIM-VM-SCRIPT") {
			seen = true
			break
		}
	}
	if !seen {
		t.Error("the serial port's TCP client did not see the script's output")
	}
	if fetches.Load() < 2 {
		t.Errorf("%d fetches, want 2 (without, then with the MAC)", fetches.Load())
	}
	r.PDU("p").SetOutlet(1, false)
	if m.VMRunning() || m.State() != Off {
		t.Errorf("after the outlet went off: running %v, state %v", m.VMRunning(), m.State())
	}
	// The serial port keeps listening while the machine is off.
	c2, err := net.Dial("tcp", m.SerialAddr())
	if err != nil {
		t.Errorf("serial port closed with the VM: %v", err)
	} else {
		c2.Close()
	}
}

// TestCheckVMToolsNamesPackages: what is missing is named with the Debian
// package to install (demo --vm prints it).
func TestCheckVMToolsNamesPackages(t *testing.T) {
	err := CheckVMTools(VMConfig{QEMU: "/nonexistent/qemu-system-x86_64"})
	if err == nil || !strings.Contains(err.Error(), "apt-get install qemu-system-x86") {
		t.Errorf("err = %v", err)
	}
}

// TestQEMUArgsTap: on a tap device in a namespace the VM has no user
// network (its DHCP is the network's), QEMU runs under ip netns exec, and
// firmware PXE drops the NIC's iPXE ROM, under UEFI only.
func TestQEMUArgsTap(t *testing.T) {
	mac := net.HardwareAddr{0x52, 0x54, 0, 0, 0, 2}
	prog, args, err := qemuCommand("vm2", mac, VMConfig{Tap: "pjtap0", Netns: "pj-ns", UEFI: true, FirmwarePXE: true})
	if err != nil {
		testkit.Missing(t, err) // no OVMF here
	}
	line := prog + " " + strings.Join(args, " ")
	for _, want := range []string{
		"ip netns exec pj-ns qemu-system-x86_64 ",
		"-netdev tap,id=net0,ifname=pjtap0,script=no,downscript=no ",
		"-device virtio-net-pci,netdev=net0,mac=52:54:00:00:00:02,bootindex=1,romfile= ",
	} {
		if !strings.Contains(line+" ", want) {
			t.Errorf("command lacks %q:\n%s", want, line)
		}
	}
	if strings.Contains(line, "user,") || strings.Contains(line, "guestfwd") {
		t.Errorf("a tap VM has a user network:\n%s", line)
	}
	if _, err := qemuArgs("vm2", mac, VMConfig{Tap: "pjtap0", FirmwarePXE: true}); err == nil {
		t.Error("firmware PXE under SeaBIOS was accepted")
	}
}
