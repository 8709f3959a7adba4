package ipmi

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/bougou/go-ipmi/pkg/hal"
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"
)

// Sensor numbers. They are fixed, whatever the node's outlets, so that
// SEL records keep naming the same sensor.
const (
	sensorTotalPower   = 0x01 // threshold, Watts: the node's metered draw
	sensorPowerState   = 0x02 // System ACPI Power State (22h)
	sensorPowerControl = 0x03 // Power Unit (09h), event-only: power actions
	sensorBoot         = 0x04 // System Boot/Restart Initiated (1Dh), event-only
	sensorManual       = 0x05 // Button/Switch (14h), event-only: manual actions done
	sensorPDUAccess    = 0x06 // Management Subsystem Health (28h)
	sensorEventLog     = 0x07 // Event Logging Disabled (10h), event-only
	sensorSystemEvent  = 0x08 // System Event (12h), event-only
	sensorDiag         = 0x09 // Critical Interrupt (13h), event-only
	sensorSupplyPower  = 0x10 // + PSU index: threshold, Watts, per outlet
	sensorSupplyStatus = 0x20 // + PSU index: Power Supply (08h), per outlet
	maxSupplies        = 16
)

// Sensor types (IPMI v2.0 Table 42-3) and event/reading types (Table 42-1).
const (
	sensorTypeCurrent         = 0x03
	sensorTypePowerSupply     = 0x08
	sensorTypePowerUnit       = 0x09
	sensorTypeEventLogging    = 0x10
	sensorTypeSystemEvent     = 0x12
	sensorTypeCriticalIntr    = 0x13
	sensorTypeButton          = 0x14
	sensorTypeSystemBoot      = 0x1D
	sensorTypeACPIPowerState  = 0x22
	sensorTypeMgmtHealth      = 0x28
	readingTypeThreshold      = 0x01
	readingTypeSensorSpecific = 0x6F
)

// Entity IDs (IPMI v2.0 Table 43-13).
const (
	entityPowerSupply  = 0x0A
	entityPowerUnit    = 0x13
	entitySystemMgmt   = 0x06
	entitySystemChassi = 0x17
)

// SDR record types (§43).
const (
	sdrFull      = 0x01
	sdrCompact   = 0x02
	sdrEventOnly = 0x03
	sdrMCLocator = 0x12
)

// sdrVersion is the SDR format of IPMI v1.5/2.0 (51h).
const sdrVersion = 0x51

// bmcAddress is the BMC's IPMB slave address, owner of every sensor.
const bmcAddress = 0x20

// sensorDef is one sensor of a node's repository.
type sensorDef struct {
	number      uint8
	record      uint8 // sdrFull, sdrCompact or sdrEventOnly
	name        string
	sensorType  uint8
	entity      uint8
	instance    uint8
	states      uint16 // sensor-specific offsets the sensor can assert
	supply      int    // PSU index for per-outlet sensors, else -1
	wattsSensor bool
}

