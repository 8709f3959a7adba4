package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/power"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// describe renders a plan as "means:action" and "wait:<delay>" steps.
func describe(steps []step) []string {
	var out []string
	for _, s := range steps {
		if s.actuator == nil {
			out = append(out, "wait:"+s.delay.String())
			continue
		}
		out = append(out, s.actuator.Name()+":"+s.action.String())
	}
	return out
}

func TestPlan(t *testing.T) {
	type meansSpec struct {
		feed, waker bool
		hooks       []power.Action // actions the exec hooks are configured for; nil: no hooks
	}
	const onDelay, cycleDelay = 3 * time.Second, 7 * time.Second
	tests := []struct {
		name     string
		means    meansSpec
		onDelay  time.Duration
		fallback Fallback
		action   power.Action
		want     []string // nil with wantMeans "manual": manual fallback
		wantMean string
		wantErr  bool
	}{
		{"on: feed, delay, waker", meansSpec{feed: true, waker: true}, onDelay, FallbackManual, power.On,
			[]string{"pdu:on", "wait:3s", "wol:on"}, "pdu+wol", false},
		{"on: no delay when zero", meansSpec{feed: true, waker: true}, 0, FallbackManual, power.On,
			[]string{"pdu:on", "wol:on"}, "pdu+wol", false},
		{"on: feed only, no delay", meansSpec{feed: true}, onDelay, FallbackManual, power.On,
			[]string{"pdu:on"}, "pdu", false},
		{"on: waker only, no delay", meansSpec{waker: true}, onDelay, FallbackManual, power.On,
			[]string{"wol:on"}, "wol", false},
		{"off: feed", meansSpec{feed: true, waker: true}, onDelay, FallbackManual, power.Off,
			[]string{"pdu:off"}, "pdu", false},
		{"off: waker cannot", meansSpec{waker: true}, onDelay, FallbackManual, power.Off,
			nil, "manual", false},
		{"soft: feed cannot", meansSpec{feed: true, waker: true}, onDelay, FallbackManual, power.SoftOff,
			nil, "manual", false},
		{"soft: hook", meansSpec{feed: true, hooks: []power.Action{power.SoftOff}}, onDelay, FallbackManual, power.SoftOff,
			[]string{"exec:soft"}, "exec", false},
		{"cycle: off, cycle delay, on", meansSpec{feed: true, waker: true}, onDelay, FallbackManual, power.Cycle,
			[]string{"pdu:off", "wait:7s", "pdu:on", "wait:3s", "wol:on"}, "pdu+wol", false},
		{"reset: same as cycle", meansSpec{feed: true}, onDelay, FallbackManual, power.Reset,
			[]string{"pdu:off", "wait:7s", "pdu:on"}, "pdu", false},
		{"cycle: waker only cannot", meansSpec{waker: true}, onDelay, FallbackManual, power.Cycle,
			nil, "manual", false},
		{"diag: unsupported even with manual fallback", meansSpec{feed: true}, onDelay, FallbackManual, power.Diag,
			nil, "", true},
		{"diag: hook", meansSpec{hooks: []power.Action{power.Diag}}, onDelay, FallbackManual, power.Diag,
			[]string{"exec:diag"}, "exec", false},
		{"unknown action", meansSpec{feed: true}, onDelay, FallbackManual, power.Action(42),
			nil, "", true},
		{"hook replaces on", meansSpec{feed: true, waker: true, hooks: []power.Action{power.On}}, onDelay, FallbackManual, power.On,
			[]string{"exec:on"}, "exec", false},
		{"hook for on leaves off to the feed", meansSpec{feed: true, hooks: []power.Action{power.On}}, onDelay, FallbackManual, power.Off,
			[]string{"pdu:off"}, "pdu", false},
		{"hook replaces off", meansSpec{feed: true, hooks: []power.Action{power.Off}}, onDelay, FallbackManual, power.Off,
			[]string{"exec:off"}, "exec", false},
		{"hook replaces cycle", meansSpec{feed: true, waker: true, hooks: []power.Action{power.Cycle}}, onDelay, FallbackManual, power.Cycle,
			[]string{"exec:cycle"}, "exec", false},
		{"cycle composed from hooks' off and on", meansSpec{feed: true, hooks: []power.Action{power.Off, power.On}}, onDelay, FallbackManual, power.Cycle,
			[]string{"exec:off", "wait:7s", "exec:on"}, "exec", false},
		{"cycle: feed off, hook on", meansSpec{feed: true, hooks: []power.Action{power.On}}, onDelay, FallbackManual, power.Reset,
			[]string{"pdu:off", "wait:7s", "exec:on"}, "pdu+exec", false},
		{"hooks for other actions only", meansSpec{hooks: []power.Action{power.SoftOff}}, onDelay, FallbackManual, power.On,
			nil, "manual", false},
		{"no means: manual", meansSpec{}, onDelay, FallbackManual, power.On,
			nil, "manual", false},
		{"no means: error fallback", meansSpec{}, onDelay, FallbackError, power.On,
			nil, "", true},
		{"soft without hook: error fallback", meansSpec{feed: true}, onDelay, FallbackError, power.SoftOff,
			nil, "", true},
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
			n := newNode(t, Config{Means: m, OnDelay: tt.onDelay, CycleDelay: cycleDelay, Fallback: tt.fallback}, nil)
			steps, means, err := n.plan(tt.action)
			if tt.wantErr {
				if !errors.Is(err, power.ErrUnsupported) {
					t.Fatalf("plan(%s) error = %v, want ErrUnsupported", tt.action, err)
				}
				if steps != nil {
					t.Errorf("plan with an error has steps %v", describe(steps))
				}
				return
			}
			if err != nil {
				t.Fatalf("plan(%s): %v", tt.action, err)
			}
			if got := describe(steps); !slices.Equal(got, tt.want) {
				t.Errorf("plan(%s) = %v, want %v", tt.action, got, tt.want)
			}
			if means != tt.wantMean {
				t.Errorf("means = %q, want %q", means, tt.wantMean)
			}
			if len(log.Calls()) != 0 {
				t.Errorf("planning touched the hardware: %v", log.Names())
			}
		})
	}
}

