package node

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/power"
	"github.com/powerjockey/powerjockey/test/testkit"
)

func TestStatusComposition(t *testing.T) {
	type sensorSpec struct {
		state power.State
		watts *float64
		err   error
	}
	on, off, unknown := power.StateOn, power.StateOff, power.Unknown
	errPDU := errors.New("snmp timeout")
	tests := []struct {
		name      string
		source    power.Source
		feed      *sensorSpec
		probe     *sensorSpec
		exec      *sensorSpec
		recorded  power.State
		want      power.State
		wantSrc   power.Source
		wantErr   error
		wantReads [3]int // feed, probe, exec
	}{
		// auto
		{name: "auto: outlet off is authoritative", source: "auto",
			feed: &sensorSpec{off, wattsPtr(80), nil}, probe: &sensorSpec{state: on}, exec: &sensorSpec{state: on},
			want: off, wantSrc: "outlet", wantReads: [3]int{1, 0, 0}},
		{name: "auto: outlet on, draw below watts_on is off", source: "auto",
			feed: &sensorSpec{on, wattsPtr(14.9), nil}, probe: &sensorSpec{state: on},
			want: off, wantSrc: "metering", wantReads: [3]int{1, 0, 0}},
		{name: "auto: outlet on, draw at watts_on is on", source: "auto",
			feed: &sensorSpec{on, wattsPtr(15), nil},
			want: on, wantSrc: "metering", wantReads: [3]int{1, 0, 0}},
		{name: "auto: outlet unknown, metered", source: "auto",
			feed: &sensorSpec{unknown, wattsPtr(200), nil},
			want: on, wantSrc: "metering", wantReads: [3]int{1, 0, 0}},
		{name: "auto: outlet on, unmetered, probe decides off", source: "auto",
			feed: &sensorSpec{state: on}, probe: &sensorSpec{state: off}, exec: &sensorSpec{state: on},
			want: off, wantSrc: "probe", wantReads: [3]int{1, 1, 0}},
		{name: "auto: outlet on, unmetered, probe decides on", source: "auto",
			feed: &sensorSpec{state: on}, probe: &sensorSpec{state: on},
			want: on, wantSrc: "probe", wantReads: [3]int{1, 1, 0}},
		{name: "auto: outlet on, unmetered, exec decides", source: "auto",
			feed: &sensorSpec{state: on}, exec: &sensorSpec{state: off},
			want: off, wantSrc: "exec", wantReads: [3]int{1, 0, 1}},
		{name: "auto: outlet on, nothing else", source: "auto",
			feed: &sensorSpec{state: on},
			want: on, wantSrc: "outlet", wantReads: [3]int{1, 0, 0}},
		{name: "auto: outlet read fails", source: "auto",
			feed: &sensorSpec{err: errPDU}, probe: &sensorSpec{state: on},
			wantErr: errPDU, wantReads: [3]int{1, 0, 0}},
		{name: "auto: probe only", source: "auto",
			probe: &sensorSpec{state: on},
			want:  on, wantSrc: "probe", wantReads: [3]int{0, 1, 0}},
		{name: "auto: probe before exec", source: "auto",
			probe: &sensorSpec{state: off}, exec: &sensorSpec{state: on},
			want: off, wantSrc: "probe", wantReads: [3]int{0, 1, 0}},
		{name: "auto: exec only", source: "auto",
			exec: &sensorSpec{state: on},
			want: on, wantSrc: "exec", wantReads: [3]int{0, 0, 1}},
		{name: "auto: no sensors is the recorded state", source: "auto",
			recorded: on, want: on, wantSrc: "recorded"},
		{name: "empty source means auto", source: "",
			feed: &sensorSpec{on, wattsPtr(1), nil},
			want: off, wantSrc: "metering", wantReads: [3]int{1, 0, 0}},
		// explicit sources
		{name: "recorded ignores sensors", source: "recorded",
			feed: &sensorSpec{state: on}, probe: &sensorSpec{state: on},
			recorded: off, want: off, wantSrc: "recorded"},
		{name: "outlet ignores the draw", source: "outlet",
			feed: &sensorSpec{on, wattsPtr(1), nil}, probe: &sensorSpec{state: off},
			want: on, wantSrc: "outlet", wantReads: [3]int{1, 0, 0}},
		{name: "metering", source: "metering",
			feed: &sensorSpec{on, wattsPtr(3), nil},
			want: off, wantSrc: "metering", wantReads: [3]int{1, 0, 0}},
		{name: "metering keeps an off outlet off", source: "metering",
			feed: &sensorSpec{off, wattsPtr(100), nil},
			want: off, wantSrc: "metering", wantReads: [3]int{1, 0, 0}},
		{name: "metering without a meter", source: "metering",
			feed: &sensorSpec{state: on}, wantErr: errAny, wantReads: [3]int{1, 0, 0}},
		{name: "metering read fails", source: "metering",
			feed: &sensorSpec{err: errPDU}, wantErr: errPDU, wantReads: [3]int{1, 0, 0}},
		{name: "probe ignores the outlet", source: "probe",
			feed: &sensorSpec{state: off}, probe: &sensorSpec{state: on},
			want: on, wantSrc: "probe", wantReads: [3]int{0, 1, 0}},
		{name: "exec ignores the rest", source: "exec",
			feed: &sensorSpec{state: on}, probe: &sensorSpec{state: on}, exec: &sensorSpec{state: off},
			want: off, wantSrc: "exec", wantReads: [3]int{0, 0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &testkit.Journal{}
			var m Means
			var feed *testkit.Feed
			var probe, exec *testkit.Sensor
			if tt.feed != nil {
				feed = testkit.NewFeed(log, tt.feed.state)
				feed.Sensor.Set(tt.feed.state, tt.feed.watts, tt.feed.err)
				m.Feed = feed
			}
			if tt.probe != nil {
				probe = testkit.NewSensor("probe", tt.probe.state)
				probe.Set(tt.probe.state, tt.probe.watts, tt.probe.err)
				m.Probe = probe
			}
			if tt.exec != nil {
				exec = testkit.NewSensor("exec", tt.exec.state)
				exec.Set(tt.exec.state, tt.exec.watts, tt.exec.err)
				m.ExecStatus = exec
			}
			store, _ := openStore(t)
			if tt.recorded != power.Unknown {
				if err := store.Save("n1", Persisted{Power: tt.recorded}); err != nil {
					t.Fatal(err)
				}
			}
			n := newNode(t, Config{Means: m, StatusSource: tt.source, WattsOn: 15, StatusWait: time.Second}, store)

			r, err := n.PowerState(context.Background())
			switch {
			case tt.wantErr == errAny:
				if err == nil {
					t.Fatalf("PowerState = %+v, want an error", r)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("PowerState error = %v, want %v", err, tt.wantErr)
				}
			default:
				if err != nil {
					t.Fatalf("PowerState: %v", err)
				}
				if r.State != tt.want || r.Source != tt.wantSrc {
					t.Errorf("PowerState = %v via %q, want %v via %q", r.State, r.Source, tt.want, tt.wantSrc)
				}
				if r.At.IsZero() {
					t.Error("reading has no time")
				}
			}
			reads := [3]int{}
			if feed != nil {
				reads[0] = feed.Sensor.Reads()
			}
			if probe != nil {
				reads[1] = probe.Reads()
			}
			if exec != nil {
				reads[2] = exec.Reads()
			}
			if reads != tt.wantReads {
				t.Errorf("sensor reads (feed, probe, exec) = %v, want %v", reads, tt.wantReads)
			}
			if len(log.Calls()) != 0 {
				t.Errorf("reading the status moved hardware: %v", log.Names())
			}
		})
	}
}

