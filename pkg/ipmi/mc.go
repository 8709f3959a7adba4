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

// globalEnables is what Get BMC Global Enables reports (§22.2): system
// event logging on; no event message buffer or receive queue (there is no
// system interface for the host to read them from).
const globalEnables = 0x08

func handleGetBMCGlobalEnables(context.Context, *handlers.HandlerContext, []byte) ([]byte, types.CompletionCode, error) {
	return []byte{globalEnables}, ccOK, nil
}

// handleSetBMCGlobalEnables accepts the settings in force and nothing
// else: logging is the node's own record and cannot be turned off over
// IPMI, and there is no system interface to interrupt.
func handleSetBMCGlobalEnables(_ context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	if cc := requirePrivilege(hctx, bmc.PrivilegeLevelAdministrator); cc != ccOK {
		return nil, cc, nil
	}
	if len(req) < 1 {
		return nil, ccRequestDataTruncated, nil
	}
	if req[0] != globalEnables {
		return nil, ccInvalidDataField, nil
	}
	return nil, ccOK, nil
}

// watchdogSettings is what Set Watchdog Timer stored (§27.6).
type watchdogSettings struct {
	use, actions, pretimeout byte
	countdown                uint16 // 100 ms units
}

// Watchdog completion codes (§27.5).
const (
	ccWatchdogUninitialized = types.CompletionCode(0x80) // attempt to start an un-initialized watchdog
	ccNotInPresentState     = types.CompletionCode(0xD5) // not supported in present state
)

// handleGetWatchdogTimer reports an honest, stopped timer with whatever
// Set Watchdog Timer stored. A machine without a BMC has no agent that
// could be reset by its expiry, so the timer never runs.
func handleGetWatchdogTimer(_ context.Context, hctx *handlers.HandlerContext, _ []byte) ([]byte, types.CompletionCode, error) {
	ep := endpointOf(hctx)
	ep.hw.mu.Lock()
	w := ep.hw.watchdog
	ep.hw.mu.Unlock()
	resp := []byte{w.use & 0x87, w.actions & 0x77, w.pretimeout, 0x00} // bit 6 of byte 1 clear: stopped; no expirations
	resp = binary.LittleEndian.AppendUint16(resp, w.countdown)
	return binary.LittleEndian.AppendUint16(resp, w.countdown), ccOK, nil // present = initial while stopped
}

// handleSetWatchdogTimer stores the settings. Set Watchdog Timer never
// starts the timer (only Reset does), so storing them is the whole job.
func handleSetWatchdogTimer(_ context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	if cc := requirePrivilege(hctx, bmc.PrivilegeLevelOperator); cc != ccOK {
		return nil, cc, nil
	}
	if len(req) < 6 {
		return nil, ccRequestDataTruncated, nil
	}
	if req[0]&0x07 == 0 || req[0]&0x07 > 5 { // timer use 0 and 6-7 are reserved
		return nil, ccInvalidDataField, nil
	}
	ep := endpointOf(hctx)
	ep.hw.mu.Lock()
	ep.hw.watchdog = watchdogSettings{use: req[0] & 0x87, actions: req[1] & 0x77, pretimeout: req[2],
		countdown: binary.LittleEndian.Uint16(req[4:6])}
	ep.hw.watchdogSet = true
	ep.hw.mu.Unlock()
	return nil, ccOK, nil
}

// handleResetWatchdogTimer refuses to start the timer: its expiry action
// (reset, power down) would be taken on a machine nothing keeps alive.
func handleResetWatchdogTimer(_ context.Context, hctx *handlers.HandlerContext, _ []byte) ([]byte, types.CompletionCode, error) {
	if cc := requirePrivilege(hctx, bmc.PrivilegeLevelOperator); cc != ccOK {
		return nil, cc, nil
	}
	ep := endpointOf(hctx)
	ep.hw.mu.Lock()
	set := ep.hw.watchdogSet
	ep.hw.mu.Unlock()
	if !set {
		return nil, ccWatchdogUninitialized, nil
	}
	ep.log.Info("refused to start the watchdog timer: no agent on this machine can keep it alive")
	return nil, ccNotInPresentState, nil
}

// pohMinutesPerCount is the POH counter's unit.
const pohMinutesPerCount = 1

// handleGetPOHCounter implements Get POH Counter (§28.14) from the time
// the node was seen powered on.
func handleGetPOHCounter(_ context.Context, hctx *handlers.HandlerContext, _ []byte) ([]byte, types.CompletionCode, error) {
	minutes := endpointOf(hctx).machine.PowerOnTime() / time.Minute
	return binary.LittleEndian.AppendUint32([]byte{pohMinutesPerCount}, uint32(min(int64(minutes), 0xFFFFFFFF))), ccOK, nil
}

// Restart causes (Table 28-11).
const (
	restartUnknown       = 0x00
	restartChassisCtl    = 0x01 // Chassis Control command
	restartResetButton   = 0x02 // reset via pushbutton
	restartPowerButton   = 0x03 // power-up via power pushbutton
	restartCauseChannel0 = 0x00
)

// handleGetSystemRestartCause implements Get System Restart Cause
// (§28.11) from the last action that started the machine: a Chassis
// Control (or Redfish, HTTP, CLI request) when powerjockey started it, a
// pushbutton when a human did (the manual fallback), unknown when the
// machine came on by itself after the last action.
func handleGetSystemRestartCause(_ context.Context, hctx *handlers.HandlerContext, _ []byte) ([]byte, types.CompletionCode, error) {
	m := endpointOf(hctx).machine
	cause, channel := restartCause(m.Snapshot().Persisted.LastAction, m)
	return []byte{cause, channel}, ccOK, nil
}

func restartCause(la *node.ActionRecord, m Machine) (cause, channel byte) {
	if la == nil {
		return restartUnknown, restartCauseChannel0
	}
	a := la.Action
	if (a != power.On && a != power.Cycle && a != power.Reset) || la.Result == node.ResultError {
		return restartUnknown, restartCauseChannel0
	}
	// A power-on the sensors saw without a request, after this action,
	// was not this action's doing.
	if events, err := m.Events(); err == nil {
		for i := len(events) - 1; i >= 0 && events[i].At.After(la.At); i-- {
			if e := events[i]; e.Kind == node.EventPowerChanged && e.Unrequested && e.To == power.StateOn {
				return restartUnknown, restartCauseChannel0
			}
		}
	}
	if la.Means == "manual" {
		if a == power.On {
			return restartPowerButton, restartCauseChannel0
		}
		return restartResetButton, restartCauseChannel0
	}
	// The channel the command came over: the LAN channel for IPMI;
	// Redfish, HTTP and the CLI are not IPMI channels.
	ch := byte(restartCauseChannel0)
	if la.By != nil && la.By.Channel == node.ChannelIPMI {
		ch = lanChannel
	}
	return restartChassisCtl, ch
}
