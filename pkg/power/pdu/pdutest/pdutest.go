// Package pdutest serves recorded SNMP walks of real devices (see
// testdata/README.md) behind loopback SNMP agents, for the tests of the PDU
// client, the CLI and the end-to-end suite. It is test support, not a
// stable API.
//
// Nothing here may come from powerjockey's model table: the package does
// not import pkg/power/pdu (a test enforces it). What a device answers
// comes from its recording; what a SET does to a test device (the control
// objects a recording never holds) follows the vendor MIB, cited beside
// each Family.
package pdutest

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/powerjockey/powerjockey/pkg/internal/snmpagent"
	"github.com/powerjockey/powerjockey/pkg/internal/snmpagent/snmprec"
)

// Variable is an SNMP value a test device answers (the SNMP agent's type:
// tests outside pkg/ name it through this package).
type Variable = snmpagent.Variable

// USMUser is an SNMPv3 user of a test device.
type USMUser = snmpagent.USMUser

//go:embed testdata/*.snmprec
var recordings embed.FS

// Recordings lists the recording names (file names without ".snmprec").
func Recordings() []string {
	entries, err := fs.ReadDir(recordings, "testdata")
	if err != nil {
		panic(err) // embedded at build time
	}
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".snmprec"))
	}
	return out
}

// Records parses the recording name.
func Records(name string) ([]snmprec.Record, error) {
	f, err := recordings.Open(path.Join("testdata", name+".snmprec"))
	if err != nil {
		return nil, fmt.Errorf("recording %s: %w", name, err)
	}
	defer f.Close()
	recs, err := snmprec.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("recording %s: %w", name, err)
	}
	return recs, nil
}

// Family is what the vendor MIB says about the outlets of a recorded
// switched PDU: where they are switched and read, and with which values.
// Every field cites the MIB object it comes from.
type Family struct {
	// Recording is the recording the family's test device serves.
	Recording string
	// MIB names the MIB and where it was read.
	MIB string
	// Control is the OID an outlet is switched by; On and Off are the
	// values that switch it (Reboot, when non-zero, too).
	Control         func(outlet int) string
	On, Off, Reboot int
	// Status is the OID of an outlet's switch state; StatusOn and
	// StatusOff its values.
	Status              func(outlet int) string
	StatusOn, StatusOff int
	// Watts is the OID of an outlet's active power in watts, "" if none.
	Watts func(outlet int) string
	// TotalWatts is the OID of the device's own total active power in
	// watts (inlet or unit), against which the outlets' sum is checked.
	TotalWatts string
	// Name is the OID of an outlet's user-defined name.
	Name func(outlet int) string
}

func col(prefix, suffix string) func(int) string {
	return func(o int) string { return fmt.Sprintf("%s.%d%s", prefix, o, suffix) }
}

