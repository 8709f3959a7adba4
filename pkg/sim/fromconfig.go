package sim

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/pkg/internal/snmpagent"
	"github.com/powerjockey/powerjockey/pkg/power/pdu"
)

// Options tune a rack built from a configuration.
type Options struct {
	// SelfShutdownAfter makes every machine halt this long after each boot.
	SelfShutdownAfter time.Duration
	// DefaultModel is simulated for PDUs configured as "auto".
	DefaultModel string
	Logger       *slog.Logger
}

// FromConfig describes the hardware a powerjockey configuration expects:
// its PDUs answering on their configured addresses with their model's MIB
// and credentials, its nodes as machines on their outlets, and a WoL
// listener on every UDP target. Every address must be a loopback address:
// the simulation never binds anything else.
func FromConfig(c *config.Config, opt Options) (Config, error) {
	if opt.DefaultModel == "" {
		opt.DefaultModel = "apc_rpdu2"
	}
	out := Config{Logger: opt.Logger}
	maxOutlet := map[string]int{}
	for _, n := range c.Nodes {
		if n.PDU != nil {
			maxOutlet[n.PDU.Name] = max(maxOutlet[n.PDU.Name], slices.Max(n.PDU.Outlets))
		}
	}
	for _, p := range c.PDUs {
		if err := requireLoopback(p.Address); err != nil {
			return out, fmt.Errorf("pdu %s: %w", p.Name, err)
		}
		model := p.Model
		if model == "auto" {
			model = opt.DefaultModel
		}
		pc := PDUConfig{Name: p.Name, Model: model, Listen: p.Address, Outlets: max(p.Outlets, maxOutlet[p.Name], 8)}
		switch p.SNMP.Version {
		case "3":
			auth, _ := pdu.AuthProtocol(p.SNMP.AuthProtocol)
			priv, _ := pdu.PrivProtocol(p.SNMP.PrivProtocol)
			pc.Users = []snmpagent.USMUser{{
				Name:           p.SNMP.User,
				AuthProtocol:   auth,
				AuthPassphrase: p.SNMP.AuthPassphrase,
				PrivProtocol:   priv,
				PrivPassphrase: p.SNMP.PrivPassphrase,
				ReadWrite:      true,
			}}
		default:
			pc.ReadCommunity, pc.WriteCommunity = p.SNMP.CommunityRead, p.SNMP.CommunityWrite
		}
		pc.OutletNames = outletNames(c, p.Name)
		out.PDUs = append(out.PDUs, pc)
	}
	targets := map[string]bool{}
	for _, n := range c.Nodes {
		mc := MachineConfig{Name: n.Name, MAC: net.HardwareAddr(n.MAC), SelfShutdownAfter: opt.SelfShutdownAfter}
		if n.PDU != nil {
			mc.PDU, mc.Outlets = n.PDU.Name, n.PDU.Outlets
		}
		if n.Console != nil && n.Console.TCP != "" {
			if err := requireLoopback(n.Console.TCP); err != nil {
				return out, fmt.Errorf("node %s console: %w", n.Name, err)
			}
			mc.Console = n.Console.TCP
		}
		out.Machines = append(out.Machines, mc)
		if n.WoL != nil && n.WoL.Target != "" && !targets[n.WoL.Target] {
			if err := requireLoopback(n.WoL.Target); err != nil {
				return out, fmt.Errorf("node %s wol target: %w", n.Name, err)
			}
			targets[n.WoL.Target] = true
			out.WoLListen = append(out.WoLListen, n.WoL.Target)
		}
	}
	return out, nil
}

func requireLoopback(hostport string) error {
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return fmt.Errorf("the simulation needs an IP:port, got %q", hostport)
	}
	if !ap.Addr().IsLoopback() {
		return fmt.Errorf("the simulation only binds loopback addresses, got %s", ap.Addr())
	}
	return nil
}

// outletNames names the outlets of PDU pdu after the nodes they feed, as
// labs name them: the node's name, with "-PSU1", "-PSU2"... for a node on
// several outlets.
func outletNames(c *config.Config, pdu string) map[int]string {
	names := map[int]string{}
	for _, n := range c.Nodes {
		if n.PDU == nil || n.PDU.Name != pdu {
			continue
		}
		for i, o := range n.PDU.Outlets {
			names[o] = n.Name
			if len(n.PDU.Outlets) > 1 {
				names[o] = fmt.Sprintf("%s-PSU%d", n.Name, i+1)
			}
		}
	}
	return names
}
