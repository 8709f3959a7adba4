package ipmi

import (
	"context"

	"github.com/bougou/go-ipmi/pkg/hal"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/powerjockey/powerjockey/pkg/power"
)

// chassisHAL maps go-ipmi's chassis HAL onto the node. powerjockey's own
// handlers serve the chassis commands Ironic uses, so this matters only for
// go-ipmi's remaining default handlers; it is complete so that no path can
// bypass the node layer.
type chassisHAL struct{ ep *Endpoint }

var _ hal.ChassisHAL = chassisHAL{}

// withCode makes go-ipmi's handlers answer with our completion code.
func withCode(err error) error {
	if err == nil {
		return nil
	}
	return completionFor(err)
}

func (c chassisHAL) PowerState(ctx context.Context) (bool, error) {
	r, err := c.ep.machine.PowerState(ctx)
	if err != nil {
		return false, withCode(err)
	}
	return r.State == power.StateOn, nil
}

func (c chassisHAL) SetPower(ctx context.Context, on bool) error {
	a := power.Off
	if on {
		a = power.On
	}
	return withCode(c.ep.machine.Power(ctx, a))
}

func (c chassisHAL) PowerCycle(ctx context.Context) error {
	return withCode(c.ep.machine.Power(ctx, power.Cycle))
}

func (c chassisHAL) ColdReset(ctx context.Context) error {
	return withCode(c.ep.machine.Power(ctx, power.Reset))
}

func (c chassisHAL) WarmReset(ctx context.Context) error {
	return withCode(c.ep.machine.Power(ctx, power.SoftOff))
}

// Identify is accepted: a machine without a BMC has no LED to blink.
func (c chassisHAL) Identify(_ context.Context, seconds uint8) error {
	c.ep.log.Info("chassis identify requested (no identify LED on this machine)", "seconds", seconds)
	return nil
}

func (c chassisHAL) IntrusionState(context.Context) (bool, error) {
	return false, hal.ErrNotSupported
}

func (c chassisHAL) SetBootFlags(ctx context.Context, flags *types.BootOptionParam_BootFlags) error {
	boot, ok := decodeBootFlags([5]byte(flags.Pack()))
	if !ok {
		return ccInvalidDataField
	}
	old := c.ep.machine.Boot()
	boot.IPMI.ValidBitClearing, boot.IPMI.InfoAcknowledge = old.IPMI.ValidBitClearing, old.IPMI.InfoAcknowledge
	return withCode(c.ep.machine.SetBoot(ctx, boot, 0))
}

func (c chassisHAL) GetBootFlags(context.Context) (*types.BootOptionParam_BootFlags, error) {
	d := encodeBootFlags(c.ep.machine.Boot())
	var f types.BootOptionParam_BootFlags
	if err := f.Unpack(d[:]); err != nil {
		return nil, err
	}
	return &f, nil
}

func (c chassisHAL) SetBootInfoAcknowledge(context.Context, *types.BootOptionParam_BootInfoAcknowledge) error {
	return hal.ErrNotSupported
}

func (c chassisHAL) GetBootInfoAcknowledge(context.Context) (*types.BootOptionParam_BootInfoAcknowledge, error) {
	return nil, hal.ErrNotSupported
}