// Families are the recorded switched PDUs, by recording name.
var Families = map[string]Family{
	// CPDU-MIB (DanielleHuisman/observium-community-edition mibs/apc/CPDU-MIB,
	// 7e57dbc8f5679da52cc9fe8c615895bf8fec365b): cPDU ::= { hardware 32 };
	// pduOutletSwitchedStatusState ::= { pduOutletSwitchedStatusEntry 4 }
	// (table { pduOutlet 4 }): off(0) on(1);
	// pduOutletSwitchedControlCommand ::= { pduOutletSwitchedControlEntry 4 }
	// (table { pduOutlet 5 }): immediateOff(1) immediateOn(2) ...
	// immediateReboot(5); both indexed { unit index, outlet index }.
	// pduOutletMeteredStatusActivePower ::= { pduOutletMeteredStatusEntry 6 }
	// (table { pduOutlet 9 }): "in Watts(W)";
	// pduUnitStatusActivePower ::= { pduUnitStatusEntry 4 } (table { pduUnit 4 }).
	// pduOutletSwitchedStatusName ::= { pduOutletSwitchedStatusEntry 3 }.
	"apc-cpdu": {
		Recording: "apc-cpdu",
		MIB:       "APC CPDU-MIB pduOutletSwitchedControlCommand / pduOutletSwitchedStatusState / pduOutletMeteredStatusActivePower",
		Control:   col("1.3.6.1.4.1.318.1.1.32.5.5.1.4.1", ""), On: 2, Off: 1, Reboot: 5,
		Status: col("1.3.6.1.4.1.318.1.1.32.5.4.1.4.1", ""), StatusOn: 1, StatusOff: 0,
		Watts:      col("1.3.6.1.4.1.318.1.1.32.5.9.1.6.1", ""),
		TotalWatts: "1.3.6.1.4.1.318.1.1.32.2.4.1.4.1",
		Name:       col("1.3.6.1.4.1.318.1.1.32.5.4.1.3.1", ""),
	},
	// PDU2-MIB (librenms/librenms mibs/raritan/PDU2-MIB): outletSwitchControlTable
	// ::= { outletControl 2 } = 13742.6.4.1.2, INDEX { pduId, outletId };
	// switchingOperation (col 2): off(0) on(1) cycle(2).
	// outletSensorMeasurementsTable 13742.6.5.4.3, INDEX { pduId, outletId,
	// sensorType }: measurementsOutletSensorState (col 3) and
	// measurementsOutletSensorValue (col 4); SensorTypeEnumeration
	// activePower(5) onOff(14); SensorStateEnumeration on(7) off(8).
	// measurementsInletSensorValue 13742.6.5.2.3.1.4.{pdu}.{inlet}.5.
	// outletName ::= { outletConfigurationEntry 3 } = 13742.6.3.5.3.1.3.
	"raritan-pdu_px3": {
		Recording: "raritan-pdu_px3",
		MIB:       "Raritan PDU2-MIB switchingOperation / measurementsOutletSensorState onOff(14) / measurementsOutletSensorValue activePower(5)",
		Control:   col("1.3.6.1.4.1.13742.6.4.1.2.1.2.1", ""), On: 1, Off: 0, Reboot: 2,
		Status: col("1.3.6.1.4.1.13742.6.5.4.3.1.3.1", ".14"), StatusOn: 7, StatusOff: 8,
		Watts:      col("1.3.6.1.4.1.13742.6.5.4.3.1.4.1", ".5"),
		TotalWatts: "1.3.6.1.4.1.13742.6.5.2.3.1.4.1.1.5",
		Name:       col("1.3.6.1.4.1.13742.6.3.5.3.1.3.1", ""),
	},
	// CPS-MIB as compiled in DotZero24/pysnmp-mibs pysnmp_mibs/CPS-MIB.py
	// (1edca37f8382511f4a05409eea0251866e83c942): ePDU2 ::= { hardware 6 } =
	// 3808.1.1.6; ePDU2OutletSwitchedStatusState ::= 3808.1.1.6.6.1.4.1.5:
	// outletStatusOn(1) outletStatusOff(2); ePDU2OutletSwitchedControlCommand
	// ::= 3808.1.1.6.6.1.5.1.5: immediateOn(1) immediateOff(2)
	// immediateReboot(3) ...; ePDU2OutletMeteredStatusActivePower ::=
	// 3808.1.1.6.6.2.4.1.7; ePDU2OutletSwitchedStatusName ::=
	// 3808.1.1.6.6.1.4.1.4. The device total is ePDULoadStatusActivePower
	// (3808.1.1.3.2.3.1.1.7, "in watts" in CPS-MIB v2.13).
	"cyberpower_pdu81005": {
		Recording: "cyberpower_pdu81005",
		MIB:       "CyberPower CPS-MIB ePDU2OutletSwitchedControlCommand / ePDU2OutletSwitchedStatusState / ePDU2OutletMeteredStatusActivePower",
		Control:   col("1.3.6.1.4.1.3808.1.1.6.6.1.5.1.5", ""), On: 1, Off: 2, Reboot: 3,
		Status: col("1.3.6.1.4.1.3808.1.1.6.6.1.4.1.5", ""), StatusOn: 1, StatusOff: 2,
		Watts:      col("1.3.6.1.4.1.3808.1.1.6.6.2.4.1.7", ""),
		TotalWatts: "1.3.6.1.4.1.3808.1.1.3.2.3.1.1.7.1",
		Name:       col("1.3.6.1.4.1.3808.1.1.6.6.1.4.1.4", ""),
	},
}

