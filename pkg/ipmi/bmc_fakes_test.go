package ipmi

import (
	"context"
	"sync"
	"time"

	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
)

// The parts of Machine beyond power and boot, for the existing fake: no
// events, no meter, never on.
func (f *fakeMachine) Snapshot() node.Snapshot                   { return node.Snapshot{Name: f.name} }
func (f *fakeMachine) Events() ([]node.Event, error)             { return nil, nil }
func (f *fakeMachine) ClearEvents(context.Context) error         { return nil }
func (f *fakeMachine) EventLogSize() int                         { return node.DefaultEventLogSize }
func (f *fakeMachine) MeterSamples(time.Time) []node.MeterSample { return nil }
func (f *fakeMachine) PowerOnTime() time.Duration                { return 0 }
func (f *fakeMachine) FirstServed(string, string) (time.Time, error) {
	return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), nil
}

// bmcMachine is a fake node with a reading (watts, outlets), an event log,
// a meter history and an on-time, for the sensor, SEL and DCMI tests.
type bmcMachine struct {
	*fakeMachine

	bmu       sync.Mutex
	reading   power.Reading
	readErr   error // returned by PowerState and kept as the snapshot's ReadingErr
	events    []node.Event
	nextID    uint32
	samples   []node.MeterSample
	onTime    time.Duration
	last      *node.ActionRecord
	clearedBy []node.Requester
}

func newBMCMachine(name string) *bmcMachine {
	return &bmcMachine{fakeMachine: newFakeMachine(name), nextID: 1}
}

func (m *bmcMachine) PowerState(context.Context) (power.Reading, error) {
	m.bmu.Lock()
	defer m.bmu.Unlock()
	if m.readErr != nil {
		return power.Reading{}, m.readErr
	}
	r := m.reading
	r.At = time.Now()
	return r, nil
}

func (m *bmcMachine) Snapshot() node.Snapshot {
	m.bmu.Lock()
	defer m.bmu.Unlock()
	return node.Snapshot{Name: m.name, Reading: m.reading, ReadingErr: m.readErr,
		Persisted: node.Persisted{LastAction: m.last}}
}

func (m *bmcMachine) Events() ([]node.Event, error) {
	m.bmu.Lock()
	defer m.bmu.Unlock()
	return append([]node.Event(nil), m.events...), nil
}

func (m *bmcMachine) ClearEvents(ctx context.Context) error {
	m.bmu.Lock()
	defer m.bmu.Unlock()
	by := node.RequesterFrom(ctx)
	m.clearedBy = append(m.clearedBy, by)
	m.events = nil
	m.addLocked(node.Event{Kind: node.EventLogCleared, At: time.Now(), By: &by})
	return nil
}

func (m *bmcMachine) EventLogSize() int { return 8 }

func (m *bmcMachine) MeterSamples(since time.Time) []node.MeterSample {
	m.bmu.Lock()
	defer m.bmu.Unlock()
	var out []node.MeterSample
	for _, s := range m.samples {
		if !s.At.Before(since.Truncate(node.MeterBucket)) {
			out = append(out, s)
		}
	}
	return out
}

func (m *bmcMachine) PowerOnTime() time.Duration {
	m.bmu.Lock()
	defer m.bmu.Unlock()
	return m.onTime
}

// add appends events as the node's log does: IDs increase, the oldest
// beyond EventLogSize are dropped.
func (m *bmcMachine) add(es ...node.Event) {
	m.bmu.Lock()
	defer m.bmu.Unlock()
	for _, e := range es {
		m.addLocked(e)
	}
}

func (m *bmcMachine) addLocked(e node.Event) {
	e.ID = m.nextID
	m.nextID++
	if e.At.IsZero() {
		e.At = time.Now()
	}
	m.events = append(m.events, e)
	if len(m.events) > 8 {
		m.events = m.events[len(m.events)-8:]
	}
}

func (m *bmcMachine) set(fn func(m *bmcMachine)) {
	m.bmu.Lock()
	defer m.bmu.Unlock()
	fn(m)
}
