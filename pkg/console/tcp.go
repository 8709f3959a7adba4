package console

import (
	"context"
	"net"
	"time"
)

// tcpLink is a raw TCP console: bytes in both directions, no telnet
// negotiation (ser2net's "raw" mode, QEMU's -serial tcp:...,server).
type tcpLink struct{ net.Conn }

func dialTCP(ctx context.Context, addr string) (link, error) {
	d := net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return tcpLink{c}, nil
}

func (l tcpLink) setWriteDeadline(t time.Time) error { return l.SetWriteDeadline(t) }
func (l tcpLink) sendBreak() error                   { return ErrNoBreak }
