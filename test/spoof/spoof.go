// Package spoof sends UDP datagrams with a forged IPv4 source address
// through a raw socket (IP_HDRINCL): what a blind attacker on the
// provisioning network can do to powerjockey's IPMI endpoints. It refuses
// any destination outside 127.0.0.0/8: tests forge traffic on loopback only.
package spoof

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"syscall"
	"testing"
)

// Sender writes forged datagrams.
type Sender struct {
	fd  int
	buf []byte
}

// New opens a raw IPv4 socket; it needs CAP_NET_RAW (root in CI).
func New() (*Sender, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_RAW)
	if err != nil {
		return nil, fmt.Errorf("raw socket: %w", err)
	}
	// IPPROTO_RAW implies IP_HDRINCL; set it anyway to say what we rely on.
	if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_IP, syscall.IP_HDRINCL, 1); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("IP_HDRINCL: %w", err)
	}
	return &Sender{fd: fd, buf: make([]byte, 0, 1500)}, nil
}

// Open returns a Sender for a test. Without raw sockets it skips the test,
// unless CI is set: there the tests run as root and a missing capability
// is a failure.
func Open(t testing.TB) *Sender {
	t.Helper()
	s, err := New()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("forged-source tests need raw sockets (run as root): %v", err)
		}
		t.Skipf("forged-source test skipped: raw sockets unavailable (%v); CI is unset", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// ErrNotLoopback refuses a destination outside 127.0.0.0/8.
var ErrNotLoopback = errors.New("spoof: destination is not a loopback address")

// Send writes payload as one UDP datagram from src to dst. The kernel
// fills in the IP checksum, total length and ID; the UDP checksum is left
// zero (optional in IPv4).
func (s *Sender) Send(src, dst netip.AddrPort, payload []byte) error {
	if !dst.Addr().Is4() || !dst.Addr().IsLoopback() || !src.Addr().Is4() {
		return ErrNotLoopback
	}
	b := s.buf[:0]
	b = append(b, 0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, syscall.IPPROTO_UDP, 0, 0)
	sa, da := src.Addr().As4(), dst.Addr().As4()
	b = append(b, sa[:]...)
	b = append(b, da[:]...)
	b = binary.BigEndian.AppendUint16(b, src.Port())
	b = binary.BigEndian.AppendUint16(b, dst.Port())
	b = binary.BigEndian.AppendUint16(b, uint16(8+len(payload)))
	b = append(b, 0, 0)
	b = append(b, payload...)
	s.buf = b
	return syscall.Sendto(s.fd, b, 0, &syscall.SockaddrInet4{Addr: da})
}

// Close closes the socket.
func (s *Sender) Close() error { return syscall.Close(s.fd) }
