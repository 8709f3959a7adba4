package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/mdlayher/wol"
)

// Config describes a simulated rack.
type Config struct {
	PDUs     []PDUConfig
	Machines []MachineConfig
	// WoLListen are the UDP addresses where machines' NICs hear magic
	// packets (a loopback stand-in for the broadcast domain).
	WoLListen []string
	Logger    *slog.Logger
}

// Rack is a running simulation.
type Rack struct {
	log      *slog.Logger
	pdus     map[string]*PDU
	machines map[string]*Machine
	byMAC    map[string]*Machine
	wol      []*net.UDPConn

	malformedWoL atomic.Int64
}

// New builds the rack and binds every socket; Run serves them.
func New(cfg Config) (*Rack, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Rack{log: cfg.Logger, pdus: map[string]*PDU{}, machines: map[string]*Machine{}, byMAC: map[string]*Machine{}}
	for _, pc := range cfg.PDUs {
		p, err := newPDU(pc, r)
		if err != nil {
			r.Close()
			return nil, err
		}
		r.pdus[pc.Name] = p
	}
	for _, mc := range cfg.Machines {
		if mc.StandbyWatts == 0 {
			mc.StandbyWatts = 4
		}
		if mc.RunningWatts == 0 {
			mc.RunningWatts = 120
		}
		m := &Machine{cfg: mc, rack: r, log: r.log}
		if mc.PDU != "" {
			p := r.pdus[mc.PDU]
			if p == nil {
				r.Close()
				return nil, fmt.Errorf("sim machine %s: unknown PDU %q", mc.Name, mc.PDU)
			}
			for _, o := range mc.Outlets {
				p.feeding[o] = append(p.feeding[o], m)
			}
		}
		if m.powered() {
			m.state = Standby
		}
		r.machines[mc.Name] = m
		switch {
		case mc.VM != nil:
			if mc.VM.Serial == "" && mc.Console != "" {
				vc := *mc.VM
				vc.Serial = mc.Console
				m.cfg.VM = &vc
			}
			if err := r.newVM(m); err != nil {
				r.Close()
				return nil, err
			}
		case mc.Console != "":
			c, err := listenConsole(mc.Console)
			if err != nil {
				r.Close()
				return nil, fmt.Errorf("sim machine %s console: %w", mc.Name, err)
			}
			m.console = c
		}
		if len(mc.MAC) > 0 {
			r.byMAC[mc.MAC.String()] = m
		}
	}
	for _, addr := range cfg.WoLListen {
		ua, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("sim wol %s: %w", addr, err)
		}
		c, err := net.ListenUDP("udp", ua)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("sim wol %s: %w", addr, err)
		}
		r.wol = append(r.wol, c)
	}
	return r, nil
}

// Run serves every PDU agent and WoL listener until ctx ends.
func (r *Rack) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(r.pdus)+len(r.wol))
	for _, p := range r.pdus {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.agent.Serve(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errs <- fmt.Errorf("sim pdu %s: %w", p.cfg.Name, err)
			}
		}()
	}
	for _, c := range r.wol {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.serveWoL(ctx, c)
		}()
	}
	r.serveVMs(ctx, &wg)
	for _, m := range r.machines {
		if m.console == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.console.serve(ctx, func() bool { return m.State() == Running })
		}()
	}
	<-ctx.Done()
	r.Close()
	wg.Wait()
	close(errs)
	return errors.Join(collect(errs)...)
}

func collect(ch <-chan error) []error {
	var out []error
	for err := range ch {
		out = append(out, err)
	}
	return out
}

// serveWoL reads magic packets and wakes the machine they name.
func (r *Rack) serveWoL(ctx context.Context, c *net.UDPConn) {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	buf := make([]byte, 1500)
	for {
		n, _, err := c.ReadFromUDP(buf)
		if err != nil {
			return
		}
		r.HandleMagicPacket(buf[:n])
	}
}

// HandleMagicPacket decodes one datagram as a Wake-on-LAN magic packet and
// wakes the machine with that MAC. Anything else is counted and ignored.
func (r *Rack) HandleMagicPacket(b []byte) {
	var mp wol.MagicPacket
	if err := mp.UnmarshalBinary(b); err != nil {
		r.malformedWoL.Add(1)
		r.log.Debug("not a magic packet", "len", len(b), "err", err)
		return
	}
	m := r.byMAC[mp.Target.String()]
	if m == nil {
		r.log.Debug("magic packet for an unknown MAC", "mac", mp.Target.String())
		return
	}
	r.log.Info("magic packet received", "machine", m.cfg.Name, "mac", mp.Target.String())
	m.wake()
}

// MalformedWoL counts datagrams that were not magic packets.
func (r *Rack) MalformedWoL() int64 { return r.malformedWoL.Load() }

// Machine returns the named machine, or nil.
func (r *Rack) Machine(name string) *Machine { return r.machines[name] }

// PDU returns the named PDU, or nil.
func (r *Rack) PDU(name string) *PDU { return r.pdus[name] }

// WoLAddrs are the bound WoL listener addresses.
func (r *Rack) WoLAddrs() []string {
	out := make([]string, len(r.wol))
	for i, c := range r.wol {
		out[i] = c.LocalAddr().String()
	}
	return out
}

// Close releases every socket; Run does it when its context ends.
func (r *Rack) Close() {
	for _, p := range r.pdus {
		p.closed.Store(true)
		if p.agent != nil {
			p.agent.Close()
		}
	}
	for _, c := range r.wol {
		c.Close()
	}
	r.closeVMs()
	for _, m := range r.machines {
		if m.console != nil {
			m.console.close()
		}
	}
}
