package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/metrics"
	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// setDoErr makes the feed's switching fail with err (nil: succeed).
func setDoErr(f *testkit.Feed, err error) {
	f.Actuator.Update(func(a *testkit.Actuator) { a.Err = err })
}

// nodeSpec describes one node of a fake rack.
type nodeSpec struct {
	name string
	feed *testkit.Feed
	// means, when set, are the node's means instead (a real PDU feed).
	means *node.Means
	// probe, when set, is the node's status sensor besides the feed.
	probe *testkit.Sensor
	// fallbackError makes actions without means fail instead of going manual.
	fallbackError bool
	// setup is run once the node exists (to leave a last action, say).
	setup func(t testing.TB, n *node.Node)
}

// fakeRack is a Backend over real nodes with fake means.
type fakeRack struct {
	nodes   []*node.Node
	byName  map[string]*node.Node
	feeds   map[string]*testkit.Feed
	metrics *metrics.Metrics
}

func (r *fakeRack) Nodes() []Node {
	out := make([]Node, len(r.nodes))
	for i, n := range r.nodes {
		out[i] = n
	}
	return out
}

func (r *fakeRack) Node(name string) (Node, bool) {
	n, ok := r.byName[name]
	return n, ok
}

func (r *fakeRack) Sessions() int { return 0 }
func (r *fakeRack) Snapshots() (out []node.Snapshot) {
	for _, n := range r.nodes {
		out = append(out, n.Snapshot())
	}
	return out
}

func newRack(t testing.TB, specs ...nodeSpec) *fakeRack {
	t.Helper()
	store, err := node.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := &fakeRack{byName: map[string]*node.Node{}, feeds: map[string]*testkit.Feed{}, metrics: metrics.New()}
	r.metrics.SetState(r, r)
	for _, s := range specs {
		cfg := node.Config{
			Name:       s.name,
			CycleDelay: 10 * time.Millisecond,
			WattsOn:    15,
			StatusWait: 50 * time.Millisecond,
			Logger:     slog.New(slog.DiscardHandler),
			Observer:   r.metrics,
		}
		if s.feed != nil {
			cfg.Means.Feed = s.feed
			r.feeds[s.name] = s.feed
		}
		if s.probe != nil {
			cfg.Means.Probe = s.probe
		}
		if s.means != nil {
			cfg.Means = *s.means
		}
		if s.fallbackError {
			cfg.Fallback = node.FallbackError
		}
		n, err := node.New(context.Background(), cfg, store)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Close)
		if s.setup != nil {
			s.setup(t, n)
		}
		r.nodes = append(r.nodes, n)
		r.byName[s.name] = n
	}
	slices.SortFunc(r.nodes, func(a, b *node.Node) int {
		switch {
		case a.Name() < b.Name():
			return -1
		case a.Name() > b.Name():
			return 1
		}
		return 0
	})
	return r
}

// Node kinds used by the tests.

func meteredNode(name string, on bool, watts float64) nodeSpec {
	return nodeSpec{name: name, feed: testkit.NewMeteredFeed(nil, power.StateFor(on), watts)}
}

func outletNode(name string, on bool) nodeSpec {
	return nodeSpec{name: name, feed: testkit.NewFeed(nil, power.StateFor(on))}
}

func probeNode(name string, on bool) nodeSpec {
	return nodeSpec{name: name, feed: testkit.NewFeed(nil, power.StateOn),
		probe: testkit.NewSensor("probe", power.StateFor(on))}
}

// deadNode's PDU does not answer: its state is unknown.
func deadNode(name string) nodeSpec {
	feed := testkit.NewFeed(nil, power.StateOn)
	feed.Sensor.Set(power.StateOn, nil, fmt.Errorf("snmp get 10.0.0.50:161: %w", power.ErrTimeout))
	return nodeSpec{name: name, feed: feed}
}

// manualNode has no means; action, when set, is already waiting for a human.
func manualNode(name string, action power.Action) nodeSpec {
	s := nodeSpec{name: name}
	if action != 0 {
		s.setup = func(t testing.TB, n *node.Node) { mustPower(t, n, action) }
	}
	return s
}

// busyNode is on, with its last action still running in the background.
func busyNode(name string) nodeSpec {
	feed := testkit.NewFeed(nil, power.StateOff)
	hold := make(chan struct{})
	feed.Actuator.Cont = testkit.Hold(hold)
	return nodeSpec{name: name, feed: feed, setup: func(t testing.TB, n *node.Node) {
		mustPower(t, n, power.On)
		t.Cleanup(func() { close(hold) })
	}}
}

// failedNode's last action failed.
func failedNode(name string) nodeSpec {
	feed := testkit.NewFeed(nil, power.StateOff)
	return nodeSpec{name: name, feed: feed, setup: func(t testing.TB, n *node.Node) {
		setDoErr(feed, fmt.Errorf("snmp set 10.0.0.50:161: %w", power.ErrTimeout))
		if err := n.Power(context.Background(), power.On); !errors.Is(err, power.ErrTimeout) {
			t.Fatalf("power on %s: %v, want a timeout", n.Name(), err)
		}
		setDoErr(feed, nil)
	}}
}

func mustPower(t testing.TB, n *node.Node, a power.Action) {
	t.Helper()
	if err := n.Power(context.Background(), a); err != nil {
		t.Fatalf("power %s %s: %v", a, n.Name(), err)
	}
}

// demoRack is the rack of the tests: every kind of node the page shows.
func demoRack(t testing.TB) *fakeRack {
	return newRack(t,
		meteredNode("compute-0", true, 142),
		meteredNode("compute-1", true, 118),
		meteredNode("compute-2", false, 95),
		meteredNode("compute-3", true, 3), // shut itself down behind a live outlet
		outletNode("storage-0", true),
		outletNode("storage-1", false),
		probeNode("probe-0", true),
		probeNode("probe-1", false),
		deadNode("dead-0"),
		manualNode("manual-0", power.On),
		manualNode("manual-1", 0),
		busyNode("busy-0"),
		failedNode("failed-0"),
		nodeSpec{name: "strict-0", fallbackError: true},
	)
}
