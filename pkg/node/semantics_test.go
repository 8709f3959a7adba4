package node

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/power"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// The power semantics clients depend on (issue 11): a request for the state
// the node is in switches nothing, cycle of an off node powers it on, a
// one-time boot override is consumed by the power-on that happens, and
// "on" is what a sensor sees, not what was asked.

func TestRequestForCurrentStateSwitchesNothing(t *testing.T) {
	tests := []struct {
		name   string
		feed   power.State
		watts  *float64
		probe  *testkit.Sensor
		hooks  []power.Action
		action power.Action
		calls  []string // nil: nothing switched
	}{
		{name: "on, metered on", feed: power.StateOn, watts: wattsPtr(120), action: power.On},
		{name: "on, outlet on without meter", feed: power.StateOn, action: power.On},
		{name: "off, outlets off", feed: power.StateOff, action: power.Off},
		{name: "soft off, metered off", feed: power.StateOff, hooks: []power.Action{power.SoftOff}, action: power.SoftOff},
		// Behind a live outlet a machine in standby reads off, but an off
		// request still cuts the outlet: fencing needs the power gone.
		{name: "off, live outlet metered off", feed: power.StateOn, watts: wattsPtr(3), action: power.Off, calls: []string{"pdu:off"}},
		// Standby behind a live outlet: on wakes it (outlet, packet).
		{name: "on, live outlet metered off", feed: power.StateOn, watts: wattsPtr(3), action: power.On, calls: []string{"pdu:on", "wol:on"}},
		{name: "on, outlet on, probe says down", feed: power.StateOn, probe: testkit.NewSensor("probe", power.StateOff), action: power.On, calls: []string{"pdu:on", "wol:on"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &testkit.Journal{}
			feed := testkit.NewFeed(log, tt.feed)
			feed.Sensor.Set(tt.feed, tt.watts, nil)
			means := Means{Feed: feed, Waker: testkit.NewActuator("wol", log, power.On)}
			if tt.probe != nil {
				means.Probe = tt.probe
			}
			if tt.hooks != nil {
				means.Hooks = testkit.NewActuator("exec", log, tt.hooks...)
			}
			obs := &fakeObserver{}
			n := newNode(t, Config{Means: means, WattsOn: 15, Observer: obs}, nil)
			if err := n.SetBoot(context.Background(), Boot{Valid: true, Device: BootPXE}, 0); err != nil {
				t.Fatal(err)
			}
			if err := n.Power(context.Background(), tt.action); err != nil {
				t.Fatal(err)
			}
			s := settled(t, n)
			if got := log.Names(); !slices.Equal(got, tt.calls) {
				t.Fatalf("calls = %v, want %v", got, tt.calls)
			}
			if tt.calls != nil {
				return
			}
			if r := s.Persisted.LastAction; r == nil || r.Action != tt.action || r.Means != "none" || r.Result != "ok" {
				t.Errorf("last action = %+v, want %s by none, ok", r, tt.action)
			}
			if !s.Persisted.Boot.Valid {
				t.Error("the boot override was consumed although nothing booted")
			}
			if got := obs.list(); !slices.Equal(got, []string{"n1:" + tt.action.String() + ":none"}) {
				t.Errorf("observer saw %v", got)
			}
		})
	}
}

// Without a sensor (or one that does not answer in time) the action is
// performed as asked.
func TestNoSensorActsAsAsked(t *testing.T) {
	log := &testkit.Journal{}
	n := newNode(t, Config{Means: Means{Waker: testkit.NewActuator("wol", log, power.On)}}, nil)
	for range 2 {
		if err := n.Power(context.Background(), power.On); err != nil {
			t.Fatal(err)
		}
	}
	if got := log.Names(); !slices.Equal(got, []string{"wol:on", "wol:on"}) {
		t.Errorf("calls = %v", got)
	}

	log = &testkit.Journal{}
	feed := testkit.NewFeed(log, power.StateOn)
	feed.Sensor.SetBlock(make(chan struct{})) // never answers
	n = newNode(t, Config{Means: Means{Feed: feed}, StatusWait: 50 * time.Millisecond}, nil)
	start := time.Now()
	if err := n.Power(context.Background(), power.On); err != nil {
		t.Fatal(err)
	}
	if got := log.Names(); !slices.Equal(got, []string{"pdu:on"}) {
		t.Errorf("silent sensor: calls = %v, want the switch", got)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("waited %v for a silent sensor", took)
	}
}

