package ipmi

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	gobmc "github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
)

// bmcEnv is one endpoint (not serving a socket) with a shared registry,
// for dispatching commands as an authenticated session would.
type bmcEnv struct {
	t   *testing.T
	ep  *Endpoint
	reg *handlers.Registry
	m   *bmcMachine
}

func newBMCEnv(t *testing.T, m *bmcMachine, hw Hardware) *bmcEnv {
	t.Helper()
	cfg := testEndpointConfig()
	cfg.Hardware = hw
	reg := newRegistry()
	ep, err := newEndpointOn(newMemConn(), m, cfg, reg, NewGuard(DefaultGuardConfig()), NopObserver{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return &bmcEnv{t: t, ep: ep, reg: reg, m: m}
}

// call dispatches one command at privilege priv and returns the reply.
func (e *bmcEnv) callAs(priv gobmc.PrivilegeLevel, netFn types.NetFn, cmd byte, data ...byte) ([]byte, types.CompletionCode) {
	e.t.Helper()
	user, err := e.ep.bmc.Users.GetByName("admin")
	if err != nil {
		e.t.Fatal(err)
	}
	ch, _ := e.ep.bmc.Channels.Get(lanChannel)
	sess := &gobmc.Session{BMCID: 7, State: gobmc.SessionStateActive, User: user, Channel: lanChannel,
		PrivilegeLevel: priv, MaxPrivilege: priv}
	hctx := &handlers.HandlerContext{BMC: e.ep.bmc, Session: sess, Channel: ch, User: user}
	ctx, cancel := context.WithTimeout(node.WithRequester(context.Background(), node.Requester{Channel: "ipmi", User: "admin"}), 5*time.Second)
	defer cancel()
	resp, cc, err := e.reg.Dispatch(ctx, hctx, uint8(netFn), cmd, data)
	if err != nil {
		e.t.Fatalf("dispatch %#x/%#x: %v", netFn, cmd, err)
	}
	return resp, cc
}

func (e *bmcEnv) call(netFn types.NetFn, cmd byte, data ...byte) ([]byte, types.CompletionCode) {
	e.t.Helper()
	return e.callAs(gobmc.PrivilegeLevelAdministrator, netFn, cmd, data...)
}

// ok dispatches and fails the test unless the completion code is 00h.
func (e *bmcEnv) ok(netFn types.NetFn, cmd byte, data ...byte) []byte {
	e.t.Helper()
	resp, cc := e.call(netFn, cmd, data...)
	if cc != ccOK {
		e.t.Fatalf("%#x/%#x % x: completion code %#02x", netFn, cmd, data, uint8(cc))
	}
	return resp
}

const (
	nfSensor    = types.NetFnSensorEventRequest
	nfStorage   = types.NetFnStorageRequest
	nfApp       = types.NetFnAppRequest
	nfChassis   = types.NetFnChassisRequest
	nfTransport = types.NetFnTransportRequest
	nfGroupExt  = types.NetFnGroupExtensionRequest
)

func watts(w float64) *float64 { return &w }

// dualPSU is a node on two metered outlets drawing 61 W and 59 W.
func dualPSU() *bmcMachine {
	m := newBMCMachine("compute-2")
	m.reading = power.Reading{State: power.StateOn, Source: "metering", Watts: watts(120), Outlets: []power.OutletReading{
		{PDU: "rack1", Outlet: 3, State: power.StateOn, Watts: watts(61)},
		{PDU: "rack1", Outlet: 4, State: power.StateOn, Watts: watts(59)},
	}}
	return m
}

var dualPSUHardware = Hardware{Outlets: []OutletRef{{"rack1", 3}, {"rack1", 4}}, MaxWatts: 250}

// sdrRecords walks the repository with Get SDR as clients do (0000h
// first, following next record IDs) and decodes each record with
// go-ipmi's parser, an implementation independent of ours.
func (e *bmcEnv) sdrRecords() []*types.SDR {
	e.t.Helper()
	var out []*types.SDR
	id := uint16(0)
	for range 64 {
		hdr := e.ok(nfStorage, 0x23, 0, 0, byte(id), byte(id>>8), 0, 5)
		next := binary.LittleEndian.Uint16(hdr)
		length := int(hdr[2+4])
		rec := append([]byte(nil), hdr[2:]...)
		// The rest in 16-byte pieces under a reservation, as ipmitool reads.
		res := e.ok(nfStorage, 0x22)
		for off := 5; off < 5+length; off += 16 {
			part := e.ok(nfStorage, 0x23, res[0], res[1], byte(id), byte(id>>8), byte(off), byte(min(16, 5+length-off)))
			rec = append(rec, part[2:]...)
		}
		sdr, err := types.ParseSDR(rec, next)
		if err != nil {
			e.t.Fatalf("record %d: %v (% x)", id, err, rec)
		}
		out = append(out, sdr)
		if next == 0xFFFF {
			return out
		}
		id = next
	}
	e.t.Fatal("SDR walk did not end")
	return nil
}

func TestSDRRepository(t *testing.T) {
	e := newBMCEnv(t, dualPSU(), dualPSUHardware)
	recs := e.sdrRecords()
	type row struct {
		typ    types.SDRRecordType
		number uint8
		name   string
		sensor types.SensorType
	}
	want := []row{
		{types.SDRRecordTypeManagementControllerDeviceLocator, 0, "compute-2", 0},
		{types.SDRRecordTypeFullSensor, 0x01, "Total Power", types.SensorTypeCurrent},
		{types.SDRRecordTypeCompactSensor, 0x02, "Power State", types.SensorTypeSystemACPIPowerState},
		{types.SDRRecordTypeCompactSensor, 0x06, "PDU Access", types.SensorTypeManagementSubsystemHealth},
		{types.SDRRecordTypeFullSensor, 0x10, "PSU1 Power", types.SensorTypeCurrent},
		{types.SDRRecordTypeFullSensor, 0x11, "PSU2 Power", types.SensorTypeCurrent},
		{types.SDRRecordTypeCompactSensor, 0x20, "PSU1 Status", types.SensorTypePowerSupply},
		{types.SDRRecordTypeCompactSensor, 0x21, "PSU2 Status", types.SensorTypePowerSupply},
		{types.SDRRecordTypeEventOnly, 0x03, "Power Control", types.SensorTypePowerUnit},
		{types.SDRRecordTypeEventOnly, 0x04, "Boot", types.SensorTypeSystemBootRestartInitiated},
		{types.SDRRecordTypeEventOnly, 0x05, "Manual Power", types.SensorTypeButtonSwitch},
		{types.SDRRecordTypeEventOnly, 0x07, "Event Log", types.SensorTypeEventLoggingDisabled},
		{types.SDRRecordTypeEventOnly, 0x08, "System Event", types.SensorTypeSystemEvent},
		{types.SDRRecordTypeEventOnly, 0x09, "Diag Interrupt", types.SensorTypeCriticalInterrupt},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d", len(recs), len(want))
	}
	if mc := recs[0].MgmtControllerDeviceLocator; mc == nil || string(mc.DeviceIDBytes) != "compute-2" || mc.DeviceSlaveAddress != 0x20 {
		t.Errorf("MC locator: %+v", mc)
	}
	for i, w := range want[1:] {
		r := recs[i+1]
		if r.RecordHeader.RecordType != w.typ || r.SensorName() != w.name || uint8(r.SensorNumber()) != w.number {
			t.Errorf("record %d: %v %q #%d, want %v %q #%d", i+1, r.RecordHeader.RecordType, r.SensorName(), r.SensorNumber(), w.typ, w.name, w.number)
		}
		switch {
		case r.Full != nil:
			if r.Full.SensorType != w.sensor || r.Full.SensorUnit.BaseUnit != types.SensorUnitType_Watts || r.Full.ReadingFactors.M != 1 {
				t.Errorf("%s: type %v unit %v M %d", w.name, r.Full.SensorType, r.Full.SensorUnit.BaseUnit, r.Full.ReadingFactors.M)
			}
		case r.Compact != nil:
			if r.Compact.SensorType != w.sensor || r.Compact.SensorEventReadingType != types.EventReadingTypeSensorSpecific {
				t.Errorf("%s: type %v reading type %v", w.name, r.Compact.SensorType, r.Compact.SensorEventReadingType)
			}
		case r.EventOnly != nil:
			if r.EventOnly.SensorType != w.sensor {
				t.Errorf("%s: type %v", w.name, r.EventOnly.SensorType)
			}
		}
	}
	// The addition time is the node's "first served" time of this content,
	// stable across restarts.
	info := e.ok(nfStorage, 0x20)
	if info[0] != 0x51 || binary.LittleEndian.Uint16(info[1:]) != uint16(len(want)) ||
		binary.LittleEndian.Uint32(info[5:]) != uint32(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Unix()) {
		t.Errorf("Get SDR Repository Info: % x", info)
	}
	if _, cc := e.call(nfStorage, 0x23, 0, 0, 99, 0, 0, 0xFF); cc != ccSensorNotPresent {
		t.Errorf("Get SDR of a missing record: %#x", cc)
	}
}

func TestSingleOutletAndNoPDU(t *testing.T) {
	one := newBMCEnv(t, newBMCMachine("c0"), Hardware{Outlets: []OutletRef{{"rack1", 1}}})
	var names []string
	for _, r := range one.sdrRecords() {
		names = append(names, r.SensorName())
	}
	// One supply: its status, but no second draw sensor repeating the total.
	if fmt.Sprint(names[1:5]) != "[Total Power Power State PDU Access PSU1 Status]" {
		t.Errorf("records: %v", names)
	}
	// The default maximum draw (1000 W) gives 4 W steps.
	if m := one.sdrRecords()[1].Full.ReadingFactors.M; m != 4 {
		t.Errorf("M = %d, want 4", m)
	}
	none := newBMCEnv(t, newBMCMachine("manual-0"), Hardware{})
	if n := len(none.sdrRecords()); n != 4+6 {
		t.Errorf("%d records without a PDU", n)
	}
}

func TestSensorReadings(t *testing.T) {
	m := dualPSU()
	e := newBMCEnv(t, m, dualPSUHardware)
	read := func(n byte) []byte { return e.ok(nfSensor, 0x2D, n) }

	if r := read(sensorTotalPower); r[0] != 120 || r[1]&readingUnavailable != 0 {
		t.Errorf("total: % x", r)
	}
	if r := read(sensorSupplyPower); r[0] != 61 {
		t.Errorf("PSU1: % x", r)
	}
	if r := read(sensorSupplyPower + 1); r[0] != 59 {
		t.Errorf("PSU2: % x", r)
	}
	if r := read(sensorPowerState); r[2] != 1<<acpiWorking {
		t.Errorf("power state on: % x", r)
	}
	if r := read(sensorSupplyStatus); r[2] != 1<<psuPresent {
		t.Errorf("PSU1 status on: % x", r)
	}
	if r := read(sensorPDUAccess); r[2] != 0 {
		t.Errorf("PDU access: % x", r)
	}

	// Outlet 4 switched off, the machine off behind outlet 3 (standby).
	m.set(func(m *bmcMachine) {
		m.reading.State, m.reading.Watts = power.StateOff, watts(4)
		m.reading.Outlets[0].Watts = watts(4)
		m.reading.Outlets[1].State, m.reading.Outlets[1].Watts = power.StateOff, watts(0)
	})
	if r := read(sensorPowerState); r[2] != 1<<acpiSoftOff {
		t.Errorf("power state soft off: % x", r)
	}
	if r := read(sensorSupplyStatus + 1); r[2] != 1<<psuPresent|1<<psuInputLost {
		t.Errorf("PSU2 status off: % x", r)
	}
	m.set(func(m *bmcMachine) { m.reading.Outlets[0].State = power.StateOff })
	if r := read(sensorPowerState); r[2] != 1<<acpiMechanicalOff {
		t.Errorf("power state mechanical off: % x", r)
	}

	// A PDU without a meter: the Watts sensors read "unavailable", never 0.
	m.set(func(m *bmcMachine) {
		m.reading.Watts = nil
		for i := range m.reading.Outlets {
			m.reading.Outlets[i].Watts = nil
		}
	})
	for _, n := range []byte{sensorTotalPower, sensorSupplyPower} {
		if r := read(n); r[1]&readingUnavailable == 0 {
			t.Errorf("sensor %#x without a meter: % x", n, r)
		}
	}

	// A PDU that does not answer: unavailable readings, PDU Access asserted.
	m.set(func(m *bmcMachine) { m.readErr = fmt.Errorf("pdu rack1: %w", power.ErrTimeout) })
	if r := read(sensorTotalPower); r[1]&readingUnavailable == 0 {
		t.Errorf("total with a dead PDU: % x", r)
	}
	if r := read(sensorPDUAccess); r[2] != 1 {
		t.Errorf("PDU access with a dead PDU: % x", r)
	}
	if _, cc := e.call(nfSensor, 0x2D, 0x77); cc != ccSensorNotPresent {
		t.Errorf("reading of a missing sensor: %#x", cc)
	}
	if _, cc := e.call(nfSensor, 0x2D); cc != ccRequestDataTruncated {
		t.Errorf("reading without a sensor number: %#x", cc)
	}
}

func TestWattsScale(t *testing.T) {
	for _, tt := range []struct {
		max  float64
		m    uint16
		w    float64
		want byte
	}{
		{250, 1, 120, 120},
		{255, 1, 300, 255}, // beyond the range: the sensor's maximum
		{1000, 4, 122, 31}, // 124 W, the nearest 4 W step
		{2000, 10, 1234, 123},
		{0.5, 1, 0.4, 0},
	} {
		if m := scaleFor(tt.max); m != tt.m {
			t.Errorf("scaleFor(%v) = %d, want %d", tt.max, m, tt.m)
		}
		if raw := rawWatts(tt.w, tt.m); raw != tt.want {
			t.Errorf("rawWatts(%v, %d) = %d, want %d", tt.w, tt.m, raw, tt.want)
		}
	}
}

func TestSELMapping(t *testing.T) {
	// Expected codes are IPMI v2.0 Table 42-3's sensor types and offsets.
	tests := []struct {
		e        node.Event
		sensor   types.SensorType
		number   uint8
		offset   byte
		deassert bool
	}{
		{node.Event{Kind: node.EventPowerAction, Action: power.On, Means: "pdu+wol", Result: "ok"}, types.SensorTypeSystemBootRestartInitiated, sensorBoot, 0x00, false},
		{node.Event{Kind: node.EventPowerAction, Action: power.Reset, Means: "pdu", Result: "ok"}, types.SensorTypeSystemBootRestartInitiated, sensorBoot, 0x01, false},
		{node.Event{Kind: node.EventPowerAction, Action: power.Off, Means: "pdu", Result: "ok"}, types.SensorTypePowerUnit, sensorPowerControl, 0x00, false},
		{node.Event{Kind: node.EventPowerAction, Action: power.SoftOff, Means: "exec", Result: "ok"}, types.SensorTypePowerUnit, sensorPowerControl, 0x00, false},
		{node.Event{Kind: node.EventPowerAction, Action: power.Cycle, Means: "pdu", Result: "ok"}, types.SensorTypePowerUnit, sensorPowerControl, 0x01, false},
		{node.Event{Kind: node.EventPowerAction, Action: power.On, Means: "pdu", Result: "error"}, types.SensorTypePowerUnit, sensorPowerControl, 0x05, false},
		{node.Event{Kind: node.EventPowerAction, Action: power.Diag, Means: "exec", Result: "ok"}, types.SensorTypeCriticalInterrupt, sensorDiag, 0x00, false},
		{node.Event{Kind: node.EventPowerAction, Action: power.On, Means: "manual", Result: "ok"}, types.SensorTypeSystemEvent, sensorSystemEvent, 0x03, false},
		{node.Event{Kind: node.EventPowerAction, Action: power.On, Means: "pdu", Result: "cancelled"}, types.SensorTypeSystemEvent, sensorSystemEvent, 0x03, false},
		{node.Event{Kind: node.EventPowerChanged, To: power.StateOn, Source: "metering"}, types.SensorTypeSystemACPIPowerState, sensorPowerState, 0x00, false},
		{node.Event{Kind: node.EventPowerChanged, To: power.StateOff, Source: "metering", Unrequested: true}, types.SensorTypeSystemACPIPowerState, sensorPowerState, 0x05, false},
		{node.Event{Kind: node.EventPowerChanged, To: power.StateOff, Source: "outlet"}, types.SensorTypeSystemACPIPowerState, sensorPowerState, 0x07, false},
		{node.Event{Kind: node.EventManualDone, Action: power.On}, types.SensorTypeButtonSwitch, sensorManual, 0x00, false},
		{node.Event{Kind: node.EventManualDone, Action: power.Reset}, types.SensorTypeButtonSwitch, sensorManual, 0x02, false},
		{node.Event{Kind: node.EventSensorFailed}, types.SensorTypeManagementSubsystemHealth, sensorPDUAccess, 0x00, false},
		{node.Event{Kind: node.EventSensorRecovered}, types.SensorTypeManagementSubsystemHealth, sensorPDUAccess, 0x00, true},
		{node.Event{Kind: node.EventBootOverride}, types.SensorTypeSystemEvent, sensorSystemEvent, 0x00, false},
		{node.Event{Kind: node.EventLogCleared}, types.SensorTypeEventLoggingDisabled, sensorEventLog, 0x02, false},
		{node.Event{Kind: "something_new"}, types.SensorTypeSystemEvent, sensorSystemEvent, 0x03, false},
	}
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for i, tt := range tests {
		tt.e.ID, tt.e.At = uint32(i+1), at
		raw := encodeSEL(tt.e)
		sel, err := types.ParseSEL(raw)
		if err != nil {
			t.Fatalf("%v: %v", tt.e.Kind, err)
		}
		s := sel.Standard
		if sel.RecordID != uint16(i+1) || sel.RecordType != 0x02 || s == nil || !s.Timestamp.Equal(at) || s.EvMRev != 0x04 ||
			s.GeneratorID != 0x20 || s.SensorType != tt.sensor || uint8(s.SensorNumber) != tt.number ||
			s.EventReadingType != types.EventReadingTypeSensorSpecific || bool(s.EventDir) != tt.deassert ||
			raw[13]&0x0F != tt.offset {
			t.Errorf("%s/%s/%s: % x", tt.e.Kind, tt.e.Action, tt.e.Result, raw)
		}
	}
}

func TestSELCommands(t *testing.T) {
	m := newBMCMachine("n1")
	e := newBMCEnv(t, m, Hardware{})
	if r := e.ok(nfStorage, 0x40); binary.LittleEndian.Uint16(r[1:]) != 0 || binary.LittleEndian.Uint32(r[5:]) != 0xFFFFFFFF {
		t.Errorf("empty SEL info: % x", r)
	}
	if _, cc := e.call(nfStorage, 0x43, 0, 0, 0, 0, 0, 0xFF); cc != ccSensorNotPresent {
		t.Errorf("Get SEL Entry of an empty log: %#x", cc)
	}
	for _, a := range []power.Action{power.On, power.Off, power.On} {
		m.add(node.Event{Kind: node.EventPowerAction, Action: a, Means: "pdu", Result: "ok"})
	}
	// Walk from 0000h; FFFFh is the last.
	var ids []uint16
	id := uint16(0)
	for range 10 {
		r := e.ok(nfStorage, 0x43, 0, 0, byte(id), byte(id>>8), 0, 0xFF)
		ids = append(ids, binary.LittleEndian.Uint16(r[2:]))
		if len(r) != 2+16 {
			t.Fatalf("entry of %d bytes", len(r)-2)
		}
		id = binary.LittleEndian.Uint16(r)
		if id == 0xFFFF {
			break
		}
	}
	if fmt.Sprint(ids) != "[1 2 3]" {
		t.Errorf("walked %v", ids)
	}
	if r := e.ok(nfStorage, 0x43, 0, 0, 0xFF, 0xFF, 0, 0xFF); binary.LittleEndian.Uint16(r[2:]) != 3 {
		t.Errorf("last entry: % x", r)
	}
	// Partial reads need the current reservation.
	if _, cc := e.call(nfStorage, 0x43, 0, 0, 2, 0, 4, 4); cc != ccReservationCanceled {
		t.Errorf("partial read without a reservation: %#x", cc)
	}
	res := e.ok(nfStorage, 0x42)
	if r := e.ok(nfStorage, 0x43, res[0], res[1], 2, 0, 3, 4); len(r) != 6 {
		t.Errorf("partial read: % x", r)
	}

	// Clear: OPERATOR at least, "CLR", the current reservation; it
	// cancels the reservation and leaves the clear as the only entry.
	if _, cc := e.callAs(gobmc.PrivilegeLevelUser, nfStorage, 0x47, res[0], res[1], 'C', 'L', 'R', 0xAA); cc != types.CodeInsufficientPrivilege {
		t.Errorf("clear as USER: %#x", cc)
	}
	if _, cc := e.call(nfStorage, 0x47, res[0], res[1], 'C', 'L', 'X', 0xAA); cc != ccInvalidDataField {
		t.Errorf("clear without CLR: %#x", cc)
	}
	if _, cc := e.call(nfStorage, 0x47, res[0]+1, res[1], 'C', 'L', 'R', 0xAA); cc != ccReservationCanceled {
		t.Errorf("clear with a stale reservation: %#x", cc)
	}
	if r := e.ok(nfStorage, 0x47, res[0], res[1], 'C', 'L', 'R', 0xAA); r[0] != 0x01 {
		t.Errorf("clear: % x", r)
	}
	if _, cc := e.call(nfStorage, 0x47, res[0], res[1], 'C', 'L', 'R', 0x00); cc != ccReservationCanceled {
		t.Errorf("the clear did not cancel the reservation: %#x", cc)
	}
	if len(m.clearedBy) != 1 || m.clearedBy[0].User != "admin" {
		t.Errorf("cleared by %+v", m.clearedBy)
	}
	info := e.ok(nfStorage, 0x40)
	if binary.LittleEndian.Uint16(info[1:]) != 1 || binary.LittleEndian.Uint32(info[9:]) == 0xFFFFFFFF || info[13]&0x80 != 0 {
		t.Errorf("SEL info after clear: % x", info)
	}
	// Overflow once the bounded log drops entries (8 here).
	for range 9 {
		m.add(node.Event{Kind: node.EventBootOverride})
	}
	if info := e.ok(nfStorage, 0x40); info[13]&0x80 == 0 || binary.LittleEndian.Uint16(info[3:]) != 0 {
		t.Errorf("SEL info when full: % x", info)
	}
}

func TestSELTime(t *testing.T) {
	e := newBMCEnv(t, newBMCMachine("n1"), Hardware{})
	r := e.ok(nfStorage, 0x48)
	if d := time.Since(time.Unix(int64(binary.LittleEndian.Uint32(r)), 0)); d < -time.Second || d > 2*time.Second {
		t.Errorf("SEL time off by %v", d)
	}
	now := binary.LittleEndian.AppendUint32(nil, uint32(time.Now().Unix()))
	e.ok(nfStorage, 0x49, now...)
	past := binary.LittleEndian.AppendUint32(nil, uint32(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Unix()))
	if _, cc := e.call(nfStorage, 0x49, past...); cc != ccInvalidDataField {
		t.Errorf("Set SEL Time to 2020: %#x", cc)
	}
	if r := e.ok(nfStorage, 0x5C); binary.LittleEndian.Uint16(r) != 0 {
		t.Errorf("UTC offset: % x", r)
	}
}

func TestFRU(t *testing.T) {
	info := FRUInfo{Manufacturer: "Dell Inc.", Product: "PowerEdge R630", PartNumber: "0CNCJW", Version: "A01", Serial: "ABC1234", AssetTag: "rack3-u12"}
	e := newBMCEnv(t, newBMCMachine("n1"), Hardware{FRU: info})
	area := e.ok(nfStorage, 0x10, 0)
	size := int(binary.LittleEndian.Uint16(area))
	var data []byte
	for off := 0; off < size; off += 24 {
		r := e.ok(nfStorage, 0x11, 0, byte(off), byte(off>>8), byte(min(24, size-off)))
		data = append(data, r[1:1+int(r[0])]...)
	}
	fru, err := types.ParseFRU(data)
	if err != nil {
		t.Fatalf("go-ipmi cannot parse our FRU: %v (% x)", err, data)
	}
	p := fru.ProductInfoArea
	if p == nil || string(p.Manufacturer) != info.Manufacturer || string(p.Name) != info.Product || string(p.PartModel) != info.PartNumber ||
		string(p.Version) != info.Version || string(p.SerialNumber) != info.Serial || string(p.AssetTag) != info.AssetTag {
		t.Errorf("product area: %+v", p)
	}
	if c := fru.ChassisInfoArea; c == nil || string(c.SerialNumber) != info.Serial || c.ChassisType != 0x02 {
		t.Errorf("chassis area: %+v", c)
	}
	if fru.BoardInfoArea != nil {
		t.Error("a board area with invented fields")
	}
	// The header and every area sum to zero (the FRU format's checksum).
	chassisAt, productAt := int(data[2])*8, int(data[4])*8
	for _, a := range [][]byte{data[:8], data[chassisAt:productAt], data[productAt:]} {
		if checksum(a) != 0 {
			t.Errorf("area % x does not sum to zero", a)
		}
	}
	if _, cc := e.call(nfStorage, 0x11, 1, 0, 0, 8); cc != ccSensorNotPresent {
		t.Errorf("FRU device 1: %#x", cc)
	}
	// A one-character field would read as the end marker.
	if f := fruField("X"); f[0] == 0xC1 {
		t.Errorf("one-byte field encoded as the end marker: % x", f)
	}
}

func TestLANAndChannel(t *testing.T) {
	e := newBMCEnv(t, newBMCMachine("n1"), Hardware{})
	get := func(sel byte) []byte { return e.ok(nfTransport, 0x02, 0x01, sel, 0, 0)[1:] }
	if r := get(lanPrimaryRMCPPort); binary.LittleEndian.Uint16(r) != 623 {
		t.Errorf("port: % x", r) // memConn is bound to 127.0.0.1:623
	}
	if r := get(lanIPAddress); fmt.Sprint(r) != "[127 0 0 1]" {
		t.Errorf("IP: % x", r)
	}
	if r := get(lanSubnetMask); fmt.Sprint(r) != "[255 0 0 0]" {
		t.Errorf("mask: % x", r)
	}
	if r := get(lanAuthTypeSupport); r[0] != v15AuthMD5|v15AuthPassword {
		t.Errorf("auth types: % x", r)
	}
	if r := get(lanCipherSuites); fmt.Sprint(r) != "[0 1 2 3 15 16 17]" {
		t.Errorf("cipher suites: %v", r)
	}
	if r := get(lanCipherSuitePriv); fmt.Sprintf("% x", r) != "00 44 44 44 00 00 00 00 00" {
		t.Errorf("cipher suite privileges: % x", r)
	}
	if _, cc := e.call(nfTransport, 0x02, 0x01, 16, 0, 0); cc != ccParamNotSupported {
		t.Errorf("community string: %#x", cc)
	}
	if _, cc := e.call(nfTransport, 0x02, 0x02, 3, 0, 0); cc != ccInvalidDataField {
		t.Errorf("channel 2: %#x", cc)
	}
	if _, cc := e.call(nfTransport, 0x01, 0x01, lanIPAddress, 10, 0, 0, 1); cc != ccParamReadOnly {
		t.Errorf("Set LAN IP: %#x", cc)
	}
	if _, cc := e.callAs(gobmc.PrivilegeLevelUser, nfTransport, 0x02, 0x01, 3, 0, 0); cc != types.CodeInsufficientPrivilege {
		t.Errorf("Get LAN as USER: %#x", cc)
	}
	for _, kind := range []byte{0x40, 0x80} {
		if r := e.ok(nfApp, 0x41, 0x0E, kind); fmt.Sprintf("% x", r) != "22 04" {
			t.Errorf("channel access %#x: % x", kind, r)
		}
	}
	if _, cc := e.call(nfApp, 0x40, 0x01, 0x82, 0x84); cc != ccSetNotOnChannel {
		t.Errorf("Set Channel Access: %#x", cc)
	}
}

func TestGlobalEnablesAndWatchdog(t *testing.T) {
	e := newBMCEnv(t, newBMCMachine("n1"), Hardware{})
	if r := e.ok(nfApp, 0x2F); r[0] != 0x08 {
		t.Errorf("global enables: % x", r)
	}
	e.ok(nfApp, 0x2E, 0x08)
	if _, cc := e.call(nfApp, 0x2E, 0x00); cc != ccInvalidDataField {
		t.Errorf("disabling the SEL: %#x", cc)
	}
	if r := e.ok(nfApp, 0x25); fmt.Sprintf("% x", r) != "00 00 00 00 00 00 00 00" {
		t.Errorf("watchdog before Set: % x", r)
	}
	if _, cc := e.call(nfApp, 0x22); cc != ccWatchdogUninitialized {
		t.Errorf("reset before Set: %#x", cc)
	}
	// SMS/OS, hard reset after 30 s: stored, and still stopped.
	e.ok(nfApp, 0x24, 0x04, 0x01, 0x00, 0x10, 0x2C, 0x01)
	if r := e.ok(nfApp, 0x25); fmt.Sprintf("% x", r) != "04 01 00 00 2c 01 2c 01" {
		t.Errorf("watchdog after Set: % x", r)
	}
	if _, cc := e.call(nfApp, 0x22); cc != ccNotInPresentState {
		t.Errorf("starting the watchdog: %#x", cc)
	}
}

func TestPOHAndRestartCause(t *testing.T) {
	m := newBMCMachine("n1")
	m.onTime = 50*time.Hour + 30*time.Second
	e := newBMCEnv(t, m, Hardware{})
	if r := e.ok(nfChassis, 0x0F); r[0] != 1 || binary.LittleEndian.Uint32(r[1:]) != 3000 {
		t.Errorf("POH: % x", r)
	}
	at := time.Now().Add(-time.Minute)
	for _, tt := range []struct {
		last   *node.ActionRecord
		events []node.Event
		want   string
	}{
		{nil, nil, "00 00"},
		{&node.ActionRecord{Action: power.On, Means: "pdu+wol", Result: "ok", At: at, By: &node.Requester{Channel: "ipmi"}}, nil, "01 01"},
		{&node.ActionRecord{Action: power.Cycle, Means: "pdu", Result: "ok", At: at, By: &node.Requester{Channel: "redfish"}}, nil, "01 00"},
		{&node.ActionRecord{Action: power.On, Means: "manual", Result: "ok", At: at}, nil, "03 00"},
		{&node.ActionRecord{Action: power.Reset, Means: "manual", Result: "ok", At: at}, nil, "02 00"},
		{&node.ActionRecord{Action: power.Off, Means: "pdu", Result: "ok", At: at}, nil, "00 00"},
		{&node.ActionRecord{Action: power.On, Means: "pdu", Result: "error", At: at}, nil, "00 00"},
		// Powered on by itself after the action: not the action's doing.
		{&node.ActionRecord{Action: power.On, Means: "pdu", Result: "ok", At: at},
			[]node.Event{{Kind: node.EventPowerChanged, To: power.StateOn, Unrequested: true, At: time.Now()}}, "00 00"},
	} {
		m.set(func(m *bmcMachine) { m.last, m.events = tt.last, nil })
		m.add(tt.events...)
		if r := e.ok(nfChassis, 0x07); fmt.Sprintf("% x", r) != tt.want {
			t.Errorf("last %+v: restart cause % x, want %s", tt.last, r, tt.want)
		}
	}
}

func TestDCMI(t *testing.T) {
	m := dualPSU()
	now := time.Now()
	m.samples = []node.MeterSample{
		{At: now.Add(-20 * time.Minute).Truncate(node.MeterBucket), Min: 90, Max: 200, Avg: 150, Count: 4},
		{At: now.Add(-30 * time.Second).Truncate(node.MeterBucket), Min: 100, Max: 130, Avg: 118, Count: 2},
		{At: now.Truncate(node.MeterBucket), Min: 120, Max: 120, Avg: 120, Count: 1},
	}
	e := newBMCEnv(t, m, dualPSUHardware)
	caps := e.ok(nfGroupExt, 0x01, 0xDC, 0x01)
	if fmt.Sprintf("% x", caps) != "dc 01 05 02 07 01 08" {
		t.Errorf("capabilities: % x", caps)
	}
	r := e.ok(nfGroupExt, 0x02, 0xDC, 0x01, 0x00, 0x00)
	cur, lo, hi, avg := binary.LittleEndian.Uint16(r[1:]), binary.LittleEndian.Uint16(r[3:]), binary.LittleEndian.Uint16(r[5:]), binary.LittleEndian.Uint16(r[7:])
	// Average over all readings: (150×4 + 118×2 + 120) / 7 = 136.6.
	if r[0] != 0xDC || cur != 120 || lo != 90 || hi != 200 || avg != 137 || r[17] != powerMeasurementOn {
		t.Errorf("power reading: % x", r)
	}
	if period := binary.LittleEndian.Uint32(r[13:]); period < 20*60*1000 || period > 21*60*1000 {
		t.Errorf("reporting period %d ms", period)
	}
	// The last minute only.
	r = e.ok(nfGroupExt, 0x02, 0xDC, 0x02, 0x41, 0x00)
	if lo, hi := binary.LittleEndian.Uint16(r[3:]), binary.LittleEndian.Uint16(r[5:]); lo != 100 || hi != 130 || binary.LittleEndian.Uint32(r[13:]) != 60000 {
		t.Errorf("1-minute reading: % x", r)
	}
	if _, cc := e.call(nfGroupExt, 0x02, 0xDC, 0x02, 0x45, 0x00); cc != ccDCMIPeriodInvalid {
		t.Errorf("5-minute period (not offered): %#x", cc)
	}
	if _, cc := e.call(nfGroupExt, 0x02, 0x00, 0x01, 0x00, 0x00); cc != ccInvalidCommand {
		t.Errorf("PICMG group: %#x", cc)
	}
	if r, cc := e.call(nfGroupExt, 0x03, 0xDC, 0, 0); cc != ccDCMINoPowerLimit || len(r) != 14 {
		t.Errorf("power limit: %#x % x", cc, r)
	}
	if r := e.ok(nfGroupExt, 0x09, 0xDC, 0x00, 0x10); string(r[2:]) != "compute-2" || r[1] != 9 {
		t.Errorf("MC ID string: % x", r)
	}

	// A dead PDU: an error, never an old number passed off as current.
	m.set(func(m *bmcMachine) { m.readErr = fmt.Errorf("pdu: %w", power.ErrTimeout) })
	if _, cc := e.call(nfGroupExt, 0x02, 0xDC, 0x01, 0x00, 0x00); cc != ccTimeout {
		t.Errorf("power reading with a dead PDU: %#x", cc)
	}

	// A node on an unmetered PDU, and one without a PDU, have no power
	// management.
	plain := newBMCMachine("plain")
	plain.reading = power.Reading{State: power.StateOn, Source: "outlet", Outlets: []power.OutletReading{{State: power.StateOn}}}
	for _, env := range []*bmcEnv{
		newBMCEnv(t, plain, Hardware{Outlets: []OutletRef{{"rack9", 1}}}),
		newBMCEnv(t, newBMCMachine("manual"), Hardware{}),
	} {
		if caps := env.ok(nfGroupExt, 0x01, 0xDC, 0x01); caps[5] != 0 {
			t.Errorf("%s capabilities: % x", env.ep.Name(), caps)
		}
		if _, cc := env.call(nfGroupExt, 0x02, 0xDC, 0x01, 0x00, 0x00); cc != ccInvalidCommand {
			t.Errorf("%s power reading: %#x", env.ep.Name(), cc)
		}
		if r := env.ok(nfGroupExt, 0x01, 0xDC, 0x05); fmt.Sprintf("% x", r) != "dc 01 05 02 00" {
			t.Errorf("%s rolling periods: % x", env.ep.Name(), r)
		}
	}
}

// fakeConsole is a console for the SOL HAL test.
type fakeConsole struct{ attached bool }

func (c *fakeConsole) Attach(context.Context) (ConsoleSession, error) {
	if c.attached {
		return nil, fmt.Errorf("tty: %w", ErrConsoleBusy)
	}
	c.attached = true
	return nil, nil
}

func TestSOLConsole(t *testing.T) {
	without := newBMCEnv(t, newBMCMachine("n1"), Hardware{})
	if without.ep.bmc.SOL.Supported() {
		t.Error("SOL supported without a console")
	}
	c := &fakeConsole{}
	e := newBMCEnv(t, newBMCMachine("n2"), Hardware{Console: c, BitRate: 9600})
	if !e.ep.bmc.SOL.Supported() {
		t.Fatal("SOL not supported with a console")
	}
	if p, _ := e.ep.bmc.SOL.Config().GetParam(5); p[0] != 0x06 {
		t.Errorf("SOL bit rate: % x", p)
	}
	// The speed is the console's, not settable over IPMI; the rest is.
	if _, cc := e.call(nfTransport, 0x21, 0x01, 0x06, 0x0A); cc != ccParamReadOnly {
		t.Errorf("set SOL bit rate: %#x", cc)
	}
	e.ok(nfTransport, 0x21, 0x01, 0x04, 0x05, 0x10) // retry count and interval
	if p, _ := e.ep.bmc.SOL.Config().GetParam(4); p[0] != 0x05 || p[1] != 0x10 {
		t.Errorf("SOL retry parameters: % x", p)
	}
	hal := consoleHAL{e.ep}
	if _, err := hal.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Something else holds the console: the spec's "already active".
	if _, err := hal.Open(context.Background()); !errors.Is(err, gobmc.ErrSOLAlreadyActive) {
		t.Errorf("second open: %v", err)
	}
}
