package ipmi

import (
	"context"
	"time"

	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/powerjockey/powerjockey/pkg/power"
)

// Completion codes of the sensor and storage commands (Table 5-2).
const (
	ccSensorNotPresent = types.CompletionCode(0xCB) // requested sensor, data or record not present
)

// sensorReadWait bounds how long a sensor read waits for the node to
// refresh a reading older than its max age while the node's sensors are
// failing; after it, the cached reading is served (if not stale). Every
// Get Sensor Reading of an `sdr list` would otherwise wait for a dead PDU
// in turn. While they answer, the node's own bound applies (its status
// wait, 1.5 s by default), so that the first sensor read after a power
// action does not serve the reading from before it.
const sensorReadWait = 250 * time.Millisecond

// reading is the node's cached reading, refreshed if older than its max
// age (see sensorReadWait).
func (ep *Endpoint) reading(ctx context.Context) (power.Reading, error) {
	if ep.machine.Snapshot().ReadingErr != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, sensorReadWait)
		defer cancel()
	}
	return ep.machine.PowerState(ctx)
}

// Get Sensor Reading byte 2 (Table 35-15).
const (
	readingScanning    = 0x40 // sensor scanning enabled; event messages disabled (bit 7 clear)
	readingUnavailable = 0x20
)

// sensorState is what one sensor reads now.
type sensorState struct {
	raw         byte   // threshold sensors: the reading
	states      uint16 // discrete sensors: asserted offsets
	unavailable bool
}

// readSensor reads sensor d from the node's cached reading: never a PDU
// poll of its own (the node shares one per PDU and max age).
func (ep *Endpoint) readSensor(ctx context.Context, d sensorDef) sensorState {
	r, err := ep.reading(ctx)
	if d.number == sensorPDUAccess {
		// Asserted while the node's sensors do not answer, even if a
		// cached reading is still being served.
		if err != nil || ep.machine.Snapshot().ReadingErr != nil {
			return sensorState{states: 1 << 0}
		}
		return sensorState{}
	}
	if err != nil || d.record == sdrEventOnly {
		return sensorState{unavailable: true}
	}
	var outlet *power.OutletReading
	if d.supply >= 0 {
		if d.supply >= len(r.Outlets) {
			return sensorState{unavailable: true}
		}
		outlet = &r.Outlets[d.supply]
	}
	switch {
	case d.wattsSensor:
		w := r.Watts
		if outlet != nil {
			w = outlet.Watts
		}
		if w == nil {
			return sensorState{unavailable: true} // no meter: never an invented value
		}
		return sensorState{raw: rawWatts(*w, ep.sdr().scales[d.number])}
	case d.number == sensorPowerState:
		return sensorState{states: 1 << acpiState(r)}
	case outlet != nil: // PSU status
		switch outlet.State {
		case power.StateOn:
			return sensorState{states: 1 << psuPresent}
		case power.StateOff:
			return sensorState{states: 1<<psuPresent | 1<<psuInputLost}
		}
	}
	return sensorState{unavailable: true}
}

// acpiState is the System ACPI Power State offset for a reading: working
// when on; G3 (mechanical off) when every outlet feeding the node is off;
// S5 (soft off) when the machine is off behind live power.
func acpiState(r power.Reading) uint8 {
	switch r.State {
	case power.StateOn:
		return acpiWorking
	case power.StateOff:
		if len(r.Outlets) == 0 {
			return acpiSoftOff
		}
		for _, o := range r.Outlets {
			if o.State != power.StateOff {
				return acpiSoftOff
			}
		}
		return acpiMechanicalOff
	}
	return acpiUnknown
}

// sensorFor validates a request naming a sensor number in its first byte.
func sensorFor(hctx *handlers.HandlerContext, req []byte, want int) (*Endpoint, sensorDef, types.CompletionCode) {
	if len(req) < want {
		return nil, sensorDef{}, ccRequestDataTruncated
	}
	ep := endpointOf(hctx)
	d, ok := ep.sensorDef(req[0])
	if !ok {
		return nil, sensorDef{}, ccSensorNotPresent
	}
	return ep, d, ccOK
}

func handleGetSensorReading(ctx context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	ep, d, cc := sensorFor(hctx, req, 1)
	if cc != ccOK {
		return nil, cc, nil
	}
	s := ep.readSensor(ctx, d)
	status := byte(readingScanning)
	if s.unavailable {
		status |= readingUnavailable
	}
	if d.record == sdrFull {
		// Byte 3: threshold comparison status, none crossed (bits 7:6
		// reserved, returned as 1b); byte 4 reserved, returned as 80h.
		return []byte{s.raw, status, 0xC0, 0x80}, ccOK, nil
	}
	// Discrete: byte 1 unused, bytes 3-4 the asserted states 0-14 (byte 4
	// bit 7 reserved, returned as 1b).
	return []byte{0x00, status, byte(s.states), 0x80 | byte(s.states>>8)}, ccOK, nil
}

func handleGetSensorThresholds(_ context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	_, d, cc := sensorFor(hctx, req, 1)
	if cc != ccOK {
		return nil, cc, nil
	}
	if d.record != sdrFull {
		return nil, ccInvalidDataField, nil // not a threshold sensor
	}
	// No threshold is readable: a PDU outlet's meter says what a machine
	// draws, not what its power supply is rated for.
	return []byte{0x00, 0, 0, 0, 0, 0, 0}, ccOK, nil
}

func handleGetSensorHysteresis(_ context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	if _, _, cc := sensorFor(hctx, req, 1); cc != ccOK {
		return nil, cc, nil
	}
	return []byte{0x00, 0x00}, ccOK, nil
}

func handleGetSensorEventEnable(_ context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	if _, _, cc := sensorFor(hctx, req, 1); cc != ccOK {
		return nil, cc, nil
	}
	// Scanning on, event messages off, no event enabled: sensors do not
	// send event messages; the BMC writes its SEL itself.
	return []byte{readingScanning, 0, 0, 0, 0}, ccOK, nil
}

func handleGetSensorEventStatus(ctx context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	ep, d, cc := sensorFor(hctx, req, 1)
	if cc != ccOK {
		return nil, cc, nil
	}
	status := byte(readingScanning)
	if d.record != sdrEventOnly && ep.readSensor(ctx, d).unavailable {
		status |= readingUnavailable
	}
	return []byte{status, 0, 0, 0, 0}, ccOK, nil
}

func handleGetSensorType(_ context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	_, d, cc := sensorFor(hctx, req, 1)
	if cc != ccOK {
		return nil, cc, nil
	}
	rt := byte(readingTypeSensorSpecific)
	if d.record == sdrFull {
		rt = readingTypeThreshold
	}
	return []byte{d.sensorType, rt}, ccOK, nil
}
