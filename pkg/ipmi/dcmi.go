package ipmi

import (
	"context"
	"encoding/binary"
	"math"
	"slices"
	"time"

	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
)

// DCMI (Data Center Manageability Interface 1.5) rides the Group Extension
// NetFn (2Ch) with group ID DCh as the first byte of every request and
// response. A node whose PDU meters its outlets is a platform with power
// management (power readings; no power limiting); any other node answers
// as a DCMI BMC without it.

const dcmiGroup = 0xDC

// DCMI completion codes (DCMI 1.5 Table 6-1 and per command).
const (
	ccDCMINoPowerLimit   = types.CompletionCode(0x80) // Get Power Limit: no active set power limit
	ccDCMIPeriodInvalid  = types.CompletionCode(0x89) // statistics reporting period out of range
	ccInvalidCommand     = types.CompletionCode(0xC1)
	dcmiStatsModeSystem  = 0x01
	dcmiStatsModeRolling = 0x02
	powerMeasurementOn   = 0x40 // power reading state: measurement active
)

// dcmiRollingPeriods are the rolling-average periods offered (DCMI 1.5
// §6.6.1 time duration encoding: [7:6] unit 00b s, 01b min, 10b h; [5:0]
// count): those ipmitool knows that the meter history covers, at least
// one 15-second bucket and at most an hour.
var dcmiRollingPeriods = []byte{0x0F, 0x1E, 0x41, 0x43, 0x47, 0x4F, 0x5E, 0x81}

// dcmiPeriod decodes a time duration byte.
func dcmiPeriod(b byte) time.Duration {
	n := time.Duration(b & 0x3F)
	switch b >> 6 {
	case 0:
		return n * time.Second
	case 1:
		return n * time.Minute
	case 2:
		return n * time.Hour
	default:
		return n * 24 * time.Hour
	}
}

// dcmiRequest checks the group ID every DCMI request starts with; other
// group extensions (PICMG, VITA) are not served.
func dcmiRequest(req []byte, want int) ([]byte, types.CompletionCode) {
	if len(req) < 1 || req[0] != dcmiGroup {
		return nil, ccInvalidCommand
	}
	if len(req) < want {
		return nil, ccRequestDataTruncated
	}
	return req, ccOK
}

// metered reports whether the node has a power meter that has spoken:
// its reading carries watts, or its meter history has samples.
func (ep *Endpoint) metered() bool {
	if len(ep.cfg.Hardware.Outlets) == 0 {
		return false
	}
	if ep.machine.Snapshot().Reading.Watts != nil {
		return true
	}
	return len(ep.machine.MeterSamples(time.Now().Add(-node.MeterHistory))) > 0
}

// handleGetDCMICapabilities implements Get DCMI Capabilities Info (DCMI
// 1.5 §6.1.1), parameters 1-5.
func handleGetDCMICapabilities(_ context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	req, cc := dcmiRequest(req, 2)
	if cc != ccOK {
		return nil, cc, nil
	}
	ep := endpointOf(hctx)
	metered := ep.metered()
	var data []byte
	switch req[1] {
	case 1: // supported DCMI capabilities
		// Byte 1, mandatory platform capabilities (bits as ipmitool and
		// freeipmi decode them): identification, SEL logging, chassis
		// power; no temperature monitoring (no temperature sensors).
		platform := byte(0x07)
		var optional byte
		if metered {
			optional = 0x01 // power management (readings)
		}
		access := byte(0x08) // out-of-band primary LAN channel
		if ep.cfg.Hardware.Console != nil {
			access |= 0x10 // SOL
		}
		data = []byte{platform, optional, access}
	case 2: // mandatory platform attributes
		entries := uint16(min(ep.machine.EventLogSize(), 0x0FFF)) | 0x8000 // the oldest entries roll over
		data = binary.LittleEndian.AppendUint16(nil, entries)
		data = append(data,
			0x05, // identification: GUID and asset tag (no DHCP host name)
			0x00, // temperature monitoring: none
			0x00, // temperature sampling frequency
		)
	case 3: // optional platform attributes
		// Where power management would be: the BMC itself, channel 0,
		// revision 0. Parameter 1 says whether it is available.
		data = []byte{bmcAddress << 1, 0x00}
	case 4: // manageability access attributes
		data = []byte{lanChannel, 0xFF, 0xFF} // primary LAN; no secondary LAN, no serial
	case 5: // enhanced system power statistics attributes
		data = []byte{0} // no rolling-average period without a meter
		if metered {
			data = append([]byte{byte(len(dcmiRollingPeriods))}, dcmiRollingPeriods...)
		}
	default:
		return nil, ccParamNotSupported, nil
	}
	// Group ID, DCMI 1.5, parameter revision 02h, data.
	return append([]byte{dcmiGroup, 0x01, 0x05, 0x02}, data...), ccOK, nil
}