// sensorDefs lists a node's sensors: the total draw, the power state, the
// PDU's reachability, a draw and a status sensor per power supply, and
// the event-only sensors its SEL records name.
func sensorDefs(outlets int) []sensorDef {
	defs := []sensorDef{
		{number: sensorTotalPower, record: sdrFull, name: "Total Power", sensorType: sensorTypeCurrent, entity: entitySystemChassi, instance: 1, supply: -1, wattsSensor: true},
		{number: sensorPowerState, record: sdrCompact, name: "Power State", sensorType: sensorTypeACPIPowerState, entity: entitySystemChassi, instance: 1, supply: -1,
			states: 1<<acpiWorking | 1<<acpiSoftOff | 1<<acpiMechanicalOff | 1<<acpiUnknown},
		{number: sensorPDUAccess, record: sdrCompact, name: "PDU Access", sensorType: sensorTypeMgmtHealth, entity: entitySystemMgmt, instance: 1, supply: -1, states: 1 << 0},
	}
	outlets = min(outlets, maxSupplies)
	if outlets > 1 {
		for i := range outlets {
			defs = append(defs, sensorDef{number: sensorSupplyPower + uint8(i), record: sdrFull, name: fmt.Sprintf("PSU%d Power", i+1),
				sensorType: sensorTypeCurrent, entity: entityPowerSupply, instance: uint8(i + 1), supply: i, wattsSensor: true})
		}
	}
	for i := range outlets {
		defs = append(defs, sensorDef{number: sensorSupplyStatus + uint8(i), record: sdrCompact, name: fmt.Sprintf("PSU%d Status", i+1),
			sensorType: sensorTypePowerSupply, entity: entityPowerSupply, instance: uint8(i + 1), supply: i,
			states: 1<<psuPresent | 1<<psuInputLost})
	}
	for _, e := range []sensorDef{
		{number: sensorPowerControl, name: "Power Control", sensorType: sensorTypePowerUnit, entity: entityPowerUnit},
		{number: sensorBoot, name: "Boot", sensorType: sensorTypeSystemBoot, entity: entitySystemChassi},
		{number: sensorManual, name: "Manual Power", sensorType: sensorTypeButton, entity: entitySystemChassi},
		{number: sensorEventLog, name: "Event Log", sensorType: sensorTypeEventLogging, entity: entitySystemMgmt},
		{number: sensorSystemEvent, name: "System Event", sensorType: sensorTypeSystemEvent, entity: entitySystemChassi},
		{number: sensorDiag, name: "Diag Interrupt", sensorType: sensorTypeCriticalIntr, entity: entitySystemChassi},
	} {
		e.record, e.instance, e.supply = sdrEventOnly, 1, -1
		defs = append(defs, e)
	}
	return defs
}

// Sensor-specific offsets used by the discrete sensors (Table 42-3).
const (
	acpiWorking       = 0x00 // S0/G0
	acpiSoftOff       = 0x05 // S5/G2: standby power, machine off
	acpiMechanicalOff = 0x07 // G3: no power at all
	acpiUnknown       = 0x0E
	psuPresent        = 0x00
	psuInputLost      = 0x03 // Power Supply input lost (AC/DC)
)

// wattScales are the multipliers M a Watts sensor may use: one raw byte
// reads 0..255×M W, exact to M W. The smallest that covers the node's
// maximum draw is used; the scale is fixed, so that clients caching the
// SDR (freeipmi) never convert a reading with a stale one.
var wattScales = []uint16{1, 2, 4, 5, 10, 20, 40, 50, 100, 200, 500, 1000}

// scaleFor returns the smallest scale whose range covers watts.
func scaleFor(watts float64) uint16 {
	for _, m := range wattScales {
		if math.Round(watts) <= 255*float64(m) {
			return m
		}
	}
	return wattScales[len(wattScales)-1]
}

// rawWatts converts watts to the sensor's raw byte at scale m.
func rawWatts(watts float64, m uint16) byte {
	v := math.Round(max(watts, 0) / float64(m))
	return byte(min(v, 255))
}

// sdrRepo is a node's SDR repository as built: the records in order and
// the scale each Watts sensor was built with.
type sdrRepo struct {
	defs    []sensorDef
	records [][]byte // records[i] has record ID i+1
	scales  map[uint8]uint16
	built   time.Time
}

// buildSDR encodes the repository of a node named name with the given
// Watts scales.
func buildSDR(name string, defs []sensorDef, scales map[uint8]uint16, now time.Time) *sdrRepo {
	r := &sdrRepo{defs: defs, scales: scales, built: now}
	id := uint16(1)
	r.records = append(r.records, mcLocatorRecord(id, name))
	for _, d := range defs {
		id++
		var body []byte
		switch d.record {
		case sdrFull:
			body = fullSensorBody(d, scales[d.number])
		case sdrCompact:
			body = compactSensorBody(d)
		default:
			body = eventOnlyBody(d)
		}
		r.records = append(r.records, sdrRecord(id, d.record, body))
	}
	return r
}

// sdrRecord frames a record body with the SDR header (§43): record ID,
// SDR version, record type and the length of what follows.
func sdrRecord(id uint16, typ byte, body []byte) []byte {
	rec := make([]byte, 5, 5+len(body))
	binary.LittleEndian.PutUint16(rec, id)
	rec[2], rec[3], rec[4] = sdrVersion, typ, byte(len(body))
	return append(rec, body...)
}

