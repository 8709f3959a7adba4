package ipmi

import (
	"context"
	"errors"
	"time"

	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
)

// Completion codes used here (IPMI v2.0 Table 5-2 and §28.12).
const (
	ccOK                   = types.CodeOK
	ccTimeout              = types.CompletionCode(0xC3)
	ccReqDataLenInvalid    = types.CompletionCode(0xC7)
	ccInvalidDataField     = types.CompletionCode(0xCC)
	ccParamNotSupported    = types.CompletionCode(0x80)
	ccSetInProgressActive  = types.CompletionCode(0x81)
	ccUnspecified          = types.CompletionCode(0xFF)
	ccRequestDataTruncated = types.CompletionCode(0xC6)
)

// actionTimeout bounds one Chassis Control: long enough for an exec hook,
// short of what any client waits.
const actionTimeout = 60 * time.Second

// bootFlagTimeout is IPMI's 60-second lapse of a next-boot-only override
// that no boot consumed (Table 28-14, parameter 3 bit 3).
const bootFlagTimeout = 60 * time.Second

// registerHandlers adds powerjockey's handlers to r, replacing go-ipmi's
// where its behaviour is wrong for us (see docs/go-ipmi-notes.md).
func registerHandlers(r *handlers.Registry) {
	r.RegisterFunc(types.CommandChassisControl, handleChassisControl)
	r.RegisterFunc(types.CommandGetChassisStatus, handleGetChassisStatus)
	r.RegisterFunc(types.CommandSetSystemBootOptions, handleSetSystemBootOptions)
	r.RegisterFunc(types.CommandGetSystemBootOptions, handleGetSystemBootOptions)
	r.RegisterFunc(types.CommandGetSystemGUID, handleGetGUID)
	r.RegisterFunc(types.CommandGetDeviceGUID, handleGetGUID)
	r.RegisterFunc(types.CommandGetACPIPowerState, handleGetACPIPowerState)
	r.RegisterFunc(types.CommandGetChannelCipherSuites, handleGetChannelCipherSuites)
	// Cold/Warm Reset reset the BMC, not the managed system; go-ipmi routes
	// Cold Reset to the chassis HAL, which would power-cycle the machine.
	r.RegisterFunc(types.CommandColdReset, handleBMCReset)
	r.RegisterFunc(types.CommandWarmReset, handleBMCReset)
	r.RegisterFunc(types.CommandCloseSession, handleCloseSession)
	registerBMCHandlers(r)
}

// completionFor maps a node error to a completion code: a device that did
// not answer is a timeout, an action the node cannot do is an invalid data
// field (the spec's answer for an unsupported control option), anything
// else is unspecified. Never success.
func completionFor(err error) types.CompletionCode {
	switch {
	case err == nil:
		return ccOK
	case errors.Is(err, power.ErrUnsupported):
		return ccInvalidDataField
	case errors.Is(err, power.ErrTimeout), errors.Is(err, context.DeadlineExceeded), errors.Is(err, node.ErrStale):
		return ccTimeout
	default:
		return ccUnspecified
	}
}

// chassisActions maps Chassis Control's request (Table 28-4) to node actions.
var chassisActions = map[byte]power.Action{
	0x0: power.Off,
	0x1: power.On,
	0x2: power.Cycle,
	0x3: power.Reset,
	0x4: power.Diag,
	0x5: power.SoftOff,
}

func handleChassisControl(ctx context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	if len(req) < 1 {
		return nil, ccRequestDataTruncated, nil
	}
	if len(req) > 1 {
		return nil, ccReqDataLenInvalid, nil
	}
	action, ok := chassisActions[req[0]&0x0F]
	if !ok {
		return nil, ccInvalidDataField, nil
	}
	ep := endpointOf(hctx)
	ctx, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()
	err := ep.machine.Power(ctx, action)
	if err != nil {
		ep.log.Warn("chassis control failed", "action", action.String(), "err", err)
	}
	return nil, completionFor(err), nil
}

func handleGetChassisStatus(ctx context.Context, hctx *handlers.HandlerContext, _ []byte) ([]byte, types.CompletionCode, error) {
	ep := endpointOf(hctx)
	r, err := ep.machine.PowerState(ctx)
	if err != nil {
		return nil, completionFor(err), nil
	}
	var current byte
	if r.State == power.StateOn {
		current |= 0x01
	}
	current |= 0x3 << 5 // power restore policy: unknown (the BIOS decides)
	// Byte 3: chassis identify command and state info supported (bit 6).
	return []byte{current, 0x00, 0x40}, ccOK, nil
}

