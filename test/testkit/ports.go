package testkit

import (
	"net"
	"strconv"
	"sync"
	"testing"
)

// portMu and usedPorts keep two tests of one process from being handed the
// same port between its release and its use; they are per process by
// nature, hence package-level.
var (
	portMu    sync.Mutex
	usedPorts = map[int]bool{}
)

// FreePort hands out a 127.0.0.1 port ("udp" or "tcp") that was free a
// moment ago and that no other caller in this process got.
func FreePort(t testing.TB, network string) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	for range 50 {
		var port int
		switch network {
		case "udp":
			c, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			port = c.LocalAddr().(*net.UDPAddr).Port
			c.Close()
		default:
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			port = l.Addr().(*net.TCPAddr).Port
			l.Close()
		}
		if !usedPorts[port] {
			usedPorts[port] = true
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// FreeAddr is FreePort as an address, "127.0.0.1:PORT": until something
// binds it, nothing listens there (a closed port, a PDU that is gone).
func FreeAddr(t testing.TB, network string) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t, network)))
}