func TestPowerReturnsAfterFirstStep(t *testing.T) {
	const onDelay = 120 * time.Millisecond
	log := &testkit.Journal{}
	feed := testkit.NewFeed(log, power.StateOff)
	wol := testkit.NewActuator("wol", log, power.On)
	obs := &fakeObserver{}
	n := newNode(t, Config{Means: Means{Feed: feed, Waker: wol}, OnDelay: onDelay, Observer: obs}, nil)

	start := time.Now()
	if err := n.Power(context.Background(), power.On); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took >= onDelay {
		t.Errorf("Power took %v: it must not wait for the on delay (%v)", took, onDelay)
	}
	if got := log.Names(); !slices.Equal(got, []string{"pdu:on"}) {
		t.Errorf("calls when Power returned = %v, want only the outlets", got)
	}
	s := n.Snapshot()
	if !s.Busy || s.Persisted.LastAction == nil || s.Persisted.LastAction.Result != "running" {
		t.Errorf("while the tail runs: busy=%v last=%+v, want busy and running", s.Busy, s.Persisted.LastAction)
	}
	if s.Persisted.Power != power.StateOn {
		t.Errorf("recorded power = %v, want on as soon as the first step is confirmed", s.Persisted.Power)
	}

	s = settled(t, n)
	calls := log.Calls()
	if got := log.Names(); !slices.Equal(got, []string{"pdu:on", "wol:on"}) {
		t.Fatalf("calls = %v, want outlets then magic packet", got)
	}
	if gap := calls[1].At.Sub(calls[0].At); gap < onDelay {
		t.Errorf("magic packet %v after the outlets, want at least the on delay %v", gap, onDelay)
	}
	if r := s.Persisted.LastAction; r == nil || r.Result != "ok" || r.Action != power.On || r.Means != "pdu+wol" || r.Duration < onDelay {
		t.Errorf("last action = %+v, want on/pdu+wol/ok lasting at least %v", r, onDelay)
	}
	testkit.Eventually(t, time.Second, "the observer", func() bool { return len(obs.list()) > 0 })
	if got := obs.list(); !slices.Equal(got, []string{"n1:on:pdu+wol"}) {
		t.Errorf("observer saw %v", got)
	}
}

