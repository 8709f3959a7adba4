package pdu

import (
	"context"
	"fmt"
	"time"

	"github.com/powerjockey/powerjockey/pkg/power"
)

// Feed is the set of outlets of one PDU that power one node (several for
// several power supplies). It is the node's PDU actuator and sensor.
type Feed struct {
	client  *Client
	outlets []int
}

// NewFeed returns the feed of outlets on c and adds them to c's poll set.
func NewFeed(c *Client, outlets []int) *Feed {
	c.Watch(outlets...)
	return &Feed{client: c, outlets: outlets}
}

// Client returns the PDU the feed belongs to.
func (f *Feed) Client() *Client { return f.client }

// Outlets returns the outlet numbers.
func (f *Feed) Outlets() []int { return f.outlets }

// Release removes the feed's outlets from the PDU's poll set.
func (f *Feed) Release() { f.client.Unwatch(f.outlets...) }

// Name implements power.Actuator and power.Sensor.
func (f *Feed) Name() string { return "pdu" }

// Supports implements power.Actuator: outlets switch on and off; cycles are
// composed by the node's policy so that the off time is the node's.
func (f *Feed) Supports(a power.Action) bool { return a == power.On || a == power.Off }

// Do switches every outlet and returns when each SET was acknowledged.
func (f *Feed) Do(ctx context.Context, a power.Action) (power.Continuation, error) {
	switch a {
	case power.On, power.Off:
		return nil, f.client.SetOutlets(ctx, f.outlets, a == power.On)
	default:
		return nil, fmt.Errorf("pdu %s: %w: %s", f.client.Name(), power.ErrUnsupported, a)
	}
}

// Metered reports whether the PDU's model reports per-outlet power.
func (f *Feed) Metered(ctx context.Context) (bool, error) {
	m, err := f.client.Model(ctx)
	if err != nil {
		return false, err
	}
	return m.Power != nil, nil
}

// Read implements power.Sensor: the feed is on when any outlet is on, off
// when all are off; Watts is the sum over outlets when all are metered.
func (f *Feed) Read(ctx context.Context) (power.Reading, error) {
	outs, err := f.client.Read(ctx, f.outlets)
	if err != nil {
		return power.Reading{}, err
	}
	r := power.Reading{Source: "outlet", At: time.Now(), State: power.StateOff}
	var watts float64
	metered := true
	r.Outlets = make([]power.OutletReading, 0, len(f.outlets))
	for _, o := range f.outlets {
		out := outs[o]
		r.Outlets = append(r.Outlets, power.OutletReading{PDU: f.client.Name(), Outlet: o, State: out.State, Watts: out.Watts})
		switch out.State {
		case power.StateOn:
			r.State = power.StateOn
		case power.Unknown:
			if r.State == power.StateOff {
				r.State = power.Unknown
			}
		}
		if out.Watts == nil {
			metered = false
		} else {
			watts += *out.Watts
		}
	}
	if metered {
		r.Watts = &watts
	}
	return r, nil
}
