// Package probe tells whether a machine is up by reaching it over the
// network: a TCP connection attempt or an ICMP echo. It stands in for a power
// sensor on nodes whose PDU does not meter (or that have no PDU): a machine
// that shut itself down stops answering even while its outlet stays on.
package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"github.com/powerjockey/powerjockey/pkg/power"
)

// TCP probes host:port. A completed handshake or a refusal (RST) both prove
// that the machine's network stack is running, so both read as on; only
// silence (timeout, unreachable) reads as off.
type TCP struct {
	Addr    string
	Timeout time.Duration
}

// Name implements power.Sensor.
func (p *TCP) Name() string { return "probe" }

// Read implements power.Sensor.
func (p *TCP) Read(ctx context.Context) (power.Reading, error) {
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", p.Addr)
	r := power.Reading{Source: "probe", At: time.Now(), State: power.StateOff}
	switch {
	case err == nil:
		conn.Close()
		r.State = power.StateOn
	case errors.Is(err, syscall.ECONNREFUSED):
		r.State = power.StateOn
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
	default:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			return power.Reading{}, fmt.Errorf("probe tcp %s: %w", p.Addr, err)
		}
	}
	return r, nil
}

// ICMP probes a host with one echo request. It uses an unprivileged ICMP
// socket where net.ipv4.ping_group_range allows, else a raw socket
// (CAP_NET_RAW).
type ICMP struct {
	Host    string
	Timeout time.Duration
}

// Name implements power.Sensor.
func (p *ICMP) Name() string { return "probe" }

// Read implements power.Sensor.
func (p *ICMP) Read(ctx context.Context) (power.Reading, error) {
	ip, err := net.DefaultResolver.LookupIP(ctx, "ip4", p.Host)
	if err != nil || len(ip) == 0 {
		return power.Reading{}, fmt.Errorf("probe icmp %s: resolve: %w", p.Host, err)
	}
	network, dst := "udp4", net.Addr(&net.UDPAddr{IP: ip[0]})
	conn, err := icmp.ListenPacket(network, "0.0.0.0")
	if err != nil {
		network, dst = "ip4:icmp", &net.IPAddr{IP: ip[0]}
		if conn, err = icmp.ListenPacket(network, "0.0.0.0"); err != nil {
			return power.Reading{}, fmt.Errorf("probe icmp %s: open socket (needs ping_group_range or CAP_NET_RAW): %w", p.Host, err)
		}
	}
	defer conn.Close()
	id := os.Getpid() & 0xffff
	// Concurrent probes share the ID; the sequence number tells them apart.
	seq := int(echoSeq.Add(1) & 0xffff)
	msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("powerjockey")}}
	b, _ := msg.Marshal(nil)
	deadline := time.Now().Add(p.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	if _, err := conn.WriteTo(b, dst); err != nil {
		return power.Reading{}, fmt.Errorf("probe icmp %s: send: %w", p.Host, err)
	}
	r := power.Reading{Source: "probe", At: time.Now(), State: power.StateOff}
	buf := make([]byte, 1500)
	// A raw socket also hands us every other ICMP message the host gets
	// (replies to concurrent probes of other nodes among them): read until
	// the deadline, with a count bound only against a flood.
	for i := 0; i < 1024; i++ {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			return r, nil // silence: off
		}
		if isReply(buf[:n], from, ip[0], id, seq, network == "udp4") {
			r.State = power.StateOn
			return r, nil
		}
	}
	return r, nil
}

// echoSeq numbers echo requests, so that concurrent probes (which share the
// process's ID) each recognise their own reply.
var echoSeq atomic.Uint32

// isReply reports whether b, received from from, is the echo reply to our
// request (id, seq) to target. A raw socket sees every ICMP message the host
// receives, including replies to other probes running at the same time, so
// the source and sequence number must match too. Unprivileged sockets
// rewrite the ID (the kernel matches it for us) and keep the sequence.
func isReply(b []byte, from net.Addr, target net.IP, id, seq int, unprivileged bool) bool {
	reply, err := icmp.ParseMessage(1, b)
	if err != nil || reply.Type != ipv4.ICMPTypeEchoReply {
		return false
	}
	e, ok := reply.Body.(*icmp.Echo)
	if !ok || e.Seq != seq || (!unprivileged && e.ID != id) {
		return false
	}
	var src net.IP
	switch a := from.(type) {
	case *net.IPAddr:
		src = a.IP
	case *net.UDPAddr:
		src = a.IP
	}
	return src.Equal(target)
}
