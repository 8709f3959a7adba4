package daemon

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power/pdu"
)

// StartNodeOnly builds the named node of the configuration with its power
// means (PDU client, Wake-on-LAN sender, exec hooks, probe) and persisted
// state, but without its IPMI endpoint: the CLI's `power --direct` uses it
// to operate one node in-process when no daemon runs. The daemon must come
// from [New] (so it holds the state directory's lock) and must not be
// started; Stop releases the node with everything else.
func (d *Daemon) StartNodeOnly(ctx context.Context, name string) (*node.Node, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.nodes[name]; ok {
		return e.node, nil
	}
	var n *config.Node
	for i := range d.cfg.Nodes {
		if d.cfg.Nodes[i].Name == name {
			n = &d.cfg.Nodes[i]
			break
		}
	}
	if n == nil {
		return nil, fmt.Errorf("no node %q in %s", name, d.cfg.Path)
	}
	if d.ctx == nil {
		d.ctx = ctx
	}
	if n.PDU != nil && d.pdus[n.PDU.Name] == nil {
		for _, p := range d.cfg.PDUs {
			if p.Name != n.PDU.Name {
				continue
			}
			c, err := newPDUClient(p, d.log, d.metrics)
			if err != nil {
				return nil, err
			}
			d.pdus[p.Name] = c
		}
	}
	e, err := d.newNode(ctx, *n)
	if err != nil {
		return nil, err
	}
	d.nodes[name] = e
	return e.node, nil
}

// NewPDUClient builds the SNMP client of one configured PDU exactly as the
// daemon does (the CLI's `check --probe` uses it). Close it when done.
func NewPDUClient(p config.PDU, log *slog.Logger) (*pdu.Client, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return newPDUClient(p, log, nil)
}
