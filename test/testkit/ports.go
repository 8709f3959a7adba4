package testkit

import (
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// portMu, usedPorts and claims keep two tests from being handed the same
// port between its release and its use; they are per process by nature
// (claims hold the lock files open for the process's life), hence
// package-level.
var (
	portMu    sync.Mutex
	usedPorts = map[int]bool{}
	claims    []*os.File
)

// Ports are handed out below portsBelow and under the kernel's ephemeral
// range, never from it: a port taken from the kernel (bind to port 0) and
// released went back to the pool every client socket on the machine draws
// from, and another test process's ipmitool, load generator or Python
// client took it as its source port before the daemon under test bound it
// ("bind: address already in use" in TestRedfishBootSharedWithIPMI while
// test/perf ran beside it). Ports from 10000 up to the ephemeral range
// are test/perf's freePorts' (consecutive blocks of up to 3,000).
const portsLow, portsBelow = 1024, 10000

// FreePort hands out a 127.0.0.1 port ("udp" or "tcp") that was free a
// moment ago, that no other caller in this process got, and that no other
// process calling FreePort can get while this one runs (a lock file per
// port under the temporary directory, held until the process exits). The
// kernel never gives it to a client socket (see portsBelow).
func FreePort(t testing.TB, network string) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	hi := min(portsBelow, ephemeralLow())
	for range 200 {
		port := portsLow + rand.IntN(hi-portsLow)
		if usedPorts[port] || !claim(port) {
			continue
		}
		usedPorts[port] = true // claimed: never tried again by this process
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		switch network {
		case "udp":
			c, err := net.ListenPacket("udp", addr)
			if err != nil {
				continue
			}
			c.Close()
		default:
			l, err := net.Listen("tcp", addr)
			if err != nil {
				continue
			}
			l.Close()
		}
		return port
	}
	t.Fatal("no free port")
	return 0
}

// claim takes port's lock file for the rest of the process's life, or
// reports that another process holds it.
func claim(port int) bool {
	dir := filepath.Join(os.TempDir(), "powerjockey-test-ports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return false
	}
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return false
	}
	claims = append(claims, f) // kept: closing the file would release the lock
	return true
}

// ephemeralLow is the lower end of the kernel's ephemeral port range.
func ephemeralLow() int {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil {
				low = v
			}
		}
	}
	return low
}

// FreeAddr is FreePort as an address, "127.0.0.1:PORT": until something
// binds it, nothing listens there (a closed port, a PDU that is gone).
func FreeAddr(t testing.TB, network string) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t, network)))
}
