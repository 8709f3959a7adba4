package inventory

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	gobmc "github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/types"
	mwol "github.com/mdlayher/wol"

	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/pkg/ipmi"
	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
	"github.com/powerjockey/powerjockey/pkg/power/exechook"
	"github.com/powerjockey/powerjockey/pkg/power/pdu"
	"github.com/powerjockey/powerjockey/pkg/power/probe"
	"github.com/powerjockey/powerjockey/pkg/power/wol"
)

// newPDUClient builds the SNMP client of one configured PDU.
func newPDUClient(p config.PDU, log *slog.Logger, obs pdu.Observer) (*pdu.Client, error) {
	s := p.SNMP
	return pdu.New(pdu.Config{
		Name:    p.Name,
		Address: p.Address,
		Model:   p.Model,
		SNMP: pdu.SNMPConfig{
			Version:        s.Version,
			CommunityRead:  s.CommunityRead,
			CommunityWrite: s.CommunityWrite,
			User:           s.User,
			AuthProtocol:   s.AuthProtocol,
			AuthPassphrase: s.AuthPassphrase,
			PrivProtocol:   s.PrivProtocol,
			PrivPassphrase: s.PrivPassphrase,
			ContextName:    s.ContextName,
			Timeout:        s.Timeout.D(),
			Retries:        *s.Retries,
		},
		CacheTTL:      p.CacheTTL.D(),
		Stagger:       p.Stagger.D(),
		VerifyTimeout: p.VerifyTimeout.D(),
		Logger:        log,
		Observer:      obs,
	})
}

// nodeConfig turns one configured node into the node layer's config,
// building its means from the shared PDU clients and WoL senders.
func (inv *Inventory) nodeConfig(n config.Node) (node.Config, *pdu.Feed, error) {
	nc := node.Config{
		Name:           n.Name,
		OnDelay:        n.OnDelay.D(),
		CycleDelay:     n.CycleDelay.D(),
		WattsOn:        *n.Status.WattsOn,
		MaxAge:         n.Status.MaxAge.D(),
		SampleInterval: n.Status.SampleInterval.D(),
		Boot:           inv.nodeBootConfig(n),
		Logger:         inv.log,
		Observer:       inv.obs,
	}
	src, err := power.ParseSource(n.Status.Source)
	if err != nil {
		return nc, nil, fmt.Errorf("node %s: %w", n.Name, err)
	}
	nc.StatusSource = src
	if n.Fallback == "error" {
		nc.Fallback = node.FallbackError
	}
	if n.GUID != "" {
		g, err := config.ParseGUID(n.GUID)
		if err != nil {
			return nc, nil, err
		}
		nc.GUID = node.GUID(g)
	}
	var feed *pdu.Feed
	if n.PDU != nil {
		c := inv.pdus[n.PDU.Name]
		if c == nil {
			return nc, nil, fmt.Errorf("node %s: unknown PDU %q", n.Name, n.PDU.Name)
		}
		feed = pdu.NewFeed(c, n.PDU.Outlets)
		nc.Means.Feed = feed
	}
	if n.WoL != nil {
		sender, err := inv.wolSender(n.WoL)
		if err != nil {
			return nc, nil, fmt.Errorf("node %s: %w", n.Name, err)
		}
		a := wol.New(sender, wol.Config{
			MAC:      net.HardwareAddr(n.MAC),
			Password: []byte(n.WoL.Password),
			Repeat:   n.WoL.Repeat,
			Interval: n.WoL.Interval.D(),
		})
		if inv.obs != nil {
			a.OnSent = func() { inv.obs.WoLSent(n.Name) }
		}
		nc.Means.Waker = a
	}
	if e := n.Exec; e != nil {
		hooks := exechook.New(exechook.Config{
			Node: n.Name,
			Commands: map[power.Action]string{
				power.On: e.On, power.Off: e.Off, power.SoftOff: e.SoftOff,
				power.Cycle: e.Cycle, power.Reset: e.Reset, power.Diag: e.Diag,
			},
			Status:  e.Status,
			Timeout: e.Timeout.D(),
			Logger:  inv.log,
		})
		nc.Means.Hooks = hooks
		if hooks.HasStatus() {
			nc.Means.ExecStatus = hooks
		}
	}
	if p := n.Status.Probe; p != nil {
		if p.TCP != "" {
			nc.Means.Probe = &probe.TCP{Addr: p.TCP, Timeout: p.Timeout.D()}
		} else {
			nc.Means.Probe = &probe.ICMP{Host: p.ICMP, Timeout: p.Timeout.D()}
		}
	}
	return nc, feed, nil
}

