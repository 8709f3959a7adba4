package ipmi

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
)

// The System Event Log of a node is the node's event log (pkg/node): every
// power action with its result and means, changes its sensors saw,
// manual actions, a PDU that stopped answering, boot overrides, clears.
// Each event becomes one standard SEL record (§32.1) whose sensor type
// and offset (Table 42-3) let ipmitool and ipmi-sel print it meaningfully;
// the sensors it names are in the SDR (sdr.go).

// Command-specific completion codes (§31).
const (
	ccReservationCanceled = types.CompletionCode(0xC5)
)

// selEntrySize is the size of every SEL record.
const selEntrySize = 16

// selRecord is what a node event says in SEL terms.
type selRecord struct {
	sensorType, sensor, offset byte
	deassert                   bool
	data2, data3               byte // 0xFF: unspecified
	data1Flags                 byte // event data 1 bits [7:4]: how data 2 and 3 are used
}

// selRecordFor maps a node event to a SEL record. Every kind maps to
// something: what has no standard meaning becomes "entry added to
// auxiliary log" with "event did not map to a standard IPMI event"
// (Table 42-3, System Event offset 03h), the details being in the node's
// log (HTTP API, Redfish).
func selRecordFor(e node.Event) selRecord {
	rec := func(typ, sensor, offset byte) selRecord {
		return selRecord{sensorType: typ, sensor: sensor, offset: offset, data2: 0xFF, data3: 0xFF}
	}
	// Event data 2 of System Event offset 03h: [7:4] 1h "entry added
	// because event did not map to standard IPMI event", [3:0] 1h log
	// type OEM 1; event data 1 [7:6] says byte 2 holds that.
	auxLog := selRecord{sensorType: sensorTypeSystemEvent, sensor: sensorSystemEvent, offset: 0x03,
		data1Flags: 0xC0, data2: 0x11, data3: 0xFF}
	switch e.Kind {
	case node.EventPowerAction:
		action := e.Action
		switch {
		case e.Means == "manual", e.Result == node.ResultCancelled:
			return auxLog
		case e.Result == node.ResultError:
			return rec(sensorTypePowerUnit, sensorPowerControl, 0x05) // soft-power control failure
		}
		switch action {
		case power.Off, power.SoftOff:
			return rec(sensorTypePowerUnit, sensorPowerControl, 0x00) // power off/down
		case power.Cycle:
			return rec(sensorTypePowerUnit, sensorPowerControl, 0x01) // power cycle
		case power.On:
			return rec(sensorTypeSystemBoot, sensorBoot, 0x00) // initiated by power up
		case power.Reset:
			return rec(sensorTypeSystemBoot, sensorBoot, 0x01) // initiated by hard reset
		case power.Diag:
			return rec(sensorTypeCriticalIntr, sensorDiag, 0x00) // NMI/diag interrupt
		}
	case node.EventPowerChanged:
		r := power.Reading{State: e.To}
		if e.Source == power.SourceOutlet && e.To == power.StateOff {
			// The outlets said off: no power at all.
			r.Outlets = []power.OutletReading{{State: power.StateOff}}
		}
		return rec(sensorTypeACPIPowerState, sensorPowerState, acpiState(r))
	case node.EventManualDone:
		if action := e.Action; action == power.Reset || action == power.Cycle {
			return rec(sensorTypeButton, sensorManual, 0x02) // reset button pressed
		}
		return rec(sensorTypeButton, sensorManual, 0x00) // power button pressed
	case node.EventSensorFailed:
		return rec(sensorTypeMgmtHealth, sensorPDUAccess, 0x00) // sensor access degraded or unavailable
	case node.EventSensorRecovered:
		r := rec(sensorTypeMgmtHealth, sensorPDUAccess, 0x00)
		r.deassert = true
		return r
	case node.EventBootOverride:
		return rec(sensorTypeSystemEvent, sensorSystemEvent, 0x00) // system reconfigured
	case node.EventLogCleared:
		return rec(sensorTypeEventLogging, sensorEventLog, 0x02) // log area reset/cleared
	}
	return auxLog
}

// selRecordID is the 16-bit record ID of an event: IDs 0000h and FFFFh
// are reserved (first and last), so the node's 32-bit event IDs wrap over
// 1..FFFEh, far more than a log holds.
func selRecordID(id uint32) uint16 {
	return uint16((id-1)%0xFFFE + 1)
}