func TestCycleSequence(t *testing.T) {
	const cycleDelay, onDelay = 80 * time.Millisecond, 40 * time.Millisecond
	for _, a := range []power.Action{power.Cycle, power.Reset} {
		t.Run(a.String(), func(t *testing.T) {
			log := &testkit.Journal{}
			n := newNode(t, Config{
				Means:      Means{Feed: testkit.NewFeed(log, power.StateOn), Waker: testkit.NewActuator("wol", log, power.On)},
				OnDelay:    onDelay,
				CycleDelay: cycleDelay,
			}, nil)
			if err := n.Power(context.Background(), a); err != nil {
				t.Fatal(err)
			}
			if got := log.Names(); !slices.Equal(got, []string{"pdu:off"}) {
				t.Errorf("calls when Power returned = %v, want only outlets off", got)
			}
			s := settled(t, n)
			if got := log.Names(); !slices.Equal(got, []string{"pdu:off", "pdu:on", "wol:on"}) {
				t.Fatalf("calls = %v", got)
			}
			c := log.Calls()
			if gap := c[1].At.Sub(c[0].At); gap < cycleDelay {
				t.Errorf("off time %v, want at least %v", gap, cycleDelay)
			}
			if gap := c[2].At.Sub(c[1].At); gap < onDelay {
				t.Errorf("on delay %v, want at least %v", gap, onDelay)
			}
			if s.Persisted.Power != power.StateOn || s.Persisted.LastAction.Result != "ok" || s.Persisted.LastAction.Action != a {
				t.Errorf("state after %s = %v / %+v", a, s.Persisted.Power, s.Persisted.LastAction)
			}
		})
	}
}

func TestOffCancelsPendingWakeOnLAN(t *testing.T) {
	// The magic packet is due in an hour, so the off surely comes while
	// it is pending, however slow the machine; Power returns only once
	// the superseded steps have stopped, so nothing can follow it.
	const onDelay = time.Hour
	log := &testkit.Journal{}
	feed := testkit.NewFeed(log, power.StateOff)
	wol := testkit.NewActuator("wol", log, power.On)
	obs := &fakeObserver{}
	logger, logs := testkit.NewLogger()
	n := newNode(t, Config{Means: Means{Feed: feed, Waker: wol}, OnDelay: onDelay, Observer: obs, Logger: logger}, nil)

	if err := n.Power(context.Background(), power.On); err != nil {
		t.Fatal(err)
	}
	powerNow(t, n, power.Off)
	if got := log.Names(); !slices.Equal(got, []string{"pdu:on", "pdu:off"}) {
		t.Fatalf("calls = %v, want no magic packet after the off", got)
	}
	s := settled(t, n)
	if s.Persisted.Power != power.StateOff || s.Persisted.LastAction.Action != power.Off || s.Persisted.LastAction.Result != "ok" {
		t.Errorf("state = %v / %+v, want off/ok", s.Persisted.Power, s.Persisted.LastAction)
	}
	out := logs.String()
	if !strings.Contains(out, `msg="power action superseded" node=n1 action=on`) ||
		!strings.Contains(out, `msg="power action" node=n1 action=on means=pdu+wol result=cancelled`) {
		t.Errorf("log does not record the on as cancelled:\n%s", out)
	}
	// A cancelled action is not a finished one for metrics.
	if got := obs.list(); !slices.Equal(got, []string{"n1:off:pdu"}) {
		t.Errorf("observer saw %v, want only the off", got)
	}
}

func TestCloseRecordsCancelled(t *testing.T) {
	log := &testkit.Journal{}
	store, _ := openStore(t)
	n, err := New(context.Background(), Config{Name: "n1", Means: Means{Feed: testkit.NewFeed(log, power.StateOff), Waker: testkit.NewActuator("wol", log, power.On)}, OnDelay: time.Hour}, store)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Power(context.Background(), power.On); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { n.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not stop the background delay")
	}
	if r := n.Snapshot().Persisted.LastAction; r == nil || r.Action != power.On || r.Result != "cancelled" {
		t.Errorf("last action = %+v, want on cancelled", r)
	}
	st, _, err := store.Load("n1")
	if err != nil || st.LastAction == nil || st.LastAction.Result != "cancelled" {
		t.Errorf("persisted last action = %+v (%v), want cancelled", st.LastAction, err)
	}
	if got := log.Names(); !slices.Equal(got, []string{"pdu:on"}) {
		t.Errorf("calls = %v", got)
	}
}

