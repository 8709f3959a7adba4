package node

import (
	"context"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/power"
	"github.com/powerjockey/powerjockey/test/testkit"
)

func TestOnTimeObserve(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		state   power.State
		after   time.Duration
		changed bool
		total   time.Duration // at the step's time
	}{
		{power.StateOff, 0, false, 0},
		{power.StateOn, time.Minute, true, 0},
		{power.StateOn, 2 * time.Minute, false, time.Minute},
		{power.Unknown, 3 * time.Minute, false, 2 * time.Minute},
		{power.StateOff, 4 * time.Minute, true, 3 * time.Minute},
		{power.StateOff, 10 * time.Minute, false, 3 * time.Minute},
		{power.StateOn, 11 * time.Minute, true, 3 * time.Minute},
		{power.StateOff, 12 * time.Minute, true, 4 * time.Minute},
	}
	var o OnTime
	for i, s := range steps {
		at := t0.Add(s.after)
		if got := o.observe(s.state, at); got != s.changed {
			t.Errorf("step %d: changed = %v, want %v", i, got, s.changed)
		}
		if got := o.at(at); got != s.total {
			t.Errorf("step %d: on-time %v, want %v", i, got, s.total)
		}
	}
}

func TestPowerOnTimeFromSensorsSurvivesRestart(t *testing.T) {
	store, _ := openStore(t)
	probe := testkit.NewSensor("probe", power.StateOn)
	cfg := Config{Name: "n1", Means: Means{Probe: probe}}
	n := newNode(t, cfg, store)
	if _, err := n.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if got := n.PowerOnTime(); got < 20*time.Millisecond {
		t.Fatalf("on-time %v after 20ms on", got)
	}
	n.Close()
	// The interval is persisted and still open after a restart.
	m := newNode(t, cfg, store)
	probe.Set(power.StateOff, nil, nil)
	if _, err := m.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	closed := m.PowerOnTime()
	if closed < 20*time.Millisecond {
		t.Fatalf("on-time %v after restart", closed)
	}
	time.Sleep(10 * time.Millisecond)
	if got := m.PowerOnTime(); got != closed {
		t.Errorf("on-time grows while off: %v then %v", closed, got)
	}
}

func TestPowerOnTimeRecordedWithoutSensors(t *testing.T) {
	n := newNode(t, Config{}, nil)
	if got := n.PowerOnTime(); got != 0 {
		t.Fatalf("on-time %v before any action", got)
	}
	if err := n.Power(context.Background(), power.On); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	if err := n.Power(context.Background(), power.Off); err != nil {
		t.Fatal(err)
	}
	got := n.PowerOnTime()
	if got < 10*time.Millisecond {
		t.Errorf("on-time %v after 10ms on", got)
	}
	time.Sleep(10 * time.Millisecond)
	if n.PowerOnTime() != got {
		t.Error("on-time grows while off")
	}
}

func TestFirstServed(t *testing.T) {
	store, _ := openStore(t)
	n := newNode(t, Config{Name: "n1"}, store)
	a, err := n.FirstServed("sdr", "v1")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if b, _ := n.FirstServed("sdr", "v1"); !b.Equal(a) {
		t.Errorf("same fingerprint: %v, first %v", b, a)
	}
	n.Close()
	m := newNode(t, Config{Name: "n1"}, store)
	if b, _ := m.FirstServed("sdr", "v1"); !b.Equal(a) {
		t.Errorf("after restart: %v, first %v", b, a)
	}
	if c, _ := m.FirstServed("sdr", "v2"); !c.After(a) {
		t.Errorf("new fingerprint: %v, not after %v", c, a)
	}
}
