package probe

import (
	"context"
	"errors"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"github.com/powerjockey/powerjockey/pkg/power"
	"github.com/powerjockey/powerjockey/test/testkit"
)

var (
	_ power.Sensor = (*TCP)(nil)
	_ power.Sensor = (*ICMP)(nil)
)

// openPort is a 127.0.0.1 address with a listener that accepts.
func openPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
	})
	return l.Addr().String()
}

// silentPort is a 127.0.0.1 address whose listener never accepts and whose
// accept queue is full, so the kernel drops further SYNs: a connection
// attempt gets no answer at all, as from a machine that is off.
func silentPort(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	// Fill the accept queue (backlog 0 holds one connection) until a
	// connection attempt goes unanswered.
	for i := range 8 {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return addr
			}
			t.Fatalf("filling the accept queue, attempt %d: %v", i, err)
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("could not make a silent port: the kernel kept accepting connections")
	return ""
}

func TestTCP(t *testing.T) {
	tests := []struct {
		name    string
		addr    func(*testing.T) string
		timeout time.Duration
		want    power.State
	}{
		{"listening", openPort, time.Second, power.StateOn},
		{"refused", func(t *testing.T) string { return testkit.FreeAddr(t, "tcp") }, time.Second, power.StateOn},
		{"silent", silentPort, 200 * time.Millisecond, power.StateOff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &TCP{Addr: tt.addr(t), Timeout: tt.timeout}
			if p.Name() != "probe" {
				t.Errorf("Name = %q", p.Name())
			}
			start := time.Now()
			r, err := p.Read(context.Background())
			took := time.Since(start)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if r.State != tt.want {
				t.Errorf("state %v, want %v", r.State, tt.want)
			}
			if r.Source != "probe" || r.At.Before(start) || r.At.After(time.Now()) {
				t.Errorf("reading %+v", r)
			}
			if took > tt.timeout+500*time.Millisecond {
				t.Errorf("Read took %v with a %v timeout", took, tt.timeout)
			}
		})
	}
}

// TestTCPContext: the caller's context bounds the probe; a deadline reads
// as silence, a cancellation is an error rather than a made-up "off".
func TestTCPContext(t *testing.T) {
	addr := silentPort(t)
	p := &TCP{Addr: addr, Timeout: 10 * time.Second}

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	r, err := p.Read(ctx)
	if err != nil || r.State != power.StateOff {
		t.Errorf("Read with a short deadline = %v, %v; want off", r.State, err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Read took %v, want about 150ms", took)
	}

	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start = time.Now()
	if _, err := p.Read(ctx); err == nil {
		t.Error("Read with a cancelled context reported a state")
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("cancelled Read took %v", took)
	}
}

func TestTCPBadAddress(t *testing.T) {
	for _, addr := range []string{"127.0.0.1", "127.0.0.1:notaport", "127.0.0.1:70000"} {
		p := &TCP{Addr: addr, Timeout: time.Second}
		if r, err := p.Read(context.Background()); err == nil {
			t.Errorf("Read(%q) = %v, want an error", addr, r.State)
		}
	}
}

// TestICMP pings 127.0.0.1, where an unprivileged ICMP socket is allowed
// (net.ipv4.ping_group_range); raw sockets are not used by the test.
func TestICMP(t *testing.T) {
	c, err := icmp.ListenPacket("udp4", "127.0.0.1")
	if err != nil {
		t.Skipf("unprivileged ICMP sockets are not allowed here (net.ipv4.ping_group_range): %v", err)
	}
	c.Close()
	p := &ICMP{Host: "127.0.0.1", Timeout: 2 * time.Second}
	if p.Name() != "probe" {
		t.Errorf("Name = %q", p.Name())
	}
	r, err := p.Read(context.Background())
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if r.State != power.StateOn || r.Source != "probe" {
		t.Errorf("reading %+v, want on from probe", r)
	}
}

// TestIsReply: only the echo reply to this probe's own request counts. A
// raw socket also sees replies meant for other probes running at the same
// time (which share the process's ID), for other hosts, and our own
// outgoing requests on loopback.
func TestIsReply(t *testing.T) {
	target := net.IPv4(127, 0, 0, 1)
	other := net.IPv4(127, 0, 0, 2)
	msg := func(typ icmp.Type, id, seq int) []byte {
		b, err := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("powerjockey")}}).Marshal(nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	raw := func(ip net.IP) net.Addr { return &net.IPAddr{IP: ip} }
	udp := func(ip net.IP) net.Addr { return &net.UDPAddr{IP: ip} }
	tests := []struct {
		name         string
		b            []byte
		from         net.Addr
		unprivileged bool
		want         bool
	}{
		{"raw: our reply", msg(ipv4.ICMPTypeEchoReply, 42, 7), raw(target), false, true},
		{"raw: another probe's reply from another host", msg(ipv4.ICMPTypeEchoReply, 42, 8), raw(other), false, false},
		{"raw: another probe's reply from our host", msg(ipv4.ICMPTypeEchoReply, 42, 8), raw(target), false, false},
		{"raw: our sequence from another host", msg(ipv4.ICMPTypeEchoReply, 42, 7), raw(other), false, false},
		{"raw: another process's reply", msg(ipv4.ICMPTypeEchoReply, 43, 7), raw(target), false, false},
		{"raw: our own request looped back", msg(ipv4.ICMPTypeEcho, 42, 7), raw(target), false, false},
		{"raw: unreachable", msg(ipv4.ICMPTypeDestinationUnreachable, 42, 7), raw(target), false, false},
		{"raw: garbage", []byte{1, 2, 3}, raw(target), false, false},
		{"unprivileged: ID rewritten by the kernel", msg(ipv4.ICMPTypeEchoReply, 999, 7), udp(target), true, true},
		{"unprivileged: wrong sequence", msg(ipv4.ICMPTypeEchoReply, 999, 6), udp(target), true, false},
		{"unprivileged: another host", msg(ipv4.ICMPTypeEchoReply, 999, 7), udp(other), true, false},
	}
	for _, tt := range tests {
		if got := isReply(tt.b, tt.from, target, 42, 7, tt.unprivileged); got != tt.want {
			t.Errorf("%s: isReply = %v, want %v", tt.name, got, tt.want)
		}
	}
}
