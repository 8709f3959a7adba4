package sim

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// VMConfig makes a simulated machine a real one: a QEMU virtual machine
// (qemu-system-x86_64 under TCG, SeaBIOS or OVMF, the NIC's iPXE ROM) that
// runs while the machine runs. It is started when the machine boots (its
// outlet has power and a magic packet arrives, or its power button is
// pressed), and killed, as by pulling the plug, when the machine loses
// power or halts.
//
// The VM's network is QEMU's user network, restricted: it reaches nothing
// but the host's loopback ports it is given, at VMHostAddr with the same
// port numbers, each connection carried by socat. Its DHCP hands iPXE the
// boot endpoint's script URL, so the VM boots as a machine of a site whose
// DHCP chains iPXE to powerjockey. With Tap, the VM's NIC is on a real
// (namespaced) network instead, whose own DHCP server boots it.
type VMConfig struct {
	// BootURL is the boot endpoint's root as this host reaches it, e.g.
	// "http://127.0.0.1:9624" (the VM asks for BootURL/boot.ipxe); its host
	// must be a loopback address. Unused with Tap.
	BootURL string
	// Tap puts the VM's NIC on this existing tap device (in Netns) instead
	// of the user network: the network's own DHCP and TFTP servers boot
	// it, as a site's do (BootURL and Forward are then unused).
	Tap string
	// Netns runs QEMU in this named network namespace (ip netns exec),
	// where Tap is.
	Netns string
	// FirmwarePXE leaves the NIC without its iPXE ROM, so that the
	// firmware's own PXE client boots (OVMF has one; SeaBIOS has none, so
	// it needs UEFI): the DHCP server must then hand it iPXE over TFTP.
	FirmwarePXE bool
	// Forward are further loopback ports the VM may reach at VMHostAddr
	// (an upstream network boot, an image server).
	Forward []int
	// MemoryMiB is the VM's memory (default 64, 128 with UEFI: OVMF needs
	// more).
	MemoryMiB int
	// Disk is a raw disk image the VM boots from as its first hard disk;
	// the VM's writes go to a temporary copy (snapshot). Empty: no disk.
	Disk string
	// UEFI boots OVMF instead of SeaBIOS.
	UEFI bool
	// QEMU is the emulator (default qemu-system-x86_64 from PATH).
	QEMU string
	// Serial is the TCP address of the VM's serial port (raw, as a console
	// server serves it; the node's console.tcp), listening whether the VM
	// runs or not. Empty: the serial output is only kept (SerialLog).
	Serial string
}

// VMHostAddr is where a VM reaches the host's loopback ports (a
// guestfwd address of its user network).
const VMHostAddr = "10.0.2.100"

// VMURL is url (on a loopback address) as a VM reaches it.
func VMURL(u string) (string, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	ip := net.ParseIP(pu.Hostname())
	if ip == nil || !ip.IsLoopback() || pu.Port() == "" {
		return "", fmt.Errorf("%s: a VM reaches only this host's loopback ports: want http://127.0.0.1:PORT", u)
	}
	pu.Host = net.JoinHostPort(VMHostAddr, pu.Port())
	return pu.String(), nil
}

// ovmfPaths are where Debian's ovmf package puts a firmware QEMU can load
// with -bios.
var ovmfPaths = []string{"/usr/share/qemu/OVMF.fd", "/usr/share/ovmf/OVMF.fd", "/usr/share/OVMF/OVMF.fd"}

// vmRequirement is one thing VMs need and the Debian package it comes from.
type vmRequirement struct {
	what, pkg string
	// file is looked for in QEMU's data directories; cmd in PATH.
	file, cmd string
}

var vmRequirements = []vmRequirement{
	{what: "QEMU", pkg: "qemu-system-x86", cmd: "qemu-system-x86_64"},
	{what: "SeaBIOS", pkg: "seabios", file: "bios-256k.bin"},
	{what: "the NIC's iPXE ROM", pkg: "ipxe-qemu", file: "efi-virtio.rom"},
	{what: "socat (the VM's connections to this host)", pkg: "socat", cmd: "socat"},
}

