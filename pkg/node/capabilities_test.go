package node

import (
	"context"
	"errors"
	"testing"

	"github.com/powerjockey/powerjockey/pkg/power"
	"github.com/powerjockey/powerjockey/test/testkit"
)

func TestSupports(t *testing.T) {
	all := []power.Action{power.On, power.Off, power.SoftOff, power.Cycle, power.Reset, power.Diag}
	type meansSpec struct {
		feed, waker bool
		hooks       []power.Action
	}
	tests := []struct {
		name     string
		means    meansSpec
		fallback Fallback
		want     map[power.Action]Support
	}{
		{"no means, manual fallback", meansSpec{}, FallbackManual, map[power.Action]Support{
			power.On: ByHand, power.Off: ByHand, power.SoftOff: ByHand,
			power.Cycle: ByHand, power.Reset: ByHand, power.Diag: Unsupported}},
		{"no means, error fallback", meansSpec{}, FallbackError, map[power.Action]Support{
			power.On: Unsupported, power.Off: Unsupported, power.SoftOff: Unsupported,
			power.Cycle: Unsupported, power.Reset: Unsupported, power.Diag: Unsupported}},
		{"pdu and wol", meansSpec{feed: true, waker: true}, FallbackManual, map[power.Action]Support{
			power.On: ByMeans, power.Off: ByMeans, power.SoftOff: ByHand,
			power.Cycle: ByMeans, power.Reset: ByMeans, power.Diag: Unsupported}},
		{"pdu, error fallback: no soft off", meansSpec{feed: true}, FallbackError, map[power.Action]Support{
			power.On: ByMeans, power.Off: ByMeans, power.SoftOff: Unsupported,
			power.Cycle: ByMeans, power.Reset: ByMeans, power.Diag: Unsupported}},
		{"wol only", meansSpec{waker: true}, FallbackManual, map[power.Action]Support{
			power.On: ByMeans, power.Off: ByHand, power.SoftOff: ByHand,
			power.Cycle: ByHand, power.Reset: ByHand, power.Diag: Unsupported}},
		{"hooks for soft and diag", meansSpec{feed: true, hooks: []power.Action{power.SoftOff, power.Diag}}, FallbackError, map[power.Action]Support{
			power.On: ByMeans, power.Off: ByMeans, power.SoftOff: ByMeans,
			power.Cycle: ByMeans, power.Reset: ByMeans, power.Diag: ByMeans}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &testkit.Journal{}
			var m Means
			if tt.means.feed {
				m.Feed = testkit.NewFeed(log, power.StateOff)
			}
			if tt.means.waker {
				m.Waker = testkit.NewActuator("wol", log, power.On)
			}
			if tt.means.hooks != nil {
				m.Hooks = testkit.NewActuator("exec", log, tt.means.hooks...)
			}
			n := newNode(t, Config{Means: m, Fallback: tt.fallback}, nil)
			for _, a := range all {
				if got := n.Supports(a); got != tt.want[a] {
					t.Errorf("Supports(%s) = %s, want %s", a, got, tt.want[a])
				}
			}
			if n.Supports(power.Action(42)) != Unsupported {
				t.Error("an unknown action is supported")
			}
			if len(log.Calls()) != 0 {
				t.Errorf("Supports touched the hardware: %v", log.Names())
			}
		})
	}
}

// TestSupportsAgreesWithPower checks the promise that matters to protocol
// servers: an action reported honoured succeeds, one reported unsupported
// fails with ErrUnsupported, and ByHand actions are announced as manual.
func TestSupportsAgreesWithPower(t *testing.T) {
	for _, fb := range []Fallback{FallbackManual, FallbackError} {
		for _, a := range []power.Action{power.On, power.Off, power.SoftOff, power.Cycle, power.Reset, power.Diag} {
			log := &testkit.Journal{}
			n := newNode(t, Config{Means: Means{Waker: testkit.NewActuator("wol", log, power.On)}, Fallback: fb}, nil)
			s := n.Supports(a)
			err := n.Power(context.Background(), a)
			switch {
			case s == Unsupported && !errors.Is(err, power.ErrUnsupported):
				t.Errorf("fallback %d, %s: Supports says unsupported, Power returned %v", fb, a, err)
			case s.Honoured() && err != nil:
				t.Errorf("fallback %d, %s: Supports says %s, Power failed: %v", fb, a, s, err)
			}
			settled(t, n)
			manual := n.Snapshot().Persisted.Manual != nil
			if (s == ByHand) != manual {
				t.Errorf("fallback %d, %s: Supports = %s but manual action recorded = %v", fb, a, s, manual)
			}
		}
	}
}