// A continuation may treat cancellation as a clean stop and return nil; the
// steps after it must still not run.
func TestCancelledTailRunsNoFurtherStep(t *testing.T) {
	log := &testkit.Journal{}
	feed := testkit.NewFeed(log, power.StateOff)
	entered := make(chan struct{})
	feed.Actuator.Cont = func(ctx context.Context) error {
		close(entered)
		<-ctx.Done()
		return nil // stopped early, nothing went wrong
	}
	wol := testkit.NewActuator("wol", log, power.On)
	n := newNode(t, Config{Means: Means{Feed: feed, Waker: wol}}, nil)
	if err := n.Power(context.Background(), power.On); err != nil {
		t.Fatal(err)
	}
	<-entered
	feed.Actuator.Update(func(a *testkit.Actuator) { a.Cont = nil })
	if err := n.Power(context.Background(), power.Off); err != nil {
		t.Fatal(err)
	}
	settled(t, n)
	if got := log.Names(); !slices.Equal(got, []string{"pdu:on", "pdu:off"}) {
		t.Errorf("calls = %v, want no magic packet once the on was superseded", got)
	}
}

func TestNewActionCancelsPreviousTail(t *testing.T) {
	// An hour's off time: the second cycle surely comes during the
	// first's, however slow the machine.
	log := &testkit.Journal{}
	n := newNode(t, Config{Means: Means{Feed: testkit.NewFeed(log, power.StateOn)}, CycleDelay: time.Hour}, nil)
	if err := n.Power(context.Background(), power.Cycle); err != nil {
		t.Fatal(err)
	}
	// A second cycle restarts the off time instead of stacking a second
	// on: the first's on never comes (Power returns once the superseded
	// steps have stopped), the second's is pending.
	powerNow(t, n, power.Cycle)
	if got := log.Names(); !slices.Equal(got, []string{"pdu:off", "pdu:off"}) {
		t.Errorf("calls = %v", got)
	}
	if s := n.Snapshot(); !s.Busy {
		t.Error("the second cycle's on is not pending")
	}
	n.Close()
	if got := log.Names(); !slices.Equal(got, []string{"pdu:off", "pdu:off"}) {
		t.Errorf("calls after Close = %v", got)
	}
}

func TestContinuationRunsInBackground(t *testing.T) {
	log := &testkit.Journal{}
	release := make(chan struct{})
	ran := make(chan error, 1)
	wol := testkit.NewActuator("wol", log, power.On)
	wol.Cont = func(ctx context.Context) error {
		select {
		case <-release:
			ran <- nil
			return nil
		case <-ctx.Done():
			ran <- ctx.Err()
			return ctx.Err()
		}
	}
	n := newNode(t, Config{Means: Means{Waker: wol}}, nil)
	if err := n.Power(context.Background(), power.On); err != nil {
		t.Fatal(err)
	}
	if !n.Snapshot().Busy {
		t.Error("not busy while the continuation runs")
	}
	close(release)
	if err := <-ran; err != nil {
		t.Errorf("continuation ended with %v", err)
	}
	if s := settled(t, n); s.Persisted.LastAction.Result != "ok" || s.Persisted.LastAction.Means != "wol" {
		t.Errorf("last action = %+v", s.Persisted.LastAction)
	}
}

func TestSingleStepFinishesSynchronously(t *testing.T) {
	log := &testkit.Journal{}
	obs := &fakeObserver{}
	n := newNode(t, Config{Means: Means{Feed: testkit.NewFeed(log, power.StateOn)}, Observer: obs}, nil)
	if err := n.Power(context.Background(), power.Off); err != nil {
		t.Fatal(err)
	}
	s := n.Snapshot()
	if s.Busy || s.Persisted.LastAction.Result != "ok" || s.Persisted.Power != power.StateOff {
		t.Errorf("after a one-step off: busy=%v %+v power=%v", s.Busy, s.Persisted.LastAction, s.Persisted.Power)
	}
	if got := obs.list(); !slices.Equal(got, []string{"n1:off:pdu"}) {
		t.Errorf("observer saw %v", got)
	}
}

