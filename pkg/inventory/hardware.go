package inventory

import (
	"context"
	"errors"
	"fmt"

	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/pkg/console"
	"github.com/powerjockey/powerjockey/pkg/ipmi"
)

// startConsole opens a node's serial console in the background (it never
// delays the start: a missing device or an unreachable console server is
// retried). It runs until stop is called.
func (inv *Inventory) startConsole(ctx context.Context, n config.Node) (c *console.Console, stop func(), err error) {
	if n.Console == nil {
		return nil, func() {}, nil
	}
	c, err = console.New(console.Config{
		Name:    n.Name,
		Device:  n.Console.Device,
		Baud:    n.Console.Baud,
		TCP:     n.Console.TCP,
		Command: n.Console.Command,
		History: *n.Console.History,
		Logger:  inv.log,
	})
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	return c, func() { cancel(); <-done }, nil
}

// hardware is what a node's BMC reports beyond power and boot.
func hardware(n config.Node, c *console.Console) ipmi.Hardware {
	h := ipmi.Hardware{MaxWatts: n.MaxWatts}
	if n.PDU != nil {
		for _, o := range n.PDU.Outlets {
			h.Outlets = append(h.Outlets, ipmi.OutletRef{PDU: n.PDU.Name, Outlet: o})
		}
	}
	if f := n.FRU; f != nil {
		h.FRU = ipmi.FRUInfo{Manufacturer: f.Manufacturer, Product: f.Product, PartNumber: f.PartNumber,
			Version: f.Version, Serial: f.Serial, AssetTag: f.AssetTag}
	}
	if c != nil {
		h.Console = solConsole{c}
		h.BitRate = n.Console.Baud
	}
	return h
}

// solConsole gives the IPMI face a node's console.
type solConsole struct{ c *console.Console }

func (s solConsole) Attach(ctx context.Context) (ipmi.ConsoleSession, error) {
	sess, err := s.c.Attach(ctx)
	if errors.Is(err, console.ErrBusy) {
		return nil, fmt.Errorf("%w: %w", ipmi.ErrConsoleBusy, err)
	}
	if err != nil {
		return nil, err
	}
	return sess, nil
}
