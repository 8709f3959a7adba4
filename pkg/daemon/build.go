package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	gobmc "github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/types"

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
func (d *Daemon) nodeConfig(n config.Node) (node.Config, *pdu.Feed, error) {
	nc := node.Config{
		Name:           n.Name,
		OnDelay:        n.OnDelay.D(),
		CycleDelay:     n.CycleDelay.D(),
		StatusSource:   n.Status.Source,
		WattsOn:        *n.Status.WattsOn,
		MaxAge:         n.Status.MaxAge.D(),
		SampleInterval: n.Status.SampleInterval.D(),
		Boot:           d.nodeBootConfig(n),
		Logger:         d.log,
		Observer:       d.metrics,
	}
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
		c := d.pdus[n.PDU.Name]
		if c == nil {
			return nc, nil, fmt.Errorf("node %s: unknown PDU %q", n.Name, n.PDU.Name)
		}
		feed = pdu.NewFeed(c, n.PDU.Outlets)
		nc.Means.Feed = feed
	}
	if n.WoL != nil {
		sender, err := d.wolSender(n.WoL)
		if err != nil {
			return nc, nil, fmt.Errorf("node %s: %w", n.Name, err)
		}
		a := wol.New(sender, wol.Config{
			MAC:      net.HardwareAddr(n.MAC),
			Password: []byte(n.WoL.Password),
			Repeat:   n.WoL.Repeat,
			Interval: n.WoL.Interval.D(),
		})
		a.OnSent = func() { d.metrics.WoLSent(n.Name) }
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
			Logger:  d.log,
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

func (d *Daemon) wolSender(w *config.WoL) (wol.Sender, error) {
	if w.Interface != "" {
		if s, ok := d.rawSenders[w.Interface]; ok {
			return s, nil
		}
		s, err := wol.NewRawSender(w.Interface)
		if err != nil {
			return nil, err
		}
		d.rawSenders[w.Interface] = s
		return s, nil
	}
	return wol.NewUDPSender(d.wolClient, w.Target), nil
}

var privileges = map[string]gobmc.PrivilegeLevel{
	"callback":      gobmc.PrivilegeLevelCallback,
	"user":          gobmc.PrivilegeLevelUser,
	"operator":      gobmc.PrivilegeLevelOperator,
	"administrator": gobmc.PrivilegeLevelAdministrator,
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

// startNode builds a node and its endpoint.
func (d *Daemon) startNode(ctx context.Context, n config.Node) (*nodeEntry, error) {
	e, err := d.newNode(ctx, n)
	if err != nil {
		return nil, err
	}
	if err := d.startEndpoint(ctx, e); err != nil {
		return nil, err
	}
	return e, nil
}

// newNode builds a node (loading or creating its persisted state).
func (d *Daemon) newNode(ctx context.Context, n config.Node) (*nodeEntry, error) {
	nc, feed, err := d.nodeConfig(n)
	if err != nil {
		return nil, err
	}
	nd, err := node.New(ctx, nc, d.store)
	if err != nil {
		if feed != nil {
			feed.Release()
		}
		return nil, err
	}
	return &nodeEntry{node: nd, cfg: n, feed: feed}, nil
}

// startEndpoint opens a built node's console and binds and serves its IPMI
// endpoint; on failure the node is released.
func (d *Daemon) startEndpoint(ctx context.Context, e *nodeEntry) error {
	con, stop, err := d.startConsole(ctx, e.cfg)
	if err != nil {
		e.release()
		return err
	}
	e.console, e.stopConsole = con, stop
	ec := endpointConfig(d.cfg, e.cfg)
	ec.Hardware = hardware(e.cfg, e.console)
	if _, err := d.ipmi.Start(ctx, e.node, ec); err != nil {
		e.release()
		return err
	}
	return nil
}

func (d *Daemon) stopNode(e *nodeEntry) {
	d.ipmi.Stop(e.node.Name())
	e.release()
}

// release stops the node and its console and takes its outlets out of its
// PDU's poll set.
func (e *nodeEntry) release() {
	if e.stopConsole != nil {
		e.stopConsole()
	}
	e.node.Close()
	if e.feed != nil {
		e.feed.Release()
	}
}