// encodeSEL is the 16-byte system event record (Table 32-1) of e.
func encodeSEL(e node.Event) []byte {
	r := selRecordFor(e)
	b := make([]byte, 0, selEntrySize)
	b = binary.LittleEndian.AppendUint16(b, selRecordID(e.ID))
	b = append(b, 0x02) // system event record
	b = binary.LittleEndian.AppendUint32(b, ipmiTimestamp(e.At))
	b = append(b, bmcAddress, 0x00) // generator: the BMC, channel 0, LUN 0
	b = append(b, 0x04)             // event message format of IPMI v2.0
	b = append(b, r.sensorType, r.sensor)
	dir := byte(readingTypeSensorSpecific)
	if r.deassert {
		dir |= 0x80
	}
	b = append(b, dir, r.data1Flags|r.offset&0x0F, r.data2, r.data3)
	return b
}

// selOverflow reports whether the log dropped events since it was last
// cleared: the oldest kept event is neither the first the node ever
// logged nor the clear.
func selOverflow(events []node.Event, limit int) bool {
	return len(events) >= limit && len(events) > 0 &&
		events[0].ID != 1 && events[0].Kind != node.EventLogCleared
}

// lastErase is when the log was last cleared, if it still says so.
func lastErase(events []node.Event) time.Time {
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Kind == node.EventLogCleared {
			return events[i].At
		}
	}
	return time.Time{}
}

func handleGetSELInfo(_ context.Context, hctx *handlers.HandlerContext, _ []byte) ([]byte, types.CompletionCode, error) {
	m := endpointOf(hctx).machine
	events, err := m.Events()
	if err != nil {
		return nil, ccUnspecified, nil
	}
	limit := m.EventLogSize()
	var last time.Time
	if n := len(events); n > 0 {
		last = events[n-1].At
	}
	resp := []byte{0x51} // SEL version 1.5 (IPMI v1.5/2.0)
	resp = binary.LittleEndian.AppendUint16(resp, uint16(len(events)))
	resp = binary.LittleEndian.AppendUint16(resp, uint16(min(max(limit-len(events), 0)*selEntrySize, 0xFFFE)))
	resp = binary.LittleEndian.AppendUint32(resp, ipmiTimestamp(last))
	resp = binary.LittleEndian.AppendUint32(resp, ipmiTimestamp(lastErase(events)))
	// Operation support: Reserve SEL and Get SEL Allocation Info; no
	// delete or partial add; bit 7 overflow.
	support := byte(0x03)
	if selOverflow(events, limit) {
		support |= 0x80
	}
	return append(resp, support), ccOK, nil
}

func handleGetSELAllocInfo(_ context.Context, hctx *handlers.HandlerContext, _ []byte) ([]byte, types.CompletionCode, error) {
	m := endpointOf(hctx).machine
	events, err := m.Events()
	if err != nil {
		return nil, ccUnspecified, nil
	}
	total := uint16(min(m.EventLogSize(), 0xFFFF))
	free := uint16(max(int(total)-len(events), 0))
	resp := binary.LittleEndian.AppendUint16(nil, total)
	resp = binary.LittleEndian.AppendUint16(resp, selEntrySize)
	resp = binary.LittleEndian.AppendUint16(resp, free)
	resp = binary.LittleEndian.AppendUint16(resp, free)
	return append(resp, 0x01), ccOK, nil // every record fits in one unit
}

func handleReserveSEL(_ context.Context, hctx *handlers.HandlerContext, _ []byte) ([]byte, types.CompletionCode, error) {
	ep := endpointOf(hctx)
	ep.hw.mu.Lock()
	ep.hw.selReservation = nextReservation(ep.hw.selReservation)
	id := ep.hw.selReservation
	ep.hw.mu.Unlock()
	return binary.LittleEndian.AppendUint16(nil, id), ccOK, nil
}

// reservationValid reports whether id is the endpoint's current SEL
// reservation.
func (ep *Endpoint) reservationValid(id uint16) bool {
	ep.hw.mu.Lock()
	defer ep.hw.mu.Unlock()
	return id != 0 && id == ep.hw.selReservation
}