// idString is an ID string type/length byte (8-bit ASCII+Latin1, §43.15)
// and up to 16 bytes.
func idString(s string) []byte {
	b := []byte(s)
	if len(b) > 16 {
		b = b[:16]
	}
	return append([]byte{0xC0 | byte(len(b))}, b...)
}

// sensorKey is the owner, LUN, number, entity and instance bytes common to
// sensor records (record bytes 6-10).
func sensorKey(d sensorDef) []byte {
	return []byte{bmcAddress, 0x00, d.number, d.entity, d.instance & 0x7F}
}

// Sensor initialization and capabilities bytes (record bytes 11-12): the
// sensor is scanned, re-arms itself, has no thresholds or hysteresis, and
// sends no event messages (the SEL is written by the BMC itself).
const (
	sensorInit         = 0x41 // init scanning, scanning enabled
	sensorCapabilities = 0x43 // auto re-arm, no hysteresis, no thresholds, no event messages
)

// fullSensorBody is a Full Sensor Record (Table 43-1) for a Watts sensor
// with linear conversion y = M×x (B = 0, exponents 0). The meter's whole
// watts are exact at M = 1; coarser scales round to the nearest step, a
// tolerance of ±½ raw count.
func fullSensorBody(d sensorDef, m uint16) []byte {
	tolerance := byte(0)
	if m > 1 {
		tolerance = 1 // in ½ raw counts
	}
	b := sensorKey(d)
	b = append(b, sensorInit, sensorCapabilities, d.sensorType, readingTypeThreshold)
	b = append(b, 0, 0, 0, 0, 0, 0) // assertion, deassertion, reading/threshold masks: none
	b = append(b,
		0x00,                         // units 1: unsigned, no rate, no modifier
		0x06,                         // base unit: Watts (Table 43-15)
		0x00,                         // modifier unit
		0x00,                         // linearization: linear
		byte(m),                      // M LS
		byte(m>>8&0x03)<<6|tolerance, // M MS, tolerance
		0x00,                         // B LS
		0x00,                         // B MS, accuracy 0
		0x00,                         // accuracy MS, exponent, direction unspecified
		0x00,                         // R exponent 0, B exponent 0
		0x00,                         // analog flags: no nominal or normal values
		0, 0, 0,                      // nominal, normal max, normal min
		0xFF, 0x00, // sensor maximum and minimum reading
		0, 0, 0, 0, 0, 0, // thresholds (none readable)
		0, 0, // hysteresis
		0, 0, // reserved
		0x00, // OEM
	)
	return append(b, idString(d.name)...)
}

// compactSensorBody is a Compact Sensor Record (Table 43-2) of a discrete,
// sensor-specific sensor that can assert d.states.
func compactSensorBody(d sensorDef) []byte {
	b := sensorKey(d)
	b = append(b, sensorInit, sensorCapabilities, d.sensorType, readingTypeSensorSpecific)
	b = binary.LittleEndian.AppendUint16(b, d.states) // assertion event mask
	b = binary.LittleEndian.AppendUint16(b, 0)        // deassertion event mask
	b = binary.LittleEndian.AppendUint16(b, d.states) // discrete reading mask
	b = append(b,
		0xC0, 0x00, 0x00, // units: no analog reading
		0x01, 0x00, // record sharing: one sensor
		0, 0, // hysteresis
		0, 0, 0, // reserved
		0x00, // OEM
	)
	return append(b, idString(d.name)...)
}

// eventOnlyBody is an Event-Only Record (Table 43-3): a sensor that exists
// to name the SEL records it generates.
func eventOnlyBody(d sensorDef) []byte {
	b := sensorKey(d)
	b = append(b, d.sensorType, readingTypeSensorSpecific,
		0x01, 0x00, // record sharing: one sensor
		0x00, // reserved
		0x00, // OEM
	)
	return append(b, idString(d.name)...)
}

// mcLocatorRecord is the Management Controller Device Locator (Table
// 43-7) of the BMC, named after the node.
func mcLocatorRecord(id uint16, name string) []byte {
	body := []byte{
		bmcAddress, // device slave address
		0x00,       // channel 0 (primary IPMB)
		0x00,       // no ACPI notifications, enable event message generation
		0x8F,       // capabilities: chassis, FRU inventory, SEL, SDR repository and sensor device
		0, 0, 0,    // reserved
		entitySystemMgmt, 0x01, // entity: system management module
		0x00, // OEM
	}
	body = append(body, idString(name)...)
	return sdrRecord(id, sdrMCLocator, body)
}