func TestFirstStepFailure(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		wantIs  error
		initial power.Action // action that sets the recorded state first
		action  power.Action
	}{
		{"timeout on", fmt.Errorf("pdu p1: %w", power.ErrTimeout), power.ErrTimeout, power.Off, power.On},
		{"timeout off", power.ErrTimeout, power.ErrTimeout, power.On, power.Off},
		{"other error cycle", errors.New("snmp: authorization error"), nil, power.On, power.Cycle},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &testkit.Journal{}
			feed := testkit.NewFeed(log, power.StateOff)
			wol := testkit.NewActuator("wol", log, power.On)
			obs := &fakeObserver{}
			n := newNode(t, Config{Means: Means{Feed: feed, Waker: wol}, OnDelay: time.Millisecond, CycleDelay: time.Millisecond, Observer: obs}, nil)
			if err := n.Power(context.Background(), tt.initial); err != nil {
				t.Fatal(err)
			}
			before := settled(t, n).Persisted
			if err := n.SetBoot(context.Background(), Boot{Valid: true, Device: BootPXE}, 0); err != nil {
				t.Fatal(err)
			}

			feed.Actuator.Update(func(a *testkit.Actuator) { a.Err = tt.err })
			callsBefore := len(log.Calls())
			err := n.Power(context.Background(), tt.action)
			if err == nil {
				t.Fatal("Power succeeded, want the actuator's error")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v does not wrap %v", err, tt.wantIs)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("error %v does not wrap the actuator's error", err)
			}
			if !strings.Contains(err.Error(), "n1") || !strings.Contains(err.Error(), tt.action.String()) {
				t.Errorf("error %q does not name the node and action", err)
			}
			s := n.Snapshot()
			if s.Persisted.Power != before.Power {
				t.Errorf("recorded power = %v after a failed %s, want unchanged %v", s.Persisted.Power, tt.action, before.Power)
			}
			if r := s.Persisted.LastAction; r == nil || r.Result != "error" || r.Action != tt.action || r.Error == "" || s.Busy {
				t.Errorf("last action = %+v busy=%v, want an error record", r, s.Busy)
			}
			if !s.Persisted.Boot.Valid {
				t.Error("a failed action consumed the boot override")
			}
			time.Sleep(20 * time.Millisecond) // nothing may follow in the background
			if got := log.Names()[callsBefore:]; len(got) != 1 {
				t.Errorf("calls for the failed action = %v, want only the first step", got)
			}
			obs.mu.Lock()
			lastErr := obs.errs[len(obs.errs)-1]
			obs.mu.Unlock()
			if !errors.Is(lastErr, tt.err) {
				t.Errorf("observer error = %v", lastErr)
			}
		})
	}
}

func TestFirstStepHonoursCallerContext(t *testing.T) {
	log := &testkit.Journal{}
	feed := testkit.NewFeed(log, power.StateOff)
	feed.Actuator.Block = make(chan struct{}) // never answers
	n := newNode(t, Config{Means: Means{Feed: feed}}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	err := n.Power(ctx, power.On)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v, want the caller's deadline", err)
	}
	if n.Snapshot().Persisted.Power != power.Unknown {
		t.Errorf("recorded power changed by an unconfirmed action")
	}
}

func TestTailFailure(t *testing.T) {
	log := &testkit.Journal{}
	wol := testkit.NewActuator("wol", log, power.On)
	wol.Err = errors.New("sendto: network is unreachable")
	obs := &fakeObserver{}
	logger, logs := testkit.NewLogger()
	n := newNode(t, Config{Means: Means{Feed: testkit.NewFeed(log, power.StateOff), Waker: wol}, OnDelay: time.Millisecond, Observer: obs, Logger: logger}, nil)
	if err := n.Power(context.Background(), power.On); err != nil {
		t.Fatalf("Power = %v; the failing step is in the background", err)
	}
	s := settled(t, n)
	r := s.Persisted.LastAction
	if r == nil || r.Result != "error" || !strings.Contains(r.Error, "network is unreachable") || !strings.Contains(r.Error, "power on n1") {
		t.Errorf("last action = %+v, want the background error", r)
	}
	if !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("background failure not logged as an error:\n%s", logs)
	}
	testkit.Eventually(t, time.Second, "the observer", func() bool { return len(obs.list()) > 0 })
	if got := obs.list(); !slices.Equal(got, []string{"n1:on:pdu+wol"}) {
		t.Errorf("observer = %v", got)
	}
}