func handleGetSELEntry(_ context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	if len(req) < 6 {
		return nil, ccRequestDataTruncated, nil
	}
	ep := endpointOf(hctx)
	reservation := binary.LittleEndian.Uint16(req[0:2])
	id := binary.LittleEndian.Uint16(req[2:4])
	offset, count := int(req[4]), int(req[5])
	// A reservation is needed only to read part of a record (§31.5).
	if offset != 0 && !ep.reservationValid(reservation) {
		return nil, ccReservationCanceled, nil
	}
	events, err := ep.machine.Events()
	if err != nil {
		return nil, ccUnspecified, nil
	}
	idx := -1
	switch {
	case len(events) == 0:
	case id == 0x0000:
		idx = 0
	case id == 0xFFFF:
		idx = len(events) - 1
	default:
		for i, e := range events {
			if selRecordID(e.ID) == id {
				idx = i
				break
			}
		}
	}
	if idx < 0 {
		return nil, ccSensorNotPresent, nil
	}
	next := uint16(0xFFFF)
	if idx+1 < len(events) {
		next = selRecordID(events[idx+1].ID)
	}
	rec := encodeSEL(events[idx])
	if offset >= len(rec) {
		return nil, ccParamOutOfRange, nil
	}
	end := len(rec)
	if count != 0xFF {
		end = min(offset+count, len(rec))
	}
	return append(binary.LittleEndian.AppendUint16(nil, next), rec[offset:end]...), ccOK, nil
}

// ccParamOutOfRange is "parameter out of range" (Table 5-2).
const ccParamOutOfRange = types.CompletionCode(0xC9)

func handleClearSEL(ctx context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	if cc := requirePrivilege(hctx, bmc.PrivilegeLevelOperator); cc != ccOK {
		return nil, cc, nil
	}
	if len(req) < 6 {
		return nil, ccRequestDataTruncated, nil
	}
	ep := endpointOf(hctx)
	if string(req[2:5]) != "CLR" {
		return nil, ccInvalidDataField, nil
	}
	if !ep.reservationValid(binary.LittleEndian.Uint16(req[0:2])) {
		return nil, ccReservationCanceled, nil
	}
	switch req[5] {
	case 0x00: // get erasure status: erasure is synchronous
		return []byte{0x01}, ccOK, nil
	case 0xAA: // initiate erase
	default:
		return nil, ccInvalidDataField, nil
	}
	if err := ep.machine.ClearEvents(ctx); err != nil {
		ep.log.Error("clear SEL failed", "err", err)
		return nil, ccUnspecified, nil
	}
	// A clear cancels the reservation (§31.4.1).
	ep.hw.mu.Lock()
	ep.hw.selReservation = 0
	ep.hw.mu.Unlock()
	return []byte{0x01}, ccOK, nil // erasure completed
}

func handleGetSELTime(_ context.Context, _ *handlers.HandlerContext, _ []byte) ([]byte, types.CompletionCode, error) {
	return binary.LittleEndian.AppendUint32(nil, ipmiTimestamp(time.Now())), ccOK, nil
}

// selTimeTolerance is how far a Set SEL Time may be from the daemon's
// clock and still be accepted (as the no-op it is).
const selTimeTolerance = time.Minute

// handleSetSELTime accepts a time that agrees with the SEL clock and
// refuses any other. A node has no clock of its own: its SEL clock is the
// daemon's (the host's, NTP-disciplined), which also stamps the same
// events in the HTTP API and the Redfish log and every other node's SEL.
// Setting it for one node would make the two records of one event
// disagree, so only "now" (`ipmitool sel time set now` from a host whose
// clock is right) succeeds.
func handleSetSELTime(_ context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	if cc := requirePrivilege(hctx, bmc.PrivilegeLevelOperator); cc != ccOK {
		return nil, cc, nil
	}
	if len(req) < 4 {
		return nil, ccRequestDataTruncated, nil
	}
	asked := time.Unix(int64(binary.LittleEndian.Uint32(req)), 0)
	if d := time.Since(asked); d > selTimeTolerance || d < -selTimeTolerance {
		endpointOf(hctx).log.Warn("refused Set SEL Time: the SEL clock is the daemon's clock", "asked", asked.UTC(), "off_by", d.Round(time.Second))
		return nil, ccInvalidDataField, nil
	}
	return nil, ccOK, nil
}

func handleGetSELTimeUTCOffset(_ context.Context, _ *handlers.HandlerContext, _ []byte) ([]byte, types.CompletionCode, error) {
	// SEL timestamps are UTC: an offset of zero minutes.
	return []byte{0x00, 0x00}, ccOK, nil
}

// requirePrivilege answers "insufficient privilege" when the session runs
// below level (IPMI v2.0 Appendix G); go-ipmi's table puts every command it
// does not know at USER.
func requirePrivilege(hctx *handlers.HandlerContext, level bmc.PrivilegeLevel) types.CompletionCode {
	switch {
	case hctx.Session != nil && hctx.Session.PrivilegeLevel < level,
		hctx.V15Session != nil && hctx.V15Session.PrivilegeLevel < level:
		return types.CodeInsufficientPrivilege
	}
	return ccOK
}
