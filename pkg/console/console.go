// Package console keeps a machine's serial console open: a serial device
// (a USB-serial adapter), a TCP console (ser2net, a console server, QEMU's
// `-serial tcp:...,server`) or a command whose standard input and output
// are the console (`virsh console`). The daemon opens it in the
// background, reconnects when it drops, keeps a bounded history, and lets
// one session at a time (Serial over LAN) attach, replay the history, read
// and type.
package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Config is one machine's console.
type Config struct {
	// Name identifies the machine in logs.
	Name string
	// Exactly one of Device, TCP and Command.
	Device  string // a serial device, e.g. /dev/ttyUSB0
	Baud    int    // the device's speed (default 115200)
	TCP     string // host:port of a raw TCP console
	Command string // run with /bin/sh -c; its stdin and stdout are the console
	// History is how many bytes of output are kept and replayed to a new
	// session (0: none).
	History int
	Logger  *slog.Logger
}

// Reconnection backoff: quick for a console that blinks (a VM rebooting),
// patient for one that is gone (an unplugged adapter).
const (
	minBackoff = time.Second
	maxBackoff = 30 * time.Second
	// dialTimeout bounds one connection attempt.
	dialTimeout = 5 * time.Second
	// writeTimeout bounds one write of typed characters: a console that
	// does not take them is reported as not accepting, not waited for.
	writeTimeout = time.Second
	// sessionBuffer bounds output waiting for a slow session beyond the
	// replayed history.
	sessionBuffer = 64 << 10
)

// ErrBusy is returned by Attach while another session is attached.
var ErrBusy = errors.New("console already attached to another session")

// ErrNoBreak is returned by SendBreak on consoles without a break signal.
var ErrNoBreak = errors.New("this console has no serial break")

// link is one open connection to the console.
type link interface {
	io.ReadWriteCloser
	// setWriteDeadline bounds the next writes.
	setWriteDeadline(t time.Time) error
	// sendBreak sends a serial break, or returns ErrNoBreak.
	sendBreak() error
}

// Console is one machine's console.
type Console struct {
	cfg  Config
	log  *slog.Logger
	open func(ctx context.Context) (link, error)

	mu      sync.Mutex
	link    link // nil while disconnected
	history ring
	session *Session
}

// New validates cfg and returns a console; Run connects it.
func New(cfg Config) (*Console, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Baud == 0 {
		cfg.Baud = 115200
	}
	given := 0
	for _, v := range []string{cfg.Device, cfg.TCP, cfg.Command} {
		if v != "" {
			given++
		}
	}
	if given != 1 {
		return nil, fmt.Errorf("console of %s: give exactly one of device, tcp and command", cfg.Name)
	}
	c := &Console{cfg: cfg, history: ring{limit: cfg.History}}
	switch {
	case cfg.Device != "":
		if _, ok := baudRates[cfg.Baud]; !ok {
			return nil, fmt.Errorf("console of %s: unsupported speed %d", cfg.Name, cfg.Baud)
		}
		c.log = cfg.Logger.With("node", cfg.Name, "console", cfg.Device)
		c.open = func(context.Context) (link, error) { return openSerial(cfg.Device, cfg.Baud) }
	case cfg.TCP != "":
		c.log = cfg.Logger.With("node", cfg.Name, "console", "tcp:"+cfg.TCP)
		c.open = func(ctx context.Context) (link, error) { return dialTCP(ctx, cfg.TCP) }
	default:
		c.log = cfg.Logger.With("node", cfg.Name, "console", "command")
		c.open = func(ctx context.Context) (link, error) { return startCommand(ctx, cfg.Command) }
	}
	return c, nil
}

