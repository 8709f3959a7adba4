package sim

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/powerjockey/powerjockey/pkg/internal/snmpagent"
	"github.com/powerjockey/powerjockey/pkg/power/pdu"
)

// USMUser is an SNMPv3 user of a simulated PDU (the SNMP agent's type:
// tests and the demo name it through this package).
type USMUser = snmpagent.USMUser

// PDUConfig describes one simulated PDU.
type PDUConfig struct {
	Name string
	// Model is a row of the PDU model table; the simulated agent speaks its MIB.
	Model string
	// Listen is the agent's UDP address, e.g. "127.0.0.1:0".
	Listen string
	// Outlets is the outlet count (default 24).
	Outlets int
	// ReadCommunity and WriteCommunity serve SNMP v1/v2c.
	ReadCommunity, WriteCommunity string
	// Users serve SNMPv3.
	Users []USMUser
	// InitialOn powers every outlet at start.
	InitialOn bool
	// OutletNames are the outlets' user-defined names, served where the
	// model has a name column (unnamed outlets read "Outlet N", as many
	// PDUs' factory names do).
	OutletNames map[int]string
}

// PDU is one simulated switched PDU.
type PDU struct {
	cfg   PDUConfig
	model *pdu.Model
	rack  *Rack
	agent *snmpagent.Agent
	log   *slog.Logger

	closed atomic.Bool // set by Rack.Close: pending reboot timers do nothing

	mu      sync.Mutex
	on      map[int]bool
	sets    int // outlet SETs applied
	feeding map[int][]*Machine
}

// rebootOffTime is how long a reboot command keeps an outlet off.
const rebootOffTime = 2 * time.Second

func newPDU(cfg PDUConfig, rack *Rack) (*PDU, error) {
	m, ok := pdu.Lookup(cfg.Model)
	if !ok {
		return nil, fmt.Errorf("sim pdu %s: unknown model %q", cfg.Name, cfg.Model)
	}
	if cfg.Outlets == 0 {
		cfg.Outlets = 24
	}
	p := &PDU{cfg: cfg, model: m, rack: rack, log: rack.log.With("pdu", cfg.Name),
		on: map[int]bool{}, feeding: map[int][]*Machine{}}
	for o := 1; o <= cfg.Outlets; o++ {
		p.on[o] = cfg.InitialOn
	}
	tree, err := p.mib()
	if err != nil {
		return nil, err
	}
	agent, err := snmpagent.New(snmpagent.Config{
		Listen:         cfg.Listen,
		ReadCommunity:  cfg.ReadCommunity,
		WriteCommunity: cfg.WriteCommunity,
		Users:          cfg.Users,
	}, tree, snmpagent.WithLogger(p.log))
	if err != nil {
		return nil, fmt.Errorf("sim pdu %s: %w", cfg.Name, err)
	}
	p.agent = agent
	return p, nil
}

// sysObjectID is what the simulated PDU reports as its identity: the
// model's prefix plus a product arc, so "auto" detection works as on a real unit.
func (p *PDU) sysObjectID() string {
	if p.model.SysObjectID == "" {
		return "1.3.6.1.4.1.8072.3.2.10" // net-snmp's generic Linux agent
	}
	return p.model.SysObjectID + ".1"
}