func TestCycleOfOffNodePowersOn(t *testing.T) {
	for _, a := range []power.Action{power.Cycle, power.Reset} {
		t.Run(a.String(), func(t *testing.T) {
			log := &testkit.Journal{}
			n := newNode(t, Config{Means: Means{Feed: testkit.NewFeed(log, power.StateOff), Waker: testkit.NewActuator("wol", log, power.On)},
				CycleDelay: time.Hour, OnDelay: time.Millisecond}, nil)
			if err := n.SetBoot(context.Background(), Boot{Valid: true, Device: BootPXE}, 0); err != nil {
				t.Fatal(err)
			}
			if err := n.Power(context.Background(), a); err != nil {
				t.Fatal(err)
			}
			s := settled(t, n)
			if got := log.Names(); !slices.Equal(got, []string{"pdu:on", "wol:on"}) {
				t.Errorf("calls = %v, want on (no off, no off time)", got)
			}
			if r := s.Persisted.LastAction; r.Action != a || r.Result != "ok" || s.Persisted.Power != power.StateOn {
				t.Errorf("state = %v / %+v", s.Persisted.Power, r)
			}
			if s.Persisted.Boot.Valid {
				t.Error("the power-on did not consume the one-time boot override")
			}
		})
	}
}

// A one-time override is consumed when the power-on step runs: a cycle
// consumes it after its off time, and a cycle superseded before its
// power-on leaves it for the next boot.
func TestBootOverrideConsumedByThePowerOn(t *testing.T) {
	const cycleDelay = 200 * time.Millisecond
	log := &testkit.Journal{}
	n := newNode(t, Config{Means: Means{Feed: testkit.NewFeed(log, power.StateOn)}, CycleDelay: cycleDelay}, nil)
	setPXE := func() {
		t.Helper()
		if err := n.SetBoot(context.Background(), Boot{Valid: true, Device: BootPXE}, 0); err != nil {
			t.Fatal(err)
		}
	}
	setPXE()
	if err := n.Power(context.Background(), power.Cycle); err != nil {
		t.Fatal(err)
	}
	if !n.Boot().Valid {
		t.Error("consumed at the cycle's off, before any power-on")
	}
	s := settled(t, n)
	if s.Persisted.Boot.Valid {
		t.Error("not consumed by the cycle's power-on")
	}

	setPXE()
	if err := n.Power(context.Background(), power.Cycle); err != nil {
		t.Fatal(err)
	}
	if err := n.Power(context.Background(), power.Off); err != nil { // supersedes the on
		t.Fatal(err)
	}
	settled(t, n)
	if !n.Boot().Valid {
		t.Error("consumed by a cycle whose power-on never ran")
	}
	// Persisted too.
	st, _, err := n.store.Load("n1")
	if err != nil || !st.Boot.Valid {
		t.Errorf("persisted boot = %+v (%v), want still valid", st.Boot, err)
	}
}

// "on" is what the sensor sees: outlets switched on with a machine that
// draws nothing yet read off until the meter shows the draw.
func TestOnReportedWhenTheMeterConfirms(t *testing.T) {
	log := &testkit.Journal{}
	feed := testkit.NewFeed(log, power.StateOff)
	feed.Sensor.Set(power.StateOff, wattsPtr(0), nil)
	n := newNode(t, Config{Means: Means{Feed: feed}, WattsOn: 15, MaxAge: time.Millisecond}, nil)
	if err := n.Power(context.Background(), power.On); err != nil {
		t.Fatal(err)
	}
	r, err := n.Refresh(context.Background())
	if err != nil || r.State != power.StateOff || r.Source != "metering" {
		t.Errorf("right after the switch: %v %s (%v), want off by metering", r.State, r.Source, err)
	}
	if rec := n.Snapshot().Persisted.Power; rec != power.StateOn {
		t.Errorf("recorded power %v: the request is still recorded", rec)
	}
	feed.Sensor.Set(power.StateOn, wattsPtr(140), nil)
	r, err = n.Refresh(context.Background())
	if err != nil || r.State != power.StateOn {
		t.Errorf("drawing 140 W: %v (%v), want on", r.State, err)
	}
}