// errAny marks a case where any error will do.
var errAny = errors.New("any error")

func TestPowerStateCache(t *testing.T) {
	clock := testkit.NewClock(time.Now())
	probe := testkit.NewSensor("probe", power.StateOn)
	probe.SetClock(clock.Now)
	n := newNode(t, Config{Means: Means{Probe: probe}, MaxAge: 100 * time.Millisecond, StatusWait: time.Second, MaxStale: time.Minute, Now: clock.Now}, nil)
	ctx := context.Background()

	r1, err := n.PowerState(ctx)
	if err != nil || r1.State != power.StateOn {
		t.Fatalf("first PowerState = %+v, %v", r1, err)
	}
	// Within MaxAge: served from the cache, even though the truth changed.
	probe.Set(power.StateOff, nil, nil)
	for range 5 {
		r, err := n.PowerState(ctx)
		if err != nil || r.State != power.StateOn || !r.At.Equal(r1.At) {
			t.Fatalf("cached PowerState = %+v, %v; want the first reading", r, err)
		}
	}
	if got := probe.Reads(); got != 1 {
		t.Errorf("sensor read %d times within MaxAge, want 1", got)
	}
	// Stale: refreshed.
	clock.Advance(120 * time.Millisecond)
	r, err := n.PowerState(ctx)
	if err != nil || r.State != power.StateOff || !r.At.After(r1.At) {
		t.Errorf("PowerState after MaxAge = %+v, %v; want a fresh off", r, err)
	}
	if got := probe.Reads(); got != 2 {
		t.Errorf("sensor read %d times, want 2", got)
	}
	if s := n.Snapshot(); s.Reading.State != power.StateOff || s.ReadingErr != nil {
		t.Errorf("snapshot reading = %+v / %v", s.Reading, s.ReadingErr)
	}
}