func TestManualFallback(t *testing.T) {
	tests := []struct {
		action power.Action
		line   string
		want   power.State
	}{
		{power.On, "manual action needed: power n1 ON", power.StateOn},
		{power.Off, "manual action needed: power n1 OFF", power.StateOff},
		{power.SoftOff, "manual action needed: power n1 SOFT OFF", power.StateOff},
		{power.Cycle, "manual action needed: power n1 CYCLE", power.StateOn},
		{power.Reset, "manual action needed: power n1 RESET", power.StateOn},
	}
	for _, tt := range tests {
		t.Run(tt.action.String(), func(t *testing.T) {
			logger, logs := testkit.NewLogger()
			obs := &fakeObserver{}
			n := newNode(t, Config{Logger: logger, Observer: obs}, nil)
			if err := n.Power(context.Background(), tt.action); err != nil {
				t.Fatalf("manual fallback failed: %v", err)
			}
			s := n.Snapshot()
			if s.Persisted.Power != tt.want {
				t.Errorf("recorded power = %v, want %v", s.Persisted.Power, tt.want)
			}
			if m := s.Persisted.Manual; m == nil || m.Action != tt.action || m.Since.IsZero() {
				t.Errorf("manual = %+v, want %s pending", m, tt.action)
			}
			if r := s.Persisted.LastAction; r == nil || r.Means != "manual" || r.Result != "ok" || s.Busy {
				t.Errorf("last action = %+v", r)
			}
			var warn string
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, "level=WARN") {
					warn = l
				}
			}
			if !strings.Contains(warn, fmt.Sprintf("msg=%q", tt.line)) || !strings.Contains(warn, "node=n1") {
				t.Errorf("no WARN line with %q in:\n%s", tt.line, logs)
			}
			if got := obs.list(); !slices.Equal(got, []string{"n1:" + tt.action.String() + ":manual"}) {
				t.Errorf("observer = %v", got)
			}
			// Recorded status is what the operator was asked to do.
			r, err := n.PowerState(context.Background())
			if err != nil || r.State != tt.want || r.Source != "recorded" {
				t.Errorf("PowerState = %+v, %v; want recorded %v", r, err, tt.want)
			}
		})
	}
}

func TestManualFallbackForMissingMeans(t *testing.T) {
	// A node with outlets but no soft-off hook asks a human for soft off;
	// an actuator-backed action then clears the pending manual action.
	log := &testkit.Journal{}
	logger, logs := testkit.NewLogger()
	n := newNode(t, Config{Means: Means{Feed: testkit.NewFeed(log, power.StateOn)}, Logger: logger}, nil)
	if err := n.Power(context.Background(), power.SoftOff); err != nil {
		t.Fatal(err)
	}
	if len(log.Calls()) != 0 {
		t.Errorf("soft off touched the outlets: %v", log.Names())
	}
	if !strings.Contains(logs.String(), "manual action needed: power n1 SOFT OFF") {
		t.Errorf("log:\n%s", logs)
	}
	if n.Snapshot().Persisted.Manual == nil {
		t.Fatal("no manual action recorded")
	}
	if err := n.Power(context.Background(), power.Off); err != nil {
		t.Fatal(err)
	}
	if m := n.Snapshot().Persisted.Manual; m != nil {
		t.Errorf("manual action %+v still pending after the outlets switched off", m)
	}
}

func TestFallbackError(t *testing.T) {
	for _, a := range []power.Action{power.On, power.Off, power.SoftOff, power.Cycle, power.Reset, power.Diag} {
		t.Run(a.String(), func(t *testing.T) {
			logger, logs := testkit.NewLogger()
			obs := &fakeObserver{}
			n := newNode(t, Config{Fallback: FallbackError, Logger: logger, Observer: obs}, nil)
			err := n.Power(context.Background(), a)
			if !errors.Is(err, power.ErrUnsupported) {
				t.Fatalf("Power(%s) = %v, want ErrUnsupported", a, err)
			}
			s := n.Snapshot()
			if s.Persisted.Power != power.Unknown || s.Persisted.Manual != nil {
				t.Errorf("state changed: power=%v manual=%+v", s.Persisted.Power, s.Persisted.Manual)
			}
			if r := s.Persisted.LastAction; r == nil || r.Result != "error" {
				t.Errorf("last action = %+v, want an error record", r)
			}
			if strings.Contains(logs.String(), "manual action needed") {
				t.Error("error fallback announced a manual action")
			}
			if len(obs.list()) != 1 {
				t.Errorf("observer = %v", obs.list())
			}
		})
	}
}