// handleGetDCMIPowerReading implements Get Power Reading (DCMI 1.5
// §6.6.1): the current draw from the node's reading and the minimum,
// maximum and average over the reporting period from its meter history
// (mode 1: all of it, up to an hour; mode 2: the rolling period asked).
func handleGetDCMIPowerReading(ctx context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	req, cc := dcmiRequest(req, 4)
	if cc != ccOK {
		return nil, cc, nil
	}
	ep := endpointOf(hctx)
	if len(ep.cfg.Hardware.Outlets) == 0 {
		return nil, ccInvalidCommand, nil // no power management
	}
	now := time.Now()
	since := now.Add(-node.MeterHistory)
	switch req[1] {
	case dcmiStatsModeSystem:
	case dcmiStatsModeRolling:
		if !slices.Contains(dcmiRollingPeriods, req[2]) {
			return nil, ccDCMIPeriodInvalid, nil
		}
		since = now.Add(-dcmiPeriod(req[2]))
	default:
		return nil, ccInvalidDataField, nil
	}
	r, err := ep.reading(ctx)
	if err != nil {
		return nil, completionFor(err), nil
	}
	if r.Watts == nil {
		if ep.metered() {
			// A metered node whose reading came without watts (its PDU
			// answered the state but not the meter) has no current value.
			return nil, completionFor(power.ErrTimeout), nil
		}
		return nil, ccInvalidCommand, nil // the PDU does not meter: no power management
	}
	stats := node.Summarise(ep.machine.MeterSamples(since))
	if stats.Count == 0 {
		stats = node.MeterStats{Min: *r.Watts, Max: *r.Watts, Avg: *r.Watts, Since: r.At, Count: 1}
	}
	period := now.Sub(stats.Since)
	if req[1] == dcmiStatsModeRolling {
		period = now.Sub(since)
	}
	watts := func(w float64) uint16 { return uint16(min(math.Round(max(w, 0)), 0xFFFF)) }
	resp := []byte{dcmiGroup}
	resp = binary.LittleEndian.AppendUint16(resp, watts(*r.Watts))
	resp = binary.LittleEndian.AppendUint16(resp, watts(stats.Min))
	resp = binary.LittleEndian.AppendUint16(resp, watts(stats.Max))
	resp = binary.LittleEndian.AppendUint16(resp, watts(stats.Avg))
	resp = binary.LittleEndian.AppendUint32(resp, ipmiTimestamp(r.At))
	resp = binary.LittleEndian.AppendUint32(resp, uint32(min(period.Milliseconds(), 0xFFFFFFFF)))
	return append(resp, powerMeasurementOn), ccOK, nil
}

// handleGetDCMIPowerLimit (§6.6.2): power readings come from a PDU's
// meter, which can switch an outlet but not cap a machine's draw, so no
// limit is ever active. The completion code says so and, as the spec has
// it, the data still follows: no exception action, no limit.
func handleGetDCMIPowerLimit(_ context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	if _, cc := dcmiRequest(req, 3); cc != ccOK {
		return nil, cc, nil
	}
	if !endpointOf(hctx).metered() {
		return nil, ccInvalidCommand, nil
	}
	// Group ID, 2 reserved, exception action, limit (2), correction
	// time (4), 2 reserved, sampling period (2).
	return append([]byte{dcmiGroup}, make([]byte, 13)...), ccDCMINoPowerLimit, nil
}

// dcmiString serves a string in 16-byte chunks (Get Asset Tag §6.4.2,
// Get Management Controller Identifier String §6.4.6): the total length,
// then the bytes asked for.
func dcmiString(req []byte, s string) ([]byte, types.CompletionCode, error) {
	req, cc := dcmiRequest(req, 3)
	if cc != ccOK {
		return nil, cc, nil
	}
	b := []byte(s)
	off, n := int(req[1]), int(req[2])
	if n > 16 {
		return nil, ccParamOutOfRange, nil
	}
	if off > len(b) {
		return nil, ccParamOutOfRange, nil
	}
	end := min(off+n, len(b))
	return append([]byte{dcmiGroup, byte(len(b))}, b[off:end]...), ccOK, nil
}

func handleGetDCMIAssetTag(_ context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	return dcmiString(req, endpointOf(hctx).cfg.Hardware.FRU.AssetTag)
}

func handleGetDCMIMCIDString(_ context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	return dcmiString(req, endpointOf(hctx).Name())
}

// handleGetDCMISensorInfo (§6.5.2) lists the DCMI temperature sensors:
// a PDU measures no temperature, so there are none.
func handleGetDCMISensorInfo(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	req, cc := dcmiRequest(req, 5)
	if cc != ccOK {
		return nil, cc, nil
	}
	if req[1] != 0x01 { // only temperature sensors are defined
		return nil, ccInvalidDataField, nil
	}
	return []byte{dcmiGroup, 0x00, 0x00}, ccOK, nil
}