func TestPowerStateSlowRefreshServesCache(t *testing.T) {
	const statusWait = 60 * time.Millisecond
	clock := testkit.NewClock(time.Now())
	probe := testkit.NewSensor("probe", power.StateOn)
	probe.SetClock(clock.Now)
	n := newNode(t, Config{Means: Means{Probe: probe}, MaxAge: 10 * time.Millisecond, StatusWait: statusWait, MaxStale: time.Minute, Now: clock.Now}, nil)
	ctx := context.Background()
	first, err := n.PowerState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	block := make(chan struct{})
	probe.SetBlock(block)
	probe.Set(power.StateOff, nil, nil)
	clock.Advance(20 * time.Millisecond)

	// The refresh blocks until the test unblocks it below: PowerState
	// must come back on its own after StatusWait, however loaded the
	// machine, with the cached reading.
	start := time.Now()
	type result struct {
		r   power.Reading
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := n.PowerState(ctx)
		done <- result{r, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("PowerState waited for a refresh that does not end")
	}
	if res.err != nil || res.r.State != power.StateOn || !res.r.At.Equal(first.At) {
		t.Errorf("PowerState during a slow refresh = %+v, %v; want the cached on", res.r, res.err)
	}
	if took := time.Since(start); took < statusWait {
		t.Errorf("PowerState took %v, want at least StatusWait (%v) for the refresh", took, statusWait)
	}
	// The refresh completes in the background and is then served.
	close(block)
	testkit.Eventually(t, time.Second, "the refresh", func() bool { return n.Snapshot().Reading.State == power.StateOff })
	r, err := n.PowerState(ctx)
	if err != nil || r.State != power.StateOff {
		t.Errorf("PowerState after the slow refresh = %+v, %v", r, err)
	}
}

func TestPowerStateStale(t *testing.T) {
	errDown := errors.New("connect: no route to host")
	t.Run("failing sensor, nothing cached", func(t *testing.T) {
		probe := testkit.NewSensor("probe", power.StateOn)
		probe.Set(power.StateOn, nil, errDown)
		logger, logs := testkit.NewLogger()
		n := newNode(t, Config{Means: Means{Probe: probe}, StatusWait: time.Second, Logger: logger}, nil)
		r, err := n.PowerState(context.Background())
		if !errors.Is(err, ErrStale) {
			t.Errorf("error = %v, want ErrStale", err)
		}
		if !errors.Is(err, errDown) {
			t.Errorf("error = %v, want the sensor's error too", err)
		}
		if err != nil && !strings.Contains(err.Error(), "n1") {
			t.Errorf("error %q does not name the node", err)
		}
		if !reflect.DeepEqual(r, power.Reading{}) {
			t.Errorf("reading = %+v, want zero", r)
		}
		if s := n.Snapshot(); !errors.Is(s.ReadingErr, errDown) {
			t.Errorf("snapshot error = %v", s.ReadingErr)
		}
		if !strings.Contains(logs.String(), "power status refresh failed") {
			t.Errorf("log:\n%s", logs)
		}
	})
	t.Run("failing sensor, recent cache", func(t *testing.T) {
		// A fake clock: the readings' ages are what the test says, however
		// loaded the machine.
		clock := testkit.NewClock(time.Now())
		probe := testkit.NewSensor("probe", power.StateOn)
		probe.SetClock(clock.Now)
		n := newNode(t, Config{Means: Means{Probe: probe}, MaxAge: 5 * time.Millisecond, StatusWait: time.Second, MaxStale: time.Minute, Now: clock.Now}, nil)
		first, err := n.PowerState(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		probe.Set(power.StateOff, nil, errDown)
		clock.Advance(10 * time.Millisecond)
		r, err := n.PowerState(context.Background())
		if err != nil || r.State != power.StateOn || !r.At.Equal(first.At) {
			t.Errorf("PowerState = %+v, %v; want the cached reading", r, err)
		}
		if probe.Reads() != 2 {
			t.Errorf("reads = %d, want a refresh attempt", probe.Reads())
		}
		if s := n.Snapshot(); s.Stale {
			t.Errorf("snapshot stale with a reading younger than MaxStale: %+v", s)
		}
	})
	t.Run("failing sensor, cache older than MaxStale", func(t *testing.T) {
		clock := testkit.NewClock(time.Now())
		probe := testkit.NewSensor("probe", power.StateOn)
		probe.SetClock(clock.Now)
		n := newNode(t, Config{Means: Means{Probe: probe}, MaxAge: 5 * time.Millisecond, StatusWait: time.Second, MaxStale: 40 * time.Millisecond, Now: clock.Now}, nil)
		if _, err := n.PowerState(context.Background()); err != nil {
			t.Fatal(err)
		}
		probe.Set(power.StateOn, nil, errDown)
		clock.Advance(50 * time.Millisecond)
		_, err := n.PowerState(context.Background())
		if !errors.Is(err, ErrStale) || !errors.Is(err, errDown) {
			t.Errorf("error = %v, want ErrStale wrapping the sensor error", err)
		}
		s := n.Snapshot()
		if st, src := s.Power(); !s.Stale || st != power.Unknown || src != "" {
			t.Errorf("snapshot = %+v, power %v from %q; want stale, unknown, no source", s, st, src)
		}
	})
	t.Run("failing sensor, the rule's three ages", func(t *testing.T) {
		// Served and fresh, served but lagging (a third of MaxStale), then
		// stale: the one rule every face reads from the snapshot.
		clock := testkit.NewClock(time.Now())
		probe := testkit.NewSensor("probe", power.StateOn)
		probe.SetClock(clock.Now)
		n := newNode(t, Config{Means: Means{Probe: probe}, MaxAge: 5 * time.Millisecond, StatusWait: time.Second, MaxStale: 30 * time.Second, Now: clock.Now}, nil)
		if _, err := n.PowerState(context.Background()); err != nil {
			t.Fatal(err)
		}
		probe.Set(power.StateOn, nil, errDown)
		for _, step := range []struct {
			advance        time.Duration
			lagging, stale bool
		}{
			{9 * time.Second, false, false},
			{time.Second, true, false},
			{19 * time.Second, true, false},
			{time.Second, false, true},
		} {
			clock.Advance(step.advance)
			n.PowerState(context.Background())
			s := n.Snapshot()
			if s.Lagging != step.lagging || s.Stale != step.stale {
				t.Errorf("at %v: lagging %v, stale %v; want %v, %v", s.ReadingAge, s.Lagging, s.Stale, step.lagging, step.stale)
			}
		}
	})
	t.Run("slow sensor, nothing cached", func(t *testing.T) {
		probe := testkit.NewSensor("probe", power.StateOn)
		block := make(chan struct{})
		defer close(block)
		probe.SetBlock(block)
		n := newNode(t, Config{Means: Means{Probe: probe}, StatusWait: 30 * time.Millisecond}, nil)
		// The sensor answers only once the test ends: PowerState must come
		// back on its own (after StatusWait), whatever the machine's load.
		done := make(chan error, 1)
		go func() {
			_, err := n.PowerState(context.Background())
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, ErrStale) {
				t.Errorf("error = %v, want ErrStale", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("PowerState waited for a sensor that does not answer")
		}
	})
	t.Run("caller context ends the wait", func(t *testing.T) {
		probe := testkit.NewSensor("probe", power.StateOn)
		block := make(chan struct{})
		defer close(block)
		probe.SetBlock(block)
		n := newNode(t, Config{Means: Means{Probe: probe}, StatusWait: time.Hour}, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		// StatusWait is an hour and the sensor never answers: only the
		// context can end the wait.
		done := make(chan error, 1)
		go func() {
			_, err := n.PowerState(ctx)
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, ErrStale) {
				t.Errorf("error = %v, want ErrStale", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("PowerState ignored its context")
		}
	})
}

func TestPowerStateSharesOneRead(t *testing.T) {
	probe := testkit.NewSensor("probe", power.StateOn)
	block := make(chan struct{})
	probe.SetBlock(block)
	n := newNode(t, Config{Means: Means{Probe: probe}, StatusWait: 2 * time.Second}, nil)

	const callers = 10
	type result struct {
		r   power.Reading
		err error
	}
	results := make(chan result, callers)
	var started sync.WaitGroup
	for range callers {
		started.Add(1)
		go func() {
			started.Done()
			r, err := n.PowerState(context.Background())
			results <- result{r, err}
		}()
	}
	started.Wait()
	select {
	case <-probe.Entered:
	case <-time.After(time.Second):
		t.Fatal("sensor never read")
	}
	time.Sleep(20 * time.Millisecond) // let every caller join the read in flight
	close(block)
	var first power.Reading
	for i := range callers {
		res := <-results
		if res.err != nil || res.r.State != power.StateOn {
			t.Fatalf("caller %d: %+v, %v", i, res.r, res.err)
		}
		if i == 0 {
			first = res.r
		} else if !res.r.At.Equal(first.At) {
			t.Errorf("callers got different readings: %v vs %v", res.r.At, first.At)
		}
	}
	if got := probe.Reads(); got != 1 {
		t.Errorf("sensor read %d times for %d concurrent callers, want 1", got, callers)
	}
}

func TestRefresh(t *testing.T) {
	probe := testkit.NewSensor("probe", power.StateOn)
	n := newNode(t, Config{Means: Means{Probe: probe}, MaxAge: time.Hour}, nil)
	for i := range 3 {
		if r, err := n.Refresh(context.Background()); err != nil || r.State != power.StateOn {
			t.Fatalf("Refresh = %+v, %v", r, err)
		}
		if got := probe.Reads(); got != i+1 {
			t.Errorf("Refresh %d: %d reads, want %d (Refresh ignores MaxAge)", i, got, i+1)
		}
	}
	errDown := errors.New("down")
	probe.Set(power.StateOn, nil, errDown)
	if _, err := n.Refresh(context.Background()); !errors.Is(err, errDown) {
		t.Errorf("Refresh error = %v", err)
	}
	// No sensors: the recorded state.
	m := newNode(t, Config{}, nil)
	if r, err := m.Refresh(context.Background()); err != nil || r.Source != "recorded" {
		t.Errorf("Refresh without sensors = %+v, %v", r, err)
	}
	// A cancelled caller does not wait for a slow sensor.
	block := make(chan struct{})
	defer close(block)
	probe.SetBlock(block)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := n.Refresh(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Refresh with a deadline = %v", err)
	}
}

func TestActionInvalidatesReading(t *testing.T) {
	log := &testkit.Journal{}
	feed := testkit.NewFeed(log, power.StateOff)
	n := newNode(t, Config{Means: Means{Feed: feed}, MaxAge: time.Hour, StatusWait: time.Second}, nil)
	if r, err := n.PowerState(context.Background()); err != nil || r.State != power.StateOff {
		t.Fatalf("PowerState = %+v, %v", r, err)
	}
	feed.Sensor.Set(power.StateOn, nil, nil)
	if err := n.Power(context.Background(), power.On); err != nil {
		t.Fatal(err)
	}
	// Despite MaxAge, the reading from before the action is not served.
	if r, err := n.PowerState(context.Background()); err != nil || r.State != power.StateOn {
		t.Errorf("PowerState after on = %+v, %v; want a fresh reading", r, err)
	}
	if got := feed.Sensor.Reads(); got != 2 {
		t.Errorf("reads = %d, want 2", got)
	}
}

func TestStateChangeLogged(t *testing.T) {
	probe := testkit.NewSensor("probe", power.StateOn)
	logger, logs := testkit.NewLogger()
	n := newNode(t, Config{Means: Means{Probe: probe}, Logger: logger}, nil)
	if _, err := n.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "power state changed") {
		t.Error("first reading logged as a change")
	}
	probe.Set(power.StateOff, wattsPtr(2), nil)
	if _, err := n.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `msg="power state changed" node=n1 from=on to=off source=probe watts=2`) {
		t.Errorf("log:\n%s", logs)
	}
}

func TestManualClearedBySensor(t *testing.T) {
	store, _ := openStore(t)
	probe := testkit.NewSensor("probe", power.StateOff)
	n := newNode(t, Config{Means: Means{Probe: probe}, MaxAge: time.Millisecond, StatusWait: time.Second}, store)
	if err := n.Power(context.Background(), power.On); err != nil {
		t.Fatal(err)
	}
	if n.Snapshot().Persisted.Manual == nil {
		t.Fatal("no manual action pending")
	}
	// The sensor still sees the old state: the action stays pending.
	if r, err := n.PowerState(context.Background()); err != nil || r.State != power.StateOff {
		t.Fatalf("PowerState = %+v, %v", r, err)
	}
	if n.Snapshot().Persisted.Manual == nil {
		t.Fatal("manual action cleared although the sensor sees off")
	}
	// The operator switched it on.
	probe.Set(power.StateOn, nil, nil)
	time.Sleep(2 * time.Millisecond)
	if r, err := n.PowerState(context.Background()); err != nil || r.State != power.StateOn {
		t.Fatalf("PowerState = %+v, %v", r, err)
	}
	if m := n.Snapshot().Persisted.Manual; m != nil {
		t.Errorf("manual action %+v still pending after the sensor saw on", m)
	}
	// And that survives a restart.
	testkit.Eventually(t, time.Second, "the cleared manual action to be persisted", func() bool {
		st, _, err := store.Load("n1")
		return err == nil && st.Manual == nil
	})
}

func TestManualNotClearedByOtherState(t *testing.T) {
	probe := testkit.NewSensor("probe", power.StateOn)
	n := newNode(t, Config{Means: Means{Probe: probe}}, nil)
	if err := n.Power(context.Background(), power.SoftOff); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m := n.Snapshot().Persisted.Manual; m == nil || m.Action != power.SoftOff {
		t.Errorf("manual = %+v, want soft still pending while the node is on", m)
	}
	probe.Set(power.StateOff, nil, nil)
	if _, err := n.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m := n.Snapshot().Persisted.Manual; m != nil {
		t.Errorf("manual = %+v, want soft off cleared by an off reading", m)
	}
}

func TestAcknowledge(t *testing.T) {
	store, _ := openStore(t)
	n := newNode(t, Config{}, store)
	if err := n.Acknowledge(context.Background()); err != nil {
		t.Errorf("Acknowledge with nothing pending: %v", err)
	}
	if err := n.Power(context.Background(), power.Cycle); err != nil {
		t.Fatal(err)
	}
	if n.Snapshot().Persisted.Manual == nil {
		t.Fatal("no manual action")
	}
	if err := n.Acknowledge(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m := n.Snapshot().Persisted.Manual; m != nil {
		t.Errorf("manual = %+v after Acknowledge", m)
	}
	st, _, err := store.Load("n1")
	if err != nil || st.Manual != nil {
		t.Errorf("persisted manual = %+v, %v", st.Manual, err)
	}
	if st.Power != power.StateOn {
		t.Errorf("Acknowledge changed the recorded power to %v", st.Power)
	}
}