// wolSender is the sender of a node's magic packets: the raw socket of
// its interface, or the shared UDP socket, each opened on first use (a
// configuration without Wake-on-LAN opens none).
func (inv *Inventory) wolSender(w *config.WoL) (wol.Sender, error) {
	if w.Interface != "" {
		if s, ok := inv.rawSenders[w.Interface]; ok {
			return s, nil
		}
		s, err := wol.NewRawSender(w.Interface)
		if err != nil {
			return nil, err
		}
		inv.rawSenders[w.Interface] = s
		return s, nil
	}
	if inv.wolClient == nil {
		c, err := mwol.NewClient()
		if err != nil {
			return nil, fmt.Errorf("wake-on-lan socket: %w", err)
		}
		inv.wolClient = c
	}
	return wol.NewUDPSender(inv.wolClient, w.Target), nil
}

// nodeBootConfig is how a node's machine takes part in the boot endpoint:
// whether it fetches its script, and the image checker of its virtual
// media (none without an endpoint).
func (inv *Inventory) nodeBootConfig(n config.Node) node.BootConfig {
	bc := node.BootConfig{FetchesScript: inv.cfg.FetchesBootScript(n)}
	if inv.cfg.Boot.Listen != "" {
		bc.Media = inv.mediaChecker
	}
	return bc
}

// privileges are the IPMI face's levels of the configuration's names.
var privileges = map[config.Privilege]gobmc.PrivilegeLevel{
	config.PrivilegeCallback:      gobmc.PrivilegeLevelCallback,
	config.PrivilegeUser:          gobmc.PrivilegeLevelUser,
	config.PrivilegeOperator:      gobmc.PrivilegeLevelOperator,
	config.PrivilegeAdministrator: gobmc.PrivilegeLevelAdministrator,
}

// endpointConfig is a node's IPMI endpoint configuration.
func endpointConfig(c *config.Config, n config.Node) ipmi.EndpointConfig {
	suites := c.IPMI.CipherSuites
	if n.IPMI.CipherSuites != nil {
		suites = n.IPMI.CipherSuites
	}
	ec := ipmi.EndpointConfig{
		Listen:         n.IPMI.Listen,
		Username:       n.IPMI.Username,
		Password:       n.IPMI.Password,
		Privilege:      privileges[n.IPMI.Privilege],
		MaxSessions:    c.IPMI.MaxSessions,
		SessionTimeout: c.IPMI.SessionTimeout.D(),
	}
	for _, s := range suites {
		ec.CipherSuites = append(ec.CipherSuites, types.CipherSuiteID(s))
	}
	for _, t := range *c.IPMI.V15AuthTypes {
		switch t {
		case "md5":
			ec.V15AuthTypes = append(ec.V15AuthTypes, gobmc.V15AuthTypeMD5)
		case "password":
			ec.V15AuthTypes = append(ec.V15AuthTypes, gobmc.V15AuthTypePassword)
		}
	}
	return ec
}

// startNode builds a node and serves it.
func (inv *Inventory) startNode(ctx context.Context, n config.Node) (*entry, error) {
	e, err := inv.newNode(ctx, n)
	if err != nil {
		return nil, err
	}
	if err := inv.serve(ctx, e); err != nil {
		return nil, err
	}
	return e, nil
}

// newNode builds a node (loading or creating its persisted state).
func (inv *Inventory) newNode(ctx context.Context, n config.Node) (*entry, error) {
	nc, feed, err := inv.nodeConfig(n)
	if err != nil {
		return nil, err
	}
	nd, err := node.New(ctx, nc, inv.store)
	if err != nil {
		if feed != nil {
			feed.Release()
		}
		return nil, err
	}
	return &entry{node: nd, cfg: n, feed: feed}, nil
}

// serve opens a built node's console and starts its IPMI endpoint, when
// the inventory has endpoints to serve; on failure the node is released.
func (inv *Inventory) serve(ctx context.Context, e *entry) error {
	if inv.endpoints == nil {
		return nil
	}
	con, stop, err := inv.startConsole(ctx, e.cfg)
	if err != nil {
		e.release()
		return err
	}
	e.console, e.stopConsole = con, stop
	ec := endpointConfig(inv.cfg, e.cfg)
	ec.Hardware = hardware(e.cfg, e.console)
	if _, err := inv.endpoints.Start(ctx, e.node, ec); err != nil {
		e.release()
		return err
	}
	return nil
}

// stopNode stops a node's endpoint, then the node.
func (inv *Inventory) stopNode(e *entry) {
	if inv.endpoints != nil {
		inv.endpoints.Stop(e.node.Name())
	}
	e.release()
}

// release stops the node and its console and takes its outlets out of its
// PDU's poll set.
func (e *entry) release() {
	if e.stopConsole != nil {
		e.stopConsole()
	}
	e.node.Close()
	if e.feed != nil {
		e.feed.Release()
	}
}