func handleGetACPIPowerState(ctx context.Context, hctx *handlers.HandlerContext, _ []byte) ([]byte, types.CompletionCode, error) {
	ep := endpointOf(hctx)
	r, err := ep.machine.PowerState(ctx)
	if err != nil {
		return nil, completionFor(err), nil
	}
	// Table 20-12/20-13: S0/G0 + D0 when on, S5/G2 + D3 when off, unknown otherwise.
	switch r.State {
	case power.StateOn:
		return []byte{0x00, 0x00}, ccOK, nil
	case power.StateOff:
		return []byte{0x05, 0x03}, ccOK, nil
	default:
		return []byte{0x2A, 0x2A}, ccOK, nil
	}
}

func handleGetGUID(_ context.Context, hctx *handlers.HandlerContext, _ []byte) ([]byte, types.CompletionCode, error) {
	g := hctx.BMC.GUID
	return append([]byte(nil), g[:]...), ccOK, nil
}

func handleBMCReset(_ context.Context, hctx *handlers.HandlerContext, _ []byte) ([]byte, types.CompletionCode, error) {
	endpointOf(hctx).log.Info("BMC reset requested: an emulated BMC has nothing to reset; the machine is untouched")
	return nil, ccOK, nil
}

// Boot option parameter selectors (Table 28-14).
const (
	bootParamSetInProgress    = 0
	bootParamValidBitClearing = 3
	bootParamInfoAcknowledge  = 4
	bootParamFlags            = 5
)

func handleSetSystemBootOptions(ctx context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	if len(req) < 1 {
		return nil, ccRequestDataTruncated, nil
	}
	ep := endpointOf(hctx)
	sel, data := req[0]&0x7F, req[1:]
	switch sel {
	case bootParamSetInProgress:
		if len(data) != 1 {
			return nil, ccReqDataLenInvalid, nil
		}
		return nil, ep.setInProgress(data[0] & 0x03), nil
	case bootParamValidBitClearing:
		if len(data) != 1 {
			return nil, ccReqDataLenInvalid, nil
		}
		err := ep.updateBoot(ctx, func(b *node.Boot) { b.IPMI.ValidBitClearing = data[0] & 0x1F })
		return nil, completionFor(err), nil
	case bootParamInfoAcknowledge:
		if len(data) != 2 {
			return nil, ccReqDataLenInvalid, nil
		}
		mask, ack := data[0], data[1]
		err := ep.updateBoot(ctx, func(b *node.Boot) {
			b.IPMI.InfoAcknowledge = b.IPMI.InfoAcknowledge&^mask | ack&mask
		})
		return nil, completionFor(err), nil
	case bootParamFlags:
		if len(data) != 5 {
			return nil, ccReqDataLenInvalid, nil
		}
		boot, ok := decodeBootFlags([5]byte(data))
		if !ok {
			return nil, ccInvalidDataField, nil
		}
		old := ep.machine.Boot()
		boot.IPMI.ValidBitClearing = old.IPMI.ValidBitClearing
		boot.IPMI.InfoAcknowledge = old.IPMI.InfoAcknowledge
		validFor := bootFlagTimeout
		if old.IPMI.ValidBitClearing&0x08 != 0 {
			validFor = 0 // the client disabled the 60-second timeout
		}
		return nil, completionFor(ep.machine.SetBoot(ctx, boot, validFor)), nil
	default:
		return nil, ccParamNotSupported, nil
	}
}

func handleGetSystemBootOptions(_ context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	if len(req) < 3 {
		return nil, ccRequestDataTruncated, nil
	}
	ep := endpointOf(hctx)
	sel := req[0] & 0x7F
	// Byte 1: parameter version 1; byte 2: valid/unlocked (bit 7 clear) + selector.
	resp := []byte{0x01, sel}
	boot := ep.machine.Boot()
	switch sel {
	case bootParamSetInProgress:
		resp = append(resp, ep.getInProgress())
	case bootParamValidBitClearing:
		resp = append(resp, boot.IPMI.ValidBitClearing)
	case bootParamInfoAcknowledge:
		resp = append(resp, 0x00, boot.IPMI.InfoAcknowledge)
	case bootParamFlags:
		d := encodeBootFlags(boot)
		resp = append(resp, d[:]...)
	default:
		return nil, ccParamNotSupported, nil
	}
	return resp, ccOK, nil
}
