package sim

import (
	"context"
	"fmt"
	"net"
	"sync"
)

// simConsole is a simulated machine's serial port on a TCP socket, as
// QEMU's `-serial tcp:HOST:PORT,server,nowait` exposes a VM's: it prints
// boot messages when the machine boots and, while the machine runs,
// echoes what is typed (a getty at a login prompt). Powered off, it is
// silent, like a real serial line.
type simConsole struct {
	ln net.Listener

	mu    sync.Mutex
	conns map[net.Conn]bool
}

func listenConsole(addr string) (*simConsole, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &simConsole{ln: ln, conns: map[net.Conn]bool{}}, nil
}

// serve accepts console clients until ctx ends; running reports whether
// the machine runs (and so echoes).
func (c *simConsole) serve(ctx context.Context, running func() bool) {
	stop := context.AfterFunc(ctx, c.close)
	defer stop()
	for {
		conn, err := c.ln.Accept()
		if err != nil {
			return
		}
		c.mu.Lock()
		c.conns[conn] = true
		c.mu.Unlock()
		go c.echo(conn, running)
	}
}

func (c *simConsole) echo(conn net.Conn, running func() bool) {
	defer func() {
		c.mu.Lock()
		delete(c.conns, conn)
		c.mu.Unlock()
		conn.Close()
	}()
	buf := make([]byte, 512)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return
		}
		if running() {
			c.mu.Lock()
			conn.Write(buf[:n])
			c.mu.Unlock()
		}
	}
}

// print writes s to every connected client.
func (c *simConsole) print(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for conn := range c.conns {
		conn.Write([]byte(s))
	}
}

func (c *simConsole) close() {
	c.ln.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	for conn := range c.conns {
		conn.Close()
	}
}

// bootMessages is what a machine prints on its serial port as it boots.
func bootMessages(name string, boot int) string {
	return fmt.Sprintf("\r\n[sim] %s: power on, boot %d\r\n"+
		"[sim] BIOS: PXE boot from %s\r\n"+
		"[sim] Linux version 6.1.0 (powerjockey simulated machine)\r\n"+
		"\r\n%s login: ", name, boot, name, name)
}

// clients is the number of connected console clients.
func (c *simConsole) clients() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.conns)
}
