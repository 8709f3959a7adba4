package node

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/power"
)

// call is one actuator invocation.
type call struct {
	means  string
	action power.Action
	at     time.Time
	// ctxErr is the context's error when Do was entered.
	ctxErr error
}

// journal records calls from every fake of a test in order.
type journal struct {
	mu    sync.Mutex
	calls []call
}

func (j *journal) add(c call) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.calls = append(j.calls, c)
}

func (j *journal) list() []call {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]call(nil), j.calls...)
}

// names renders the calls as "means:action" for comparisons.
func (j *journal) names() []string {
	var out []string
	for _, c := range j.list() {
		out = append(out, c.means+":"+c.action.String())
	}
	return out
}

// fakeActuator is a power.Actuator that records its calls and can fail,
// block, or return a continuation.
type fakeActuator struct {
	name string
	log  *journal
	// supports lists the actions Supports reports; nil means On and Off.
	supports []power.Action

	mu sync.Mutex
	// err is returned by Do (per action when errFor has an entry).
	err    error
	errFor map[power.Action]error
	// block, when non-nil, makes Do wait until it is closed or ctx is done.
	block chan struct{}
	// cont is returned by Do.
	cont power.Continuation
}

func newActuator(name string, log *journal, supports ...power.Action) *fakeActuator {
	return &fakeActuator{name: name, log: log, supports: supports}
}

func (a *fakeActuator) Name() string { return a.name }

func (a *fakeActuator) Supports(act power.Action) bool {
	if a.supports == nil {
		return act == power.On || act == power.Off
	}
	for _, s := range a.supports {
		if s == act {
			return true
		}
	}
	return false
}

func (a *fakeActuator) Do(ctx context.Context, act power.Action) (power.Continuation, error) {
	a.log.add(call{means: a.name, action: act, at: time.Now(), ctxErr: ctx.Err()})
	a.mu.Lock()
	block, cont, err := a.block, a.cont, a.err
	if e, ok := a.errFor[act]; ok {
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

func (a *fakeActuator) set(fn func(a *fakeActuator)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	fn(a)
}

// fakeSensor is a power.Sensor with a settable answer.
type fakeSensor struct {
	name string

	mu      sync.Mutex
	reading power.Reading
	err     error
	// block, when non-nil, makes Read wait until it is closed or ctx is done.
	block chan struct{}
	reads int
	// entered is signalled (non-blocking) each time Read starts.
	entered chan struct{}
}

func newSensor(name string, state power.State) *fakeSensor {
	return &fakeSensor{name: name, reading: power.Reading{State: state, Source: power.Source(name)}, entered: make(chan struct{}, 100)}
}

func (s *fakeSensor) Name() string { return s.name }

func (s *fakeSensor) Read(ctx context.Context) (power.Reading, error) {
	s.mu.Lock()
	s.reads++
	block := s.block
	s.mu.Unlock()
	select {
	case s.entered <- struct{}{}:
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
	r.At = time.Now()
	return r, nil
}

func (s *fakeSensor) set(state power.State, watts *float64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reading.State, s.reading.Watts, s.err = state, watts, err
}

func (s *fakeSensor) setBlock(ch chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.block = ch
}

func (s *fakeSensor) readCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

// fakeFeed is a Feed: PDU outlets that switch and can be read.
type fakeFeed struct {
	*fakeActuator
	*fakeSensor
}

func newFeed(log *journal, state power.State) *fakeFeed {
	return &fakeFeed{fakeActuator: newActuator("pdu", log), fakeSensor: newSensor("outlet", state)}
}

func (f *fakeFeed) Name() string { return "pdu" }

// Do switches like PDU outlets: once switched, they read so (an outlet
// switched off draws nothing).
func (f *fakeFeed) Do(ctx context.Context, act power.Action) (power.Continuation, error) {
	cont, err := f.fakeActuator.Do(ctx, act)
	if err == nil && (act == power.On || act == power.Off) {
		f.fakeSensor.mu.Lock()
		f.fakeSensor.reading.State = power.StateFor(act == power.On)
		if act == power.Off && f.fakeSensor.reading.Watts != nil {
			zero := 0.0
			f.fakeSensor.reading.Watts = &zero
		}
		f.fakeSensor.mu.Unlock()
	}
	return cont, err
}

func (f *fakeFeed) Metered(context.Context) (bool, error) {
	f.fakeSensor.mu.Lock()
	defer f.fakeSensor.mu.Unlock()
	return f.reading.Watts != nil, nil
}

// fakeObserver records finished actions.
type fakeObserver struct {
	mu   sync.Mutex
	done []string
	errs []error
}

func (o *fakeObserver) ActionDone(node string, a power.Action, means string, took time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.done = append(o.done, node+":"+a.String()+":"+means)
	o.errs = append(o.errs, err)
}

func (o *fakeObserver) list() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.done...)
}

// logBuffer is a goroutine-safe sink for a slog handler.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// openStore opens a store in a fresh temporary directory.
func openStore(t *testing.T) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

// newNode builds a node on store (a fresh one when nil) and closes it at
// the end of the test.
func newNode(t *testing.T, cfg Config, store *Store) *Node {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "n1"
	}
	if store == nil {
		store, _ = openStore(t)
	}
	n, err := New(context.Background(), cfg, store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return n
}

// eventually polls cond every few milliseconds for at most d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// settled waits until the node's last action is no longer running.
func settled(t *testing.T, n *Node) Snapshot {
	t.Helper()
	var s Snapshot
	eventually(t, 2*time.Second, "the action to finish", func() bool {
		s = n.Snapshot()
		return !s.Busy
	})
	return s
}

func wattsPtr(w float64) *float64 { return &w }
