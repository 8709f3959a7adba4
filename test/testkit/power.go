package testkit

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/powerjockey/powerjockey/pkg/power"
)

// Call is one invocation of a fake actuator.
type Call struct {
	Means  string
	Action power.Action
	At     time.Time
	// CtxErr is the context's error when Do was entered.
	CtxErr error
}

// Journal records the calls of every fake actuator of a test, in order.
// The zero value is ready.
type Journal struct {
	mu    sync.Mutex
	calls []Call
}

func (j *Journal) add(c Call) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.calls = append(j.calls, c)
}

// Calls returns the calls so far.
func (j *Journal) Calls() []Call {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.calls)
}

// Names renders the calls as "means:action", for comparisons.
func (j *Journal) Names() []string {
	var out []string
	for _, c := range j.Calls() {
		out = append(out, c.Means+":"+c.Action.String())
	}
	return out
}

// Actions returns the actions of the calls so far.
func (j *Journal) Actions() []power.Action {
	var out []power.Action
	for _, c := range j.Calls() {
		out = append(out, c.Action)
	}
	return out
}

// Actuator is a power.Actuator that records its calls and can fail, block,
// or return a continuation. Change its behaviour with Update.
type Actuator struct {
	name    string
	journal *Journal
	// supports lists the actions Supports reports; nil means On and Off.
	supports []power.Action

	mu sync.Mutex
	// Err is returned by Do (per action when ErrFor has an entry).
	Err    error
	ErrFor map[power.Action]error
	// Block, when non-nil, makes Do wait until it is closed or ctx is done.
	Block chan struct{}
	// Cont is returned by Do: the action's background remainder.
	Cont power.Continuation
}

// NewActuator returns an actuator named name (its means) that records into
// j (a journal of its own when nil) and supports the given actions (On and
// Off when none).
func NewActuator(name string, j *Journal, supports ...power.Action) *Actuator {
	if j == nil {
		j = &Journal{}
	}
	return &Actuator{name: name, journal: j, supports: supports}
}

// Name implements power.Actuator.
func (a *Actuator) Name() string { return a.name }

// Journal is where the actuator records its calls.
func (a *Actuator) Journal() *Journal { return a.journal }

// Supports implements power.Actuator.
func (a *Actuator) Supports(act power.Action) bool {
	if a.supports == nil {
		return act == power.On || act == power.Off
	}
	return slices.Contains(a.supports, act)
}

// Do implements power.Actuator.
func (a *Actuator) Do(ctx context.Context, act power.Action) (power.Continuation, error) {
	a.journal.add(Call{Means: a.name, Action: act, At: time.Now(), CtxErr: ctx.Err()})
	a.mu.Lock()
	block, cont, err := a.Block, a.Cont, a.Err
	if e, ok := a.ErrFor[act]; ok {
		err = e
	}
	a.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	return cont, nil
}

// Update changes the actuator's behaviour under its lock.
func (a *Actuator) Update(fn func(a *Actuator)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	fn(a)
}

// Hold makes the actions that succeed go on in the background (a
// continuation) until hold is closed.
func Hold(hold <-chan struct{}) power.Continuation {
	return func(ctx context.Context) error {
		select {
		case <-hold:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Sensor is a power.Sensor with a settable answer.
type Sensor struct {
	name string

	mu      sync.Mutex
	reading power.Reading
	err     error
	// block, when non-nil, makes Read wait until it is closed or ctx is done.
	block chan struct{}
	reads int
	now   func() time.Time
	// Entered is signalled (without blocking) each time Read starts.
	Entered chan struct{}
}

// NewSensor returns a sensor named name whose readings come from source
// name and say state.
func NewSensor(name string, state power.State) *Sensor {
	return &Sensor{name: name, reading: power.Reading{State: state, Source: power.Source(name)}, now: time.Now,
		Entered: make(chan struct{}, 100)}
}

// Name implements power.Sensor.
func (s *Sensor) Name() string { return s.name }

// Read implements power.Sensor: the set reading, observed now, or the set
// error.
func (s *Sensor) Read(ctx context.Context) (power.Reading, error) {
	s.mu.Lock()
	s.reads++
	block := s.block
	s.mu.Unlock()
	select {
	case s.Entered <- struct{}{}:
	default:
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return power.Reading{}, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return power.Reading{}, s.err
	}
	r := s.reading
	r.At = s.now()
	return r, nil
}

// Set sets what the sensor reads: a state and a draw (nil: not metered),
// or an error.
func (s *Sensor) Set(state power.State, watts *float64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reading.State, s.reading.Watts, s.err = state, watts, err
}

// SetClock dates the readings by now (a fake clock's Now).
func (s *Sensor) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetOutlets sets the outlets the readings say feed the node.
func (s *Sensor) SetOutlets(outlets []power.OutletReading) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reading.Outlets = outlets
}

// SetBlock makes Read wait until ch is closed (nil: no waiting).
func (s *Sensor) SetBlock(ch chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.block = ch
}

// Reads counts the Reads so far.
func (s *Sensor) Reads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

// Feed is a node.Feed: PDU outlets ("pdu", read as source "outlet") that
// switch and can be read.
type Feed struct {
	*Actuator
	*Sensor
	// onWatts, when set, is the draw read once the outlets are switched on.
	onWatts *float64
}

// NewFeed returns outlets in state recording into j (a journal of their
// own when nil).
func NewFeed(j *Journal, state power.State) *Feed {
	return &Feed{Actuator: NewActuator("pdu", j), Sensor: NewSensor("outlet", state)}
}

// NewMeteredFeed returns metered outlets in state that draw watts while on.
func NewMeteredFeed(j *Journal, state power.State, watts float64) *Feed {
	f := NewFeed(j, state)
	f.onWatts = &watts
	w := 0.0
	if state == power.StateOn {
		w = watts
	}
	f.Sensor.Set(state, &w, nil)
	return f
}

// Name implements power.Actuator and power.Sensor.
func (f *Feed) Name() string { return "pdu" }

// Do switches like PDU outlets: once switched, they read so (outlets
// switched off draw nothing; metered ones switched on draw their load).
func (f *Feed) Do(ctx context.Context, act power.Action) (power.Continuation, error) {
	cont, err := f.Actuator.Do(ctx, act)
	if err == nil && (act == power.On || act == power.Off) {
		f.Sensor.mu.Lock()
		f.Sensor.reading.State = power.StateFor(act == power.On)
		switch {
		case act == power.On && f.onWatts != nil:
			w := *f.onWatts
			f.Sensor.reading.Watts = &w
		case act == power.Off && f.Sensor.reading.Watts != nil:
			zero := 0.0
			f.Sensor.reading.Watts = &zero
		}
		f.Sensor.mu.Unlock()
	}
	return cont, err
}

// Metered implements node.Feed: the outlets meter when their readings
// carry watts.
func (f *Feed) Metered(context.Context) (bool, error) {
	f.Sensor.mu.Lock()
	defer f.Sensor.mu.Unlock()
	return f.Sensor.reading.Watts != nil, nil
}