func TestDiagUnsupported(t *testing.T) {
	log := &testkit.Journal{}
	n := newNode(t, Config{Means: Means{Feed: testkit.NewFeed(log, power.StateOn), Waker: testkit.NewActuator("wol", log, power.On)}}, nil)
	err := n.Power(context.Background(), power.Diag)
	if !errors.Is(err, power.ErrUnsupported) {
		t.Fatalf("diag = %v, want ErrUnsupported", err)
	}
	if len(log.Calls()) != 0 || n.Snapshot().Persisted.Manual != nil {
		t.Errorf("diag did something: calls %v manual %+v", log.Names(), n.Snapshot().Persisted.Manual)
	}

	hooks := testkit.NewActuator("exec", log, power.Diag)
	n = newNode(t, Config{Means: Means{Hooks: hooks}}, nil)
	if err := n.Power(context.Background(), power.Diag); err != nil {
		t.Fatal(err)
	}
	s := n.Snapshot()
	if got := log.Names(); !slices.Equal(got, []string{"exec:diag"}) {
		t.Errorf("calls = %v", got)
	}
	if s.Persisted.Power != power.Unknown {
		t.Errorf("diag changed the recorded power to %v", s.Persisted.Power)
	}
}

func TestHooksReplaceBuiltInSequence(t *testing.T) {
	for _, a := range []power.Action{power.On, power.Off, power.SoftOff, power.Cycle, power.Reset} {
		t.Run(a.String(), func(t *testing.T) {
			log := &testkit.Journal{}
			hooks := testkit.NewActuator("exec", log, a)
			// A node in the state asked for would not be switched at all.
			before := power.StateOn
			if a == power.On {
				before = power.StateOff
			}
			n := newNode(t, Config{Means: Means{Feed: testkit.NewFeed(log, before), Waker: testkit.NewActuator("wol", log, power.On), Hooks: hooks}, OnDelay: time.Hour, CycleDelay: time.Hour}, nil)
			if err := n.Power(context.Background(), a); err != nil {
				t.Fatal(err)
			}
			s := n.Snapshot()
			if got := log.Names(); !slices.Equal(got, []string{"exec:" + a.String()}) {
				t.Errorf("calls = %v, want only the hook", got)
			}
			if s.Busy || s.Persisted.LastAction.Means != "exec" || s.Persisted.LastAction.Result != "ok" {
				t.Errorf("last action = %+v busy=%v", s.Persisted.LastAction, s.Busy)
			}
			if s.Persisted.Power != targetState(a) {
				t.Errorf("recorded power = %v, want %v", s.Persisted.Power, targetState(a))
			}
		})
	}
}

func TestConcurrentActionsSerialize(t *testing.T) {
	log := &testkit.Journal{}
	n := newNode(t, Config{Means: Means{Feed: testkit.NewFeed(log, power.StateOff), Waker: testkit.NewActuator("wol", log, power.On)}, OnDelay: 5 * time.Millisecond, CycleDelay: 5 * time.Millisecond}, nil)
	actions := []power.Action{power.On, power.Off, power.Cycle, power.Reset, power.On}
	errs := make(chan error, 4*len(actions))
	for range 4 {
		go func() {
			for _, a := range actions {
				errs <- n.Power(context.Background(), a)
			}
		}()
	}
	for range 4 * len(actions) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	s := settled(t, n)
	if s.Persisted.LastAction.Result != "ok" && s.Persisted.LastAction.Result != "cancelled" {
		t.Errorf("last action = %+v", s.Persisted.LastAction)
	}
}

