package inventory

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// countingSensor is a sensor whose readings are dated by their number
// (the Unix second n for the n-th read), so that a node's snapshot tells
// which read it stored.
func countingSensor() *testkit.Sensor {
	s := testkit.NewSensor("probe", power.StateOn)
	var n atomic.Int64
	s.SetClock(func() time.Time { return time.Unix(n.Add(1), 0) })
	return s
}

func sampledNodes(t *testing.T, every time.Duration, n int) ([]*node.Node, []*testkit.Sensor) {
	t.Helper()
	store, err := node.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var nodes []*node.Node
	var sensors []*testkit.Sensor
	for i := range n {
		s := countingSensor()
		nd, err := node.New(context.Background(), node.Config{Name: fmt.Sprintf("n%d", i), Means: node.Means{Probe: s}, SampleInterval: every}, store)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nd.Close)
		nodes, sensors = append(nodes, nd), append(sensors, s)
	}
	return nodes, sensors
}

// waitReads waits (bounded) until each node's sensor was read want times
// and the node stored the reading.
func waitReads(t *testing.T, nodes []*node.Node, sensors []*testkit.Sensor, want int) {
	t.Helper()
	stored := func(i int) bool {
		return sensors[i].Reads() >= want && nodes[i].Snapshot().Reading.At.Unix() >= int64(want)
	}
	for range 1000 {
		done := true
		for i := range sensors {
			done = done && stored(i)
		}
		if done {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	for i, s := range sensors {
		if got := s.Reads(); got != want || !stored(i) {
			t.Fatalf("node %d: %d reads (the last stored: %v), want %d", i, got, stored(i), want)
		}
	}
}

// TestSamplerSchedule drives the sampler's schedule by hand, on made-up
// times: nodes added together are due together, each round takes exactly
// the nodes due and puts them back one interval on (however late the
// round), and a removed (closed) node drops out.
func TestSamplerSchedule(t *testing.T) {
	const every = 15 * time.Second
	nodes, sensors := sampledNodes(t, every, 3)
	s := newSampler()
	t0 := time.Now()
	s.add(t0.Add(-samplerFirstDelay), []sampleGroup{{key: "pdu p", every: every, nodes: nodes}})
	if b := s.take(t0.Add(-time.Millisecond), nil); len(b) != 0 {
		t.Fatalf("%d nodes taken before they are due", len(b))
	}
	round := func(at time.Duration, want int) {
		t.Helper()
		b := s.take(t0.Add(at), nil)
		if len(b) != want {
			t.Fatalf("at t0+%v: %d nodes due, want %d", at, len(b), want)
		}
		s.sample(b, t0.Add(at))
	}
	round(0, 3)
	waitReads(t, nodes, sensors, 1)
	round(every-time.Millisecond, 0)
	round(every+700*time.Millisecond, 3) // late: read, and next due stays at t0+2·every
	waitReads(t, nodes, sensors, 2)
	if s.due[0].at != t0.Add(2*every) {
		t.Fatalf("next round at t0+%v, want t0+%v", s.due[0].at.Sub(t0), 2*every)
	}
	nodes[1].Close()
	round(2*every, 3)
	waitReads(t, []*node.Node{nodes[0], nodes[2]}, []*testkit.Sensor{sensors[0], sensors[2]}, 3)
	if len(s.due) != 2 {
		t.Fatalf("%d nodes scheduled after one was removed, want 2", len(s.due))
	}
}

// TestSamplerRuns: the running sampler wakes for the nodes added to it
// (also after it went to sleep with nothing due) and keeps reading them.
func TestSamplerRuns(t *testing.T) {
	nodes, sensors := sampledNodes(t, 50*time.Millisecond, 2)
	s := newSampler()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	time.Sleep(10 * time.Millisecond) // asleep with an empty schedule
	s.add(time.Now().Add(-samplerFirstDelay), []sampleGroup{{every: 50 * time.Millisecond, nodes: nodes}})
	for range 1000 {
		if sensors[0].Reads() >= 3 && sensors[1].Reads() >= 3 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("reads after 5 s at a 50 ms interval: %d and %d, want at least 3 each", sensors[0].Reads(), sensors[1].Reads())
}

// TestSamplerGroups: groups (a PDU's nodes, the nodes read otherwise)
// started together are due together, a node added later joins its PDU's
// phase, and a new PDU starts after the first delay.
func TestSamplerGroups(t *testing.T) {
	const every = 15 * time.Second
	nodes, _ := sampledNodes(t, every, 6)
	s := newSampler()
	t0 := time.Now()
	s.add(t0, []sampleGroup{
		{key: "pdu a", every: every, nodes: nodes[0:2]},
		{key: "pdu b", every: every, nodes: nodes[2:3]},
		{key: "", every: every, nodes: nodes[3:4]},
	})
	start := t0.Add(samplerFirstDelay)
	dueAt := func(n *node.Node) time.Duration {
		t.Helper()
		for _, e := range s.due {
			if e.node == n {
				return e.at.Sub(start)
			}
		}
		t.Fatalf("node %s not scheduled", n.Name())
		return 0
	}
	for i := range 4 {
		if got := dueAt(nodes[i]); got != 0 {
			t.Errorf("node %d first due at start+%v, want start", i, got)
		}
	}
	// 40 s later a node joins PDU a: its next grid point from 41 s on; a
	// node of a new PDU starts after the first delay.
	s.add(t0.Add(40*time.Second), []sampleGroup{
		{key: "pdu a", every: every, nodes: nodes[4:5]},
		{key: "pdu c", every: every, nodes: nodes[5:6]},
	})
	if got := dueAt(nodes[4]); got != 45*time.Second {
		t.Errorf("a node joining PDU a is due at start+%v, want start+45s", got)
	}
	if got := dueAt(nodes[5]); got != 40*time.Second {
		t.Errorf("a node of a new PDU is due at start+%v, want start+40s", got)
	}
}