// Options tune a test device.
type Options struct {
	// ReadCommunity and WriteCommunity default to "public" and "private".
	ReadCommunity, WriteCommunity string
	// Users serve SNMPv3.
	Users []USMUser
	// Listen defaults to "127.0.0.1:0".
	Listen string
	// Ignore makes the device acknowledge every switch and perform none,
	// as a PDU whose relay or firmware is stuck.
	Ignore bool
	// Answer, when set, is what a SET of a control object is answered
	// with (an exception, another value) instead of the value written.
	Answer func(written int) Variable
	// Delay is how long after a SET the outlet actually switches, as a
	// relay that takes its time.
	Delay time.Duration
}

// Set is one SET a test device received on a control object.
type Set struct {
	OID   string
	Value int
}

// Device is a recording served on loopback, with its family's control
// objects writable.
type Device struct {
	Agent  *snmpagent.Agent
	Tree   *snmpagent.Tree
	Family *Family // nil for recordings of other devices

	mu       sync.Mutex
	sets     []Set
	recorded map[string]snmpagent.Variable // the recording's values
	closed   bool
	timers   []*time.Timer
}

// Start serves recording name until the test ends.
func Start(t testing.TB, name string, opt Options) *Device {
	t.Helper()
	d, err := New(name, opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Agent.Serve(ctx)
	}()
	t.Cleanup(func() {
		d.mu.Lock()
		d.closed = true
		for _, tm := range d.timers {
			tm.Stop()
		}
		d.mu.Unlock()
		cancel()
		<-done
	})
	return d
}

// New builds the device for recording name without serving it; the caller
// runs d.Agent.Serve.
func New(name string, opt Options) (*Device, error) {
	recs, err := Records(name)
	if err != nil {
		return nil, err
	}
	tree, err := snmprec.Tree(recs)
	if err != nil {
		return nil, fmt.Errorf("recording %s: %w", name, err)
	}
	d := &Device{Tree: tree, recorded: map[string]snmpagent.Variable{}}
	for _, r := range recs {
		d.recorded[r.OID] = r.Variable
	}
	if f, ok := Families[name]; ok {
		d.Family = &f
		if err := d.addControls(opt); err != nil {
			return nil, err
		}
	}
	if opt.Listen == "" {
		opt.Listen = "127.0.0.1:0"
	}
	if opt.ReadCommunity == "" && opt.WriteCommunity == "" && len(opt.Users) == 0 {
		opt.ReadCommunity, opt.WriteCommunity = "public", "private"
	}
	a, err := snmpagent.New(snmpagent.Config{Listen: opt.Listen, ReadCommunity: opt.ReadCommunity,
		WriteCommunity: opt.WriteCommunity, Users: opt.Users}, tree)
	if err != nil {
		return nil, err
	}
	d.Agent = a
	return d, nil
}

// Addr is the agent's "host:port".
func (d *Device) Addr() string { return d.Agent.Addr().String() }

// Sets returns the SETs received on control objects, in order.
func (d *Device) Sets() []Set {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.sets)
}

// Outlets lists the outlets the recording holds a status for.
func (d *Device) Outlets() []int {
	if d.Family == nil {
		return nil
	}
	var out []int
	for o := 1; o <= 1024; o++ {
		if _, ok := d.recorded[d.Family.Status(o)]; ok {
			out = append(out, o)
		}
	}
	return out
}