// TestAuditNamesRequester: every power action and boot change is logged with
// the face, address and user that asked, and the action record keeps them.
func TestAuditNamesRequester(t *testing.T) {
	logger, logs := testkit.NewLogger()
	n := newNode(t, Config{Logger: logger}, nil)
	by := Requester{Channel: "ipmi", Source: "192.0.2.7:41000", User: "admin"}
	ctx := WithRequester(context.Background(), by)
	if err := n.Power(ctx, power.On); err != nil {
		t.Fatal(err)
	}
	if err := n.SetBoot(ctx, Boot{Valid: true, Device: BootPXE}, 0); err != nil {
		t.Fatal(err)
	}
	if r := n.Snapshot().Persisted.LastAction; r == nil || r.By == nil || *r.By != by {
		t.Errorf("last action = %+v, want it requested by %+v", r, by)
	}
	for _, msg := range []string{`msg="power action"`, `msg="boot override set"`} {
		want := `channel=ipmi source=192.0.2.7:41000 user=admin`
		found := false
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, msg) && strings.Contains(line, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s line with %s in:\n%s", msg, want, logs.String())
		}
	}
	if got := RequesterFrom(context.Background()); got.Channel != "internal" {
		t.Errorf("requester of a bare context = %+v, want channel internal", got)
	}
}

// TestRequestsDuringAnAction: while a power-on runs (the outlet is on, the
// Wake-on-LAN is still due), the machine reads as off; a repeated "on"
// leaves the action alone, and a soft off is not mistaken for a request
// for the state the node is already in (MAAS sends --soft right after an
// on; the soft off must reach the human).
func TestRequestsDuringAnAction(t *testing.T) {
	const onDelay = time.Hour
	log := &testkit.Journal{}
	feed := testkit.NewFeed(log, power.StateOff)
	wol := testkit.NewActuator("wol", log, power.On)
	logger, logs := testkit.NewLogger()
	n := newNode(t, Config{Means: Means{Feed: feed, Waker: wol}, OnDelay: onDelay, Logger: logger}, nil)
	ctx := context.Background()
	if err := n.Power(ctx, power.On); err != nil {
		t.Fatal(err)
	}
	feed.Sensor.Set(power.StateOn, nil, nil) // outlet on, no meter
	if err := n.Power(ctx, power.On); err != nil {
		t.Fatal(err)
	}
	if s := n.Snapshot(); !s.Busy || s.Persisted.LastAction.Action != power.On || s.Persisted.LastAction.Means != "pdu+wol" {
		t.Fatalf("a repeated on disturbed the action under way: %+v", s.Persisted.LastAction)
	}
	if !strings.Contains(logs.String(), "the on under way already does it") {
		t.Errorf("the repeated on has no audit line:\n%s", logs.String())
	}
	if err := n.Power(ctx, power.SoftOff); err != nil {
		t.Fatal(err)
	}
	s := settled(t, n)
	if s.Persisted.LastAction.Action != power.SoftOff || s.Persisted.LastAction.Means != "manual" || s.Persisted.Manual == nil {
		t.Errorf("soft off during the on = %+v, manual %+v; want it announced for a human", s.Persisted.LastAction, s.Persisted.Manual)
	}
	if got := log.Names(); !slices.Equal(got, []string{"pdu:on"}) {
		t.Errorf("calls = %v, want only the first outlet switch", got)
	}
}

// TestRequestAfterAnActionEnded: once an action's background steps are
// done, a new request is judged by the sensors again.
func TestRequestAfterAnActionEnded(t *testing.T) {
	log := &testkit.Journal{}
	feed := testkit.NewFeed(log, power.StateOff)
	wol := testkit.NewActuator("wol", log, power.On)
	n := newNode(t, Config{Means: Means{Feed: feed, Waker: wol}, OnDelay: time.Millisecond}, nil)
	ctx := context.Background()
	if err := n.Power(ctx, power.On); err != nil {
		t.Fatal(err)
	}
	settled(t, n)
	// The machine shut itself down behind its live outlet.
	feed.Sensor.Set(power.StateOff, nil, nil)
	if err := n.Power(ctx, power.On); err != nil {
		t.Fatal(err)
	}
	settled(t, n)
	if got := log.Names(); !slices.Equal(got, []string{"pdu:on", "wol:on", "pdu:on", "wol:on"}) {
		t.Errorf("calls = %v, want the second on carried out", got)
	}
}