// Run keeps the console connected until ctx ends: it opens it, copies
// its output to the history and the attached session, and reopens it
// with a growing delay when it fails. A console that is missing (an
// unplugged adapter, a VM not started yet) is logged once per outage and
// retried; it never stops the daemon.
func (c *Console) Run(ctx context.Context) {
	backoff := minBackoff
	down := false
	for ctx.Err() == nil {
		l, err := c.open(ctx)
		if err != nil {
			if !down {
				c.log.Warn("console not available; retrying", "err", err)
				down = true
			} else {
				c.log.Debug("console still not available", "err", err, "retry_in", backoff)
			}
			if sleep(ctx, backoff) != nil {
				return
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		c.log.Info("console connected")
		down = false
		c.mu.Lock()
		c.link = l
		c.mu.Unlock()
		start := time.Now()
		err = c.pump(ctx, l)
		c.mu.Lock()
		c.link = nil
		c.mu.Unlock()
		l.Close()
		if ctx.Err() != nil {
			return
		}
		c.log.Warn("console disconnected; reconnecting", "err", err)
		down = true
		// A link that held for a while earns a quick reconnect.
		if time.Since(start) > maxBackoff {
			backoff = minBackoff
		}
		if sleep(ctx, backoff) != nil {
			return
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// pump copies the link's output until it fails or ctx ends.
func (c *Console) pump(ctx context.Context, l link) error {
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	buf := make([]byte, 4096)
	for {
		n, err := l.Read(buf)
		if n > 0 {
			c.output(buf[:n])
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("closed by the other end")
			}
			return err
		}
	}
}

// output records console output: into the history and the session.
func (c *Console) output(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.history.write(p)
	if s := c.session; s != nil {
		s.deliver(p)
	}
}

// Connected reports whether the console is open now.
func (c *Console) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.link != nil
}

// History returns a copy of the kept output.
func (c *Console) History() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.history.bytes()
}

// Attach starts a session, which first reads the history. Only one session
// may be attached at a time; a second gets ErrBusy. A session can attach
// while the console is disconnected: it reads nothing and cannot type
// until the console is back.
func (c *Console) Attach(context.Context) (*Session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.session != nil {
		return nil, ErrBusy
	}
	s := &Session{c: c, limit: c.history.limit + sessionBuffer}
	s.buf = c.history.bytes()
	c.session = s
	return s, nil
}

// Session is one attachment to a console. It implements what go-ipmi's
// SOL data plane needs of a console connection.
type Session struct {
	c     *Console
	limit int

	mu      sync.Mutex
	buf     []byte // output not yet read
	dropped int    // bytes dropped because the reader fell behind
	closed  bool
}

// deliver appends console output for the session, dropping the oldest when
// the reader has fallen too far behind. c.mu is held.
func (s *Session) deliver(p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(s.buf, p...)
	if over := len(s.buf) - s.limit; over > 0 {
		s.buf = append(s.buf[:0], s.buf[over:]...)
		s.dropped += over
	}
}

// ReadAvailable copies pending output into p without blocking; (0, nil)
// when there is none.
func (s *Session) ReadAvailable(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, io.ErrClosedPipe
	}
	n := copy(p, s.buf)
	s.buf = append(s.buf[:0], s.buf[n:]...)
	return n, nil
}

// Write types p on the console. While the console is disconnected, or when
// it does not take the characters within a second, it reports how much
// was taken (possibly nothing) without an error: the session stays up and
// the remote console sees the characters not accepted.
func (s *Session) Write(p []byte) (int, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return 0, io.ErrClosedPipe
	}
	s.c.mu.Lock()
	l := s.c.link
	s.c.mu.Unlock()
	if l == nil {
		return 0, nil
	}
	_ = l.setWriteDeadline(time.Now().Add(writeTimeout))
	n, err := l.Write(p)
	if err != nil {
		s.c.log.Debug("console write failed", "err", err, "written", n, "of", len(p))
	}
	return n, nil
}

// SendBreak sends a serial break (a serial device only).
func (s *Session) SendBreak(context.Context) error {
	s.c.mu.Lock()
	l := s.c.link
	s.c.mu.Unlock()
	if l == nil {
		return errors.New("console not connected")
	}
	return l.sendBreak()
}

// Close detaches the session; the console stays open for the next one.
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	dropped := s.dropped
	s.mu.Unlock()
	s.c.mu.Lock()
	if s.c.session == s {
		s.c.session = nil
	}
	s.c.mu.Unlock()
	if dropped > 0 {
		s.c.log.Info("console session ended; output the reader could not keep up with was dropped", "bytes", dropped)
	}
	return nil
}

// ring keeps the last limit bytes written.
type ring struct {
	limit int
	buf   []byte
}

func (r *ring) write(p []byte) {
	if r.limit <= 0 {
		return
	}
	if len(p) >= r.limit {
		r.buf = append(r.buf[:0], p[len(p)-r.limit:]...)
		return
	}
	if over := len(r.buf) + len(p) - r.limit; over > 0 {
		r.buf = append(r.buf[:0], r.buf[over:]...)
	}
	r.buf = append(r.buf, p...)
}

func (r *ring) bytes() []byte { return append([]byte(nil), r.buf...) }

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