// Int returns the integer served at oid now.
func (d *Device) Int(oid string) (int, bool) {
	v, ok := d.Tree.Get(oid)
	if !ok {
		return 0, false
	}
	return intOf(v)
}

// RecordedInt returns the integer the recording holds at oid.
func (d *Device) RecordedInt(oid string) (int, bool) {
	v, ok := d.Recorded(oid)
	if !ok {
		return 0, false
	}
	return intOf(v)
}

// intOf is an integer variable's value.
func intOf(v Variable) (int, bool) {
	switch n := v.Value.(type) {
	case int:
		return n, true
	case uint32:
		return int(n), true
	case uint:
		return int(n), true
	}
	return 0, false
}

// Recorded returns the recording's value at oid (before any SET).
func (d *Device) Recorded(oid string) (snmpagent.Variable, bool) {
	v, ok := d.recorded[oid]
	return v, ok
}

// addControls registers the family's control object for every recorded
// outlet: a SET of On or Off switches the outlet's status (and zeroes or
// restores its meter), other values of the MIB's enumeration are accepted
// and recorded, anything else is wrongValue.
func (d *Device) addControls(opt Options) error {
	f := d.Family
	for _, o := range d.Outlets() {
		oid := f.Control(o)
		var last int
		if s, ok := d.Int(f.Status(o)); ok && s == f.StatusOn {
			last = f.On
		} else {
			last = f.Off
		}
		obj := snmpagent.Object{
			Type: gosnmp.Integer,
			Get: func() any {
				d.mu.Lock()
				defer d.mu.Unlock()
				return last
			},
			Check: func(v any) gosnmp.SNMPError {
				n, _ := v.(int)
				if n != f.On && n != f.Off && (f.Reboot == 0 || n != f.Reboot) {
					return gosnmp.WrongValue
				}
				return gosnmp.NoError
			},
			Set: func(v any) gosnmp.SNMPError {
				n := v.(int)
				d.mu.Lock()
				d.sets = append(d.sets, Set{OID: oid, Value: n})
				last = n
				d.mu.Unlock()
				if opt.Ignore || (n != f.On && n != f.Off) {
					return gosnmp.NoError
				}
				d.after(opt.Delay, func() { d.switchOutlet(o, n == f.On) })
				return gosnmp.NoError
			},
		}
		if opt.Answer != nil {
			obj.Answer = func(written any) snmpagent.Variable { return opt.Answer(written.(int)) }
		}
		if err := d.Tree.Register(oid, obj); err != nil {
			return err
		}
	}
	return nil
}

func (d *Device) after(delay time.Duration, fn func()) {
	if delay <= 0 {
		fn()
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	d.timers = append(d.timers, time.AfterFunc(delay, func() {
		d.mu.Lock()
		closed := d.closed
		d.mu.Unlock()
		if !closed {
			fn()
		}
	}))
}

// switchOutlet is what the device does when an outlet is switched: its
// status changes, and an outlet switched off draws nothing.
func (d *Device) switchOutlet(o int, on bool) {
	f := d.Family
	status := snmpagent.Variable{Type: gosnmp.Integer, Value: f.StatusOff}
	if on {
		status.Value = f.StatusOn
	}
	d.Tree.SetValue(f.Status(o), status)
	if f.Watts == nil {
		return
	}
	w := f.Watts(o)
	rec, ok := d.recorded[w]
	if !ok {
		return
	}
	if on {
		d.Tree.SetValue(w, rec)
		return
	}
	zero := snmpagent.Variable{Type: rec.Type, Value: 0}
	if rec.Type != gosnmp.Integer {
		zero.Value = uint32(0)
	}
	d.Tree.SetValue(w, zero)
}

// SetStatus sets an outlet's status value as if switched by hand.
func (d *Device) SetStatus(outlet, raw int) {
	d.Tree.SetValue(d.Family.Status(outlet), snmpagent.Variable{Type: gosnmp.Integer, Value: raw})
}