// mib builds the agent's MIB from the model row: the system group, and per
// outlet its control, status and power objects. Where a model reads the
// state back from its control object, both share one object.
func (p *PDU) mib() (*snmpagent.Tree, error) {
	t := snmpagent.NewTree()
	start := time.Now()
	reg := func(oid string, obj snmpagent.Object) error {
		if err := t.Register(oid, obj); err != nil {
			return fmt.Errorf("sim pdu %s: %s: %w", p.cfg.Name, oid, err)
		}
		return nil
	}
	if err := reg("1.3.6.1.2.1.1.1.0", snmpagent.Object{Type: gosnmp.OctetString,
		Value: []byte("powerjockey simulated " + p.model.Description)}); err != nil {
		return nil, err
	}
	if err := reg("1.3.6.1.2.1.1.2.0", snmpagent.Object{Type: gosnmp.ObjectIdentifier, Value: p.sysObjectID()}); err != nil {
		return nil, err
	}
	if err := reg("1.3.6.1.2.1.1.3.0", snmpagent.Object{Type: gosnmp.TimeTicks,
		Get: func() any { return uint32(time.Since(start) / (10 * time.Millisecond)) }}); err != nil {
		return nil, err
	}
	if err := reg("1.3.6.1.2.1.1.5.0", snmpagent.Object{Type: gosnmp.OctetString, Value: []byte(p.cfg.Name)}); err != nil {
		return nil, err
	}
	m := p.model
	for o := 1; o <= p.cfg.Outlets; o++ {
		objs := map[string]*snmpagent.Object{}
		statusOID := m.OID(m.Status.OID, o)
		objs[statusOID] = &snmpagent.Object{Type: gosnmp.Integer, Get: func() any { return p.statusValue(o) }}
		for oid, byValue := range m.Commands(o) {
			obj := objs[oid]
			if obj == nil {
				obj = &snmpagent.Object{Type: gosnmp.Integer, Value: 0}
				objs[oid] = obj
			}
			obj.Check = func(v any) gosnmp.SNMPError {
				if _, ok := byValue[toInt(v)]; !ok {
					return gosnmp.WrongValue
				}
				return gosnmp.NoError
			}
			obj.Set = func(v any) gosnmp.SNMPError {
				switch byValue[toInt(v)] {
				case pdu.SwitchOn:
					p.switchOutlet(o, true)
				case pdu.SwitchOff:
					p.switchOutlet(o, false)
				case pdu.SwitchReboot:
					p.rebootOutlet(o)
				}
				return gosnmp.NoError
			}
		}
		if m.OutletName != "" {
			name := p.cfg.OutletNames[o]
			if name == "" {
				name = fmt.Sprintf("Outlet %d", o)
			}
			objs[m.OID(m.OutletName, o)] = &snmpagent.Object{Type: gosnmp.OctetString, Value: []byte(name)}
		}
		if m.Power != nil {
			scale := m.Power.Scale
			objs[m.OID(m.Power.OID, o)] = &snmpagent.Object{Type: gosnmp.Integer,
				Get: func() any { return int(p.outletWatts(o)/scale + 0.5) }}
		}
		for oid, obj := range objs {
			if err := reg(oid, *obj); err != nil {
				return nil, err
			}
		}
	}
	return t, nil
}

func toInt(v any) int {
	switch x := v.(type) {
	case int:
		return x
	case uint32:
		return int(x)
	case uint64:
		return int(x)
	default:
		return -1 << 31
	}
}

func (p *PDU) statusValue(o int) int {
	if p.Outlet(o) {
		return p.model.Status.On[0]
	}
	return p.model.Status.Off[0]
}

// Outlet reports whether outlet o is on.
func (p *PDU) Outlet(o int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.on[o]
}

// Sets counts outlet switch commands the PDU applied.
func (p *PDU) Sets() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sets
}

// Agent returns the PDU's SNMP agent (for fault injection and stats).
func (p *PDU) Agent() *snmpagent.Agent { return p.agent }

// Addr is the agent's address as "host:port".
func (p *PDU) Addr() string { return p.agent.Addr().String() }

// SetOutlet switches outlet o as if by hand.
func (p *PDU) SetOutlet(o int, on bool) { p.switchOutlet(o, on) }

func (p *PDU) switchOutlet(o int, on bool) {
	p.mu.Lock()
	changed := p.on[o] != on
	p.on[o] = on
	p.sets++
	machines := p.feeding[o]
	p.mu.Unlock()
	p.log.Info("outlet switched", "outlet", o, "on", on)
	if changed {
		for _, m := range machines {
			m.powerChanged()
		}
	}
}

func (p *PDU) rebootOutlet(o int) {
	p.switchOutlet(o, false)
	time.AfterFunc(rebootOffTime, func() {
		if !p.closed.Load() {
			p.switchOutlet(o, true)
		}
	})
}

// outletWatts is the draw through outlet o: each machine's draw split over
// its outlets that are on (dual power supplies share the load).
func (p *PDU) outletWatts(o int) float64 {
	p.mu.Lock()
	on := p.on[o]
	machines := p.feeding[o]
	p.mu.Unlock()
	if !on {
		return 0
	}
	var w float64
	for _, m := range machines {
		live := 0
		for _, mo := range m.cfg.Outlets {
			if p.Outlet(mo) {
				live++
			}
		}
		if live > 0 {
			w += m.Watts() / float64(live)
		}
	}
	return w
}
