// Package consoletest provides consoles for tests: a pseudo-terminal pair
// (a serial device whose other end the test holds) and a TCP echo console.
// It is test support, not a stable API.
package consoletest

import (
	"fmt"
	"net"
	"os"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// OpenPTY allocates a pseudo-terminal and returns its controlling side and
// the path of the terminal side (/dev/pts/N). Both are closed when the
// test ends.
func OpenPTY(t testing.TB) (*os.File, string) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	rc, err := ptmx.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var ioErr error
	err = rc.Control(func(fd uintptr) {
		if ioErr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ioErr != nil {
			return
		}
		n, ioErr = unix.IoctlGetInt(int(fd), unix.TIOCGPTN)
	})
	if err != nil || ioErr != nil {
		t.Fatalf("unlock pty: %v %v", err, ioErr)
	}
	return ptmx, fmt.Sprintf("/dev/pts/%d", n)
}

// EchoConsole is a TCP console on loopback that echoes what it receives
// and lets the test write to whoever is connected, as a machine's serial
// port behind ser2net would.
type EchoConsole struct {
	ln net.Listener

	mu       sync.Mutex
	conns    []net.Conn
	accepted int
}

// NewEchoConsole listens on a free loopback port until the test ends.
func NewEchoConsole(t testing.TB) *EchoConsole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &EchoConsole{ln: ln}
	t.Cleanup(e.Close)
	go e.serve()
	return e
}

// Addr is the console's host:port.
func (e *EchoConsole) Addr() string { return e.ln.Addr().String() }

func (e *EchoConsole) serve() {
	for {
		c, err := e.ln.Accept()
		if err != nil {
			return
		}
		e.mu.Lock()
		e.conns = append(e.conns, c)
		e.accepted++
		e.mu.Unlock()
		go func() {
			buf := make([]byte, 1024)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					c.Write(buf[:n])
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

// Print writes s to every connected client.
func (e *EchoConsole) Print(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.conns {
		c.Write([]byte(s))
	}
}

// Drop closes the connected clients (the console server restarting).
func (e *EchoConsole) Drop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.conns {
		c.Close()
	}
	e.conns = nil
}

// Connections is how many connections were accepted.
func (e *EchoConsole) Connections() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.accepted
}

// Close stops the console.
func (e *EchoConsole) Close() {
	e.ln.Close()
	e.Drop()
}
