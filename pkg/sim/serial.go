package sim

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// SerialLog is what a machine printed on its serial port: the last
// serialLogSize bytes, and a way to wait for a text to appear.
type SerialLog struct {
	mu    sync.Mutex
	buf   []byte // the last bytes written
	total int64  // bytes ever written
	more  chan struct{}
}

// serialLogSize bounds what a SerialLog keeps.
const serialLogSize = 1 << 20

func newSerialLog() *SerialLog { return &SerialLog{more: make(chan struct{})} }

// Write appends p and wakes the waiters.
func (l *SerialLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	if over := len(l.buf) - serialLogSize; over > 0 {
		l.buf = append(l.buf[:0:0], l.buf[over:]...)
	}
	l.total += int64(len(p))
	close(l.more)
	l.more = make(chan struct{})
	return len(p), nil
}

// Mark is the position after everything written so far.
func (l *SerialLog) Mark() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// Wait waits until text appears after position from and returns the
// position after it; ctx bounds the wait.
func (l *SerialLog) Wait(ctx context.Context, from int64, text string) (int64, error) {
	for {
		l.mu.Lock()
		start := l.total - int64(len(l.buf))
		off := max(from-start, 0)
		if off <= int64(len(l.buf)) {
			if i := bytes.Index(l.buf[off:], []byte(text)); i >= 0 {
				end := start + off + int64(i+len(text))
				l.mu.Unlock()
				return end, nil
			}
		}
		more := l.more
		l.mu.Unlock()
		select {
		case <-more:
		case <-ctx.Done():
			return 0, fmt.Errorf("serial port: %q did not appear: %w", text, ctx.Err())
		}
	}
}

// Since returns what was written after position from (as much as is kept).
func (l *SerialLog) Since(from int64) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	start := l.total - int64(len(l.buf))
	off := min(max(from-start, 0), int64(len(l.buf)))
	return string(l.buf[off:])
}

// serialPort is a machine's serial port on a TCP socket, raw, like a
// console server's port or QEMU's -serial tcp:...,server: it stays
// listening whether the machine runs or not, sends what the machine prints
// to every client (and to the log), and passes what clients type to the
// machine while it runs.
type serialPort struct {
	ln  net.Listener
	log *SerialLog

	mu    sync.Mutex
	conns map[net.Conn]bool
	input io.Writer // the running machine's serial input; nil when off
}

func listenSerial(addr string) (*serialPort, error) {
	p := &serialPort{log: newSerialLog(), conns: map[net.Conn]bool{}}
	if addr == "" {
		return p, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	p.ln = ln
	return p, nil
}

// addr is the bound address, or "" without a socket.
func (p *serialPort) addr() string {
	if p.ln == nil {
		return ""
	}
	return p.ln.Addr().String()
}

// Write is the machine printing.
func (p *serialPort) Write(b []byte) (int, error) {
	p.log.Write(b)
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		// A client that does not read loses its place, not the machine's
		// output for the others.
		c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write(b); err != nil {
			c.Close()
			delete(p.conns, c)
		}
	}
	return len(b), nil
}

// attach connects the machine's serial input.
func (p *serialPort) attach(in io.Writer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.input = in
}

// detach disconnects in, if it is still the machine's input.
func (p *serialPort) detach(in io.Writer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.input == in {
		p.input = nil
	}
}

// serve accepts clients until ctx ends.
func (p *serialPort) serve(ctx context.Context) {
	if p.ln == nil {
		return
	}
	stop := context.AfterFunc(ctx, p.close)
	defer stop()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns[c] = true
		p.mu.Unlock()
		go p.read(c)
	}
}

// read passes what a client types to the machine.
func (p *serialPort) read(c net.Conn) {
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
		c.Close()
	}()
	buf := make([]byte, 512)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		p.mu.Lock()
		in := p.input
		p.mu.Unlock()
		if in != nil {
			in.Write(buf[:n])
		}
	}
}

func (p *serialPort) close() {
	if p.ln != nil {
		p.ln.Close()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}