// sdr returns the endpoint's repository, built on first use. It depends
// on the configuration only (outlets, maximum draw, name), so it is the
// same on every start, and so is its addition timestamp: the time the node
// first served this content, which freeipmi compares with its SDR cache
// (a new timestamp makes it refuse a stale cache, as after a firmware
// update of a real BMC).
func (ep *Endpoint) sdr() *sdrRepo {
	ep.hw.mu.Lock()
	defer ep.hw.mu.Unlock()
	if ep.hw.sdr == nil {
		defs := sensorDefs(len(ep.cfg.Hardware.Outlets))
		m := scaleFor(ep.cfg.Hardware.maxWatts())
		scales := map[uint8]uint16{}
		for _, d := range defs {
			if d.wattsSensor {
				scales[d.number] = m
			}
		}
		r := buildSDR(ep.Name(), defs, scales, time.Time{})
		h := sha256.New()
		for _, rec := range r.records {
			h.Write(rec)
		}
		at, err := ep.machine.FirstServed("ipmi-sdr", hex.EncodeToString(h.Sum(nil)))
		if err != nil {
			ep.log.Error("cannot record the SDR repository's timestamp", "err", err)
		}
		r.built = at
		ep.hw.sdr = r
	}
	return ep.hw.sdr
}

// sensorDef finds a sensor of the endpoint by number.
func (ep *Endpoint) sensorDef(number uint8) (sensorDef, bool) {
	for _, d := range ep.sdr().defs {
		if d.number == number {
			return d, true
		}
	}
	return sensorDef{}, false
}

// sdrStore serves the repository to go-ipmi's SDR handlers (Get SDR,
// Reserve SDR Repository). It is read-only: the repository describes the
// node's configuration.
type sdrStore struct{ ep *Endpoint }

var errReadOnly = errors.New("read-only: the repository is built from the configuration")

func (s sdrStore) Read(_ context.Context, id uint16) ([]byte, error) {
	recs := s.ep.sdr().records
	if id == 0 || int(id) > len(recs) {
		return nil, hal.ErrNotFound
	}
	return recs[id-1], nil
}

func (s sdrStore) Write(context.Context, uint16, []byte) error { return errReadOnly }
func (s sdrStore) Delete(context.Context, uint16) error        { return errReadOnly }

func (s sdrStore) RecordIDs(context.Context) ([]uint16, error) {
	n := len(s.ep.sdr().records)
	ids := make([]uint16, n)
	for i := range ids {
		ids[i] = uint16(i + 1)
	}
	return ids, nil
}

// storageHAL gives go-ipmi the SDR repository and the FRU inventory.
type storageHAL struct{ ep *Endpoint }

func (s storageHAL) SDR() hal.SDRStore { return sdrStore(s) }
func (s storageHAL) FRU() hal.FRUStore { return fruStore(s) }

// handleGetSDRRepoInfo implements Get SDR Repository Info (§33.9).
// go-ipmi reports "now" as the most recent addition and erase, so a
// caching client (freeipmi's SDR cache) would find its cache out of date
// on every call; here the addition is when the repository was built.
func handleGetSDRRepoInfo(_ context.Context, hctx *handlers.HandlerContext, _ []byte) ([]byte, types.CompletionCode, error) {
	repo := endpointOf(hctx).sdr()
	resp := []byte{sdrVersion}
	resp = binary.LittleEndian.AppendUint16(resp, uint16(len(repo.records)))
	resp = binary.LittleEndian.AppendUint16(resp, 0) // free space: none (read-only)
	resp = binary.LittleEndian.AppendUint32(resp, ipmiTimestamp(repo.built))
	resp = binary.LittleEndian.AppendUint32(resp, 0xFFFFFFFF) // never erased
	// Operation support: Reserve SDR Repository and Get SDR Repository
	// Allocation Info supported; no update, delete or partial add.
	resp = append(resp, 0x03)
	return resp, ccOK, nil
}
