// Package wol powers machines on with Wake-on-LAN magic packets, over UDP
// (broadcast or directed) or as raw Ethernet frames (EtherType 0x0842).
package wol

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/mdlayher/wol"

	"github.com/powerjockey/powerjockey/pkg/power"
)

// Sender transmits one magic packet for target. *UDPSender and
// *RawSender implement it; tests may substitute their own.
type Sender interface {
	Send(target net.HardwareAddr, password []byte) error
	// Describe names the destination for logs ("udp 192.168.24.255:9", "eth1").
	Describe() string
}

// Config describes how one machine is woken.
type Config struct {
	MAC      net.HardwareAddr
	Password []byte // SecureOn; empty, 4 or 6 bytes
	// Repeat is the number of packets sent in all (at least 1), Interval apart:
	// NICs that have only just regained standby power miss the first ones.
	Repeat   int
	Interval time.Duration
}

// Actuator wakes one machine.
type Actuator struct {
	cfg    Config
	sender Sender
	// OnSent, if set, is called after each packet sent (metrics).
	OnSent func()
}

// New returns an actuator that wakes cfg.MAC through s.
func New(s Sender, cfg Config) *Actuator {
	if cfg.Repeat < 1 {
		cfg.Repeat = 1
	}
	return &Actuator{cfg: cfg, sender: s}
}

// Name implements power.Actuator.
func (a *Actuator) Name() string { return "wol" }

// Supports implements power.Actuator: a magic packet can only power on.
func (a *Actuator) Supports(act power.Action) bool { return act == power.On }

// Do sends the first magic packet and returns the repeats as a continuation.
func (a *Actuator) Do(ctx context.Context, act power.Action) (power.Continuation, error) {
	if act != power.On {
		return nil, fmt.Errorf("wol: %w: %s", power.ErrUnsupported, act)
	}
	if err := a.send(); err != nil {
		return nil, err
	}
	if a.cfg.Repeat == 1 {
		return nil, nil
	}
	return func(ctx context.Context) error {
		for i := 1; i < a.cfg.Repeat; i++ {
			if err := power.Sleep(ctx, a.cfg.Interval); err != nil {
				return err
			}
			if err := a.send(); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

func (a *Actuator) send() error {
	if err := a.sender.Send(a.cfg.MAC, a.cfg.Password); err != nil {
		return fmt.Errorf("wol %s via %s: %w", a.cfg.MAC, a.sender.Describe(), err)
	}
	if a.OnSent != nil {
		a.OnSent()
	}
	return nil
}

// UDPSender sends magic packets as UDP datagrams to a fixed destination.
type UDPSender struct {
	client *wol.Client
	target string
}

// NewUDPSender sends through client (one shared socket is enough for every
// node) to target, a host:port such as "192.168.24.255:9".
func NewUDPSender(client *wol.Client, target string) *UDPSender {
	return &UDPSender{client: client, target: target}
}

// Send implements Sender.
func (s *UDPSender) Send(target net.HardwareAddr, password []byte) error {
	return s.client.WakePassword(s.target, target, password)
}

// Describe implements Sender.
func (s *UDPSender) Describe() string { return "udp " + s.target }

// RawSender sends magic packets as Ethernet frames on one interface; it
// needs CAP_NET_RAW.
type RawSender struct {
	client *wol.RawClient
	ifname string
}

// NewRawSender opens a raw socket on the interface named ifname.
func NewRawSender(ifname string) (*RawSender, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("wol interface %s: %w", ifname, err)
	}
	c, err := wol.NewRawClient(ifi)
	if err != nil {
		return nil, fmt.Errorf("wol interface %s: raw socket (needs CAP_NET_RAW): %w", ifname, err)
	}
	return &RawSender{client: c, ifname: ifname}, nil
}

// Send implements Sender.
func (s *RawSender) Send(target net.HardwareAddr, password []byte) error {
	return s.client.WakePassword(target, password)
}

// Describe implements Sender.
func (s *RawSender) Describe() string { return "ethernet " + s.ifname }

// Close releases the raw socket.
func (s *RawSender) Close() error { return s.client.Close() }
