package inventory

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power/pdu"
)

// OpenNode builds the named node of the configuration with its power
// means (PDU client, Wake-on-LAN sender, exec hooks, probe) and persisted
// state, and nothing else: no other node, no endpoint, no console, no
// background sampling. The CLI's `power --direct` uses it to operate one
// node in-process when no daemon runs. It is for an inventory that was not
// started; Close releases the node with everything else.
func (inv *Inventory) OpenNode(ctx context.Context, name string) (*node.Node, error) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if e, ok := inv.nodes[name]; ok {
		return e.node, nil
	}
	var n *config.Node
	for i := range inv.cfg.Nodes {
		if inv.cfg.Nodes[i].Name == name {
			n = &inv.cfg.Nodes[i]
			break
		}
	}
	if n == nil {
		return nil, fmt.Errorf("no node %q in %s", name, inv.cfg.Path)
	}
	if inv.ctx == nil {
		inv.ctx = ctx
	}
	if n.PDU != nil && inv.pdus[n.PDU.Name] == nil {
		for _, p := range inv.cfg.PDUs {
			if p.Name != n.PDU.Name {
				continue
			}
			c, err := newPDUClient(p, inv.log, inv.obs)
			if err != nil {
				return nil, err
			}
			inv.pdus[p.Name] = c
		}
	}
	e, err := inv.newNode(ctx, *n)
	if err != nil {
		return nil, err
	}
	inv.nodes[name] = e
	return e.node, nil
}

// NewPDUClient builds the SNMP client of one configured PDU exactly as the
// inventory does (the CLI's `check --probe` and `discover --config` use
// it). Close it when done.
func NewPDUClient(p config.PDU, log *slog.Logger) (*pdu.Client, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return newPDUClient(p, log, nil)
}
