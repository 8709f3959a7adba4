package inventory

import (
	"net"
	"slices"
	"strings"

	"github.com/powerjockey/powerjockey/pkg/account"
	"github.com/powerjockey/powerjockey/pkg/boot"
	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/pkg/httpapi"
	"github.com/powerjockey/powerjockey/pkg/metrics"
	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/redfish"
)

// What each face needs of the inventory, in the face's own terms (the
// interfaces are the faces'). Every lookup reads the nodes in effect, so a
// reload's nodes are served at once. The IPMI face gets its nodes pushed
// instead (Options.Endpoints); the metrics read Snapshots.

// Redfish is the inventory as the Redfish service's backend.
func (inv *Inventory) Redfish() redfish.Backend { return redfishBackend{inv} }

// BootEndpoint is the inventory as the boot endpoint's backend.
func (inv *Inventory) BootEndpoint() boot.Backend { return bootBackend{inv} }

// HTTP is the inventory as the HTTP API's backend (with the PDU view).
func (inv *Inventory) HTTP() httpapi.Backend { return httpBackend{inv} }

type redfishBackend struct{ inv *Inventory }

func (b redfishBackend) Systems() []redfish.Entry {
	b.inv.mu.RLock()
	defer b.inv.mu.RUnlock()
	out := make([]redfish.Entry, 0, len(b.inv.nodes))
	for _, e := range b.inv.nodes {
		out = append(out, e.redfishEntry())
	}
	slices.SortFunc(out, func(x, y redfish.Entry) int { return strings.Compare(x.System.Name(), y.System.Name()) })
	return out
}

func (b redfishBackend) System(name string) (redfish.Entry, bool) {
	b.inv.mu.RLock()
	defer b.inv.mu.RUnlock()
	e, ok := b.inv.nodes[name]
	if !ok {
		return redfish.Entry{}, false
	}
	return e.redfishEntry(), true
}

// redfishEntry is the node with the credentials of its IPMI section (the
// Redfish face accepts the same user as the node's BMC, with the role of
// its IPMI privilege) and what the configuration says of its machine.
func (e *entry) redfishEntry() redfish.Entry {
	ipmi := e.cfg.IPMI
	hw := redfish.Hardware{CPUs: e.cfg.CPU, MemoryMiB: e.cfg.Memory, DiskGB: e.cfg.Disk, Arch: e.cfg.Arch}
	if len(e.cfg.MAC) > 0 {
		hw.MACs = []net.HardwareAddr{net.HardwareAddr(e.cfg.MAC)}
	}
	if p := e.cfg.PDU; p != nil {
		for _, o := range p.Outlets {
			hw.Outlets = append(hw.Outlets, redfish.Outlet{PDU: p.Name, Outlet: o})
		}
	}
	return redfish.Entry{
		System: e.node,
		Credentials: redfish.Credentials{
			Username: ipmi.Username,
			Password: ipmi.Password,
			Role:     account.FromIPMIPrivilege(ipmi.Privilege),
		},
		Hardware: hw,
	}
}

type bootBackend struct{ inv *Inventory }

func (b bootBackend) ByMAC(mac net.HardwareAddr) (boot.Node, boot.Settings, bool) {
	b.inv.mu.RLock()
	defer b.inv.mu.RUnlock()
	for _, e := range b.inv.nodes {
		if len(e.cfg.MAC) > 0 && net.HardwareAddr(e.cfg.MAC).String() == mac.String() {
			return e.node, bootSettings(b.inv.cfg, e.cfg), true
		}
	}
	return nil, boot.Settings{}, false
}

func (b bootBackend) ByName(name string) (boot.Node, bool) {
	b.inv.mu.RLock()
	defer b.inv.mu.RUnlock()
	if e, ok := b.inv.nodes[name]; ok {
		return e.node, true
	}
	return nil, false
}

// bootSettings is where a node's boot script sends the machine.
func bootSettings(c *config.Config, n config.Node) boot.Settings {
	up, def, disk := c.NodeBootSettings(n)
	return boot.Settings{Upstream: up, Default: def, Disk: disk}
}

type httpBackend struct{ inv *Inventory }

func (b httpBackend) Nodes() []httpapi.Node {
	nodes := b.inv.Nodes()
	out := make([]httpapi.Node, len(nodes))
	for i, n := range nodes {
		out[i] = n
	}
	return out
}

func (b httpBackend) Node(name string) (httpapi.Node, bool) {
	if n := b.inv.Node(name); n != nil {
		return n, true
	}
	return nil, false
}

// PDUs is every configured PDU with the outlets its nodes are attached to
// (httpapi.PDULister).
func (b httpBackend) PDUs() []httpapi.PDUInfo {
	cfg := b.inv.Config()
	byName := map[string]*httpapi.PDUInfo{}
	var out []httpapi.PDUInfo
	for _, p := range cfg.PDUs {
		out = append(out, httpapi.PDUInfo{Name: p.Name, Model: p.Model})
	}
	for i := range out {
		byName[out[i].Name] = &out[i]
	}
	for _, n := range cfg.Nodes {
		if n.PDU == nil || byName[n.PDU.Name] == nil {
			continue
		}
		p := byName[n.PDU.Name]
		for _, o := range n.PDU.Outlets {
			p.Outlets = append(p.Outlets, httpapi.OutletInfo{Outlet: o, Node: n.Name})
		}
	}
	for i := range out {
		slices.SortFunc(out[i].Outlets, func(a, b httpapi.OutletInfo) int { return a.Outlet - b.Outlet })
	}
	return out
}

// Interfaces the faces define, implemented here.
var (
	_ redfish.Backend   = redfishBackend{}
	_ boot.Backend      = bootBackend{}
	_ httpapi.Backend   = httpBackend{}
	_ httpapi.PDULister = httpBackend{}
	_ httpapi.Node      = (*node.Node)(nil)
	_ metrics.Nodes     = (*Inventory)(nil)
)