// CheckVMTools reports what is missing to run machines as VMs, naming the
// Debian packages to install; nil when nothing is.
func CheckVMTools(cfg VMConfig) error {
	qemu := cfg.QEMU
	if qemu == "" {
		qemu = "qemu-system-x86_64"
	}
	var dirs []string
	if out, err := exec.Command(qemu, "-L", "help").Output(); err == nil {
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			dirs = append(dirs, strings.TrimSpace(l))
		}
	}
	var missing, pkgs []string
	for _, r := range vmRequirements {
		ok := false
		switch {
		case r.cmd == "qemu-system-x86_64":
			_, err := exec.LookPath(qemu)
			ok = err == nil
		case r.cmd != "":
			_, err := exec.LookPath(r.cmd)
			ok = err == nil
		default:
			for _, d := range dirs {
				if _, err := os.Stat(filepath.Join(d, r.file)); err == nil {
					ok = true
				}
			}
		}
		if !ok {
			missing = append(missing, r.what)
			pkgs = append(pkgs, r.pkg)
		}
	}
	if cfg.UEFI && ovmf() == "" {
		missing = append(missing, "OVMF (UEFI firmware)")
		pkgs = append(pkgs, "ovmf")
	}
	if cfg.Netns != "" {
		if _, err := exec.LookPath("ip"); err != nil {
			missing = append(missing, "ip (network namespaces)")
			pkgs = append(pkgs, "iproute2")
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("running machines as VMs needs %s: apt-get install %s", strings.Join(missing, ", "), strings.Join(pkgs, " "))
}

func ovmf() string {
	for _, p := range ovmfPaths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// qemuCommand is the program and arguments that run the VM: QEMU, in
// its network namespace if it has one.
func qemuCommand(name string, mac net.HardwareAddr, cfg VMConfig) (string, []string, error) {
	args, err := qemuArgs(name, mac, cfg)
	if err != nil {
		return "", nil, err
	}
	qemu := cfg.QEMU
	if qemu == "" {
		qemu = "qemu-system-x86_64"
	}
	if cfg.Netns == "" {
		return qemu, args, nil
	}
	// ip netns exec execs QEMU in place: the process (and its group) is
	// QEMU's, killed as before.
	return "ip", append([]string{"netns", "exec", cfg.Netns, qemu}, args...), nil
}

// qemuArgs is the VM's command line.
func qemuArgs(name string, mac net.HardwareAddr, cfg VMConfig) ([]string, error) {
	netdev, err := vmNetdev(cfg)
	if err != nil {
		return nil, err
	}
	nic := "virtio-net-pci,netdev=net0,mac=" + mac.String() + ",bootindex=1"
	if cfg.FirmwarePXE {
		if !cfg.UEFI {
			return nil, errors.New("firmware PXE needs UEFI: SeaBIOS has no PXE client of its own")
		}
		nic += ",romfile="
	}
	mem := cfg.MemoryMiB
	switch {
	case mem > 0:
	case cfg.UEFI:
		mem = 128
	default:
		mem = 64
	}
	args := []string{
		"-name", "powerjockey-" + name,
		"-accel", "tcg",
		"-machine", "pc",
		"-m", strconv.Itoa(mem),
		"-smp", "1",
		"-nodefaults", "-no-user-config",
		// -nographic (no display) is also what makes SeaBIOS print to the
		// serial port, option ROMs and boot sectors included (QEMU sets
		// its etc/sercon-port); -display none would leave it silent.
		"-nographic",
		"-monitor", "none",
		"-chardev", "stdio,id=serial0,signal=off",
		"-serial", "chardev:serial0",
		"-netdev", netdev,
		"-device", nic,
	}
	if cfg.Disk != "" {
		args = append(args,
			"-drive", "file="+qemuEscape(cfg.Disk)+",format=raw,if=none,id=disk0,snapshot=on",
			"-device", "ide-hd,drive=disk0,bootindex=2")
	}
	if cfg.UEFI {
		fw := ovmf()
		if fw == "" {
			return nil, errors.New("no OVMF firmware: apt-get install ovmf")
		}
		args = append(args, "-bios", fw)
	}
	return args, nil
}

// vmNetdev is the VM's -netdev: its tap device, or the restricted user
// network whose DHCP names the boot endpoint's script.
func vmNetdev(cfg VMConfig) (string, error) {
	if cfg.Tap != "" {
		return "tap,id=net0,ifname=" + qemuEscape(cfg.Tap) + ",script=no,downscript=no", nil
	}
	boot, err := VMURL(strings.TrimSuffix(cfg.BootURL, "/"))
	if err != nil {
		return "", err
	}
	u, _ := url.Parse(boot) // VMURL parsed it
	bootPort, _ := strconv.Atoi(u.Port())
	ports := append([]int{bootPort}, cfg.Forward...)
	// The script URL without ?mac=: the endpoint asks again with iPXE's
	// ${netX/mac}, as it does for a site-wide DHCP filename.
	// IPv6 stays on: iPXE waits for a router advertisement before it
	// reports its interface configured, and slirp sends one at once.
	netdev := "user,id=net0,restrict=on,bootfile=" + qemuEscape(boot+"/boot.ipxe")
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || p > 65535 || seen[p] {
			continue
		}
		seen[p] = true
		netdev += fmt.Sprintf(",guestfwd=tcp:%s:%d-cmd:socat STDIO TCP:127.0.0.1:%d", VMHostAddr, p, p)
	}
	return netdev, nil
}

// qemuEscape doubles commas: QEMU's option separator.
func qemuEscape(s string) string { return strings.ReplaceAll(s, ",", ",,") }

// vmProcess runs a machine's VM.
type vmProcess struct {
	name   string
	mac    net.HardwareAddr
	cfg    VMConfig
	serial *serialPort
	log    func(msg string, args ...any)
	// exited is called (without locks held) when a VM exits that was not
	// stopped: the machine powered itself off, or QEMU failed.
	exited func(err error)

	mu     sync.Mutex
	cur    *vmRun // the running VM, nil when off
	starts int
}

// vmRun is one run of the VM's process.
type vmRun struct {
	cmd *exec.Cmd
	// stopped is set by stop: the exit that follows is expected.
	stopped bool
}

// start starts the VM; a running one is left alone.
func (v *vmProcess) start() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.cur != nil {
		return nil
	}
	qemu, args, err := qemuCommand(v.name, v.mac, v.cfg)
	if err != nil {
		return err
	}
	cmd := exec.Command(qemu, args...)
	// Its own process group, so that killing it takes its socat children
	// along; and it dies with this process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &limitedBuffer{b: &stderr, max: 8 << 10}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", qemu, err)
	}
	run := &vmRun{cmd: cmd}
	v.cur = run
	v.starts++
	v.serial.attach(stdin)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		io.Copy(v.serial, bufio.NewReader(stdout))
	}()
	go func() {
		<-copied
		err := cmd.Wait()
		v.serial.detach(stdin)
		v.mu.Lock()
		expected := run.stopped
		if v.cur == run {
			v.cur = nil
		}
		v.mu.Unlock()
		if expected {
			return
		}
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			err = fmt.Errorf("%v: %s", err, msg)
		}
		v.exited(err)
	}()
	v.log("virtual machine started", "pid", cmd.Process.Pid, "args", strings.Join(args, " "))
	return nil
}

// stop kills the VM (pulls the plug); it returns at once.
func (v *vmProcess) stop() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.cur == nil {
		return
	}
	run := v.cur
	run.stopped = true
	v.cur = nil
	// The group of the process started above: QEMU and its socat children.
	_ = syscall.Kill(-run.cmd.Process.Pid, syscall.SIGKILL)
	v.log("virtual machine stopped", "pid", run.cmd.Process.Pid)
}

// running reports whether the VM runs.
func (v *vmProcess) running() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.cur != nil
}

// limitedBuffer keeps the first max bytes written.
type limitedBuffer struct {
	mu  sync.Mutex
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
