package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/metrics"
	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
)

// fakeFeed is a node.Feed (PDU outlets) with settable behaviour.
type fakeFeed struct {
	mu      sync.Mutex
	state   power.State
	metered bool
	watts   float64 // draw reported while on (when metered)
	readErr error   // Read fails with it
	doErr   error   // Do fails with it
	hold    chan struct{}
	calls   []power.Action
}

func (f *fakeFeed) Name() string { return "pdu" }

func (f *fakeFeed) Supports(a power.Action) bool { return a == power.On || a == power.Off }

func (f *fakeFeed) Do(ctx context.Context, a power.Action) (power.Continuation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, a)
	if f.doErr != nil {
		return nil, f.doErr
	}
	f.state = power.StateFor(a == power.On)
	if hold := f.hold; hold != nil {
		// The action goes on in the background until hold is closed.
		return func(ctx context.Context) error {
			select {
			case <-hold:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}, nil
	}
	return nil, nil
}

func (f *fakeFeed) Read(context.Context) (power.Reading, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.readErr != nil {
		return power.Reading{}, f.readErr
	}
	r := power.Reading{State: f.state, Source: "outlet", At: time.Now()}
	if f.metered {
		w := 0.0
		if f.state == power.StateOn {
			w = f.watts
		}
		r.Watts = &w
	}
	return r, nil
}

func (f *fakeFeed) Metered(context.Context) (bool, error) { return f.metered, nil }

func (f *fakeFeed) setDoErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.doErr = err
}

func (f *fakeFeed) actions() []power.Action {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// fakeProbe is a reachability probe with a settable answer.
type fakeProbe struct{ state power.State }

func (p *fakeProbe) Name() string { return "probe" }

func (p *fakeProbe) Read(context.Context) (power.Reading, error) {
	return power.Reading{State: p.state, Source: "probe", At: time.Now()}, nil
}

// nodeSpec describes one node of a fake rack.
type nodeSpec struct {
	name string
	feed *fakeFeed
	// means, when set, are the node's means instead (a real PDU feed).
	means *node.Means
	// probe, when set, is the node's status sensor besides the feed.
	probe *fakeProbe
	// fallbackError makes actions without means fail instead of going manual.
	fallbackError bool
	// setup is run once the node exists (to leave a last action, say).
	setup func(t testing.TB, n *node.Node)
}

// fakeRack is a Backend over real nodes with fake means.
type fakeRack struct {
	nodes   []*node.Node
	byName  map[string]*node.Node
	feeds   map[string]*fakeFeed
	metrics *metrics.Metrics
}

func (r *fakeRack) Nodes() []*node.Node         { return r.nodes }
func (r *fakeRack) Node(name string) *node.Node { return r.byName[name] }
func (r *fakeRack) Metrics() *metrics.Metrics   { return r.metrics }
func (r *fakeRack) IPMISessions() int           { return 0 }
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
	r := &fakeRack{byName: map[string]*node.Node{}, feeds: map[string]*fakeFeed{}, metrics: metrics.New()}
	r.metrics.SetState(r)
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
	return nodeSpec{name: name, feed: &fakeFeed{state: power.StateFor(on), metered: true, watts: watts}}
}

func outletNode(name string, on bool) nodeSpec {
	return nodeSpec{name: name, feed: &fakeFeed{state: power.StateFor(on)}}
}

func probeNode(name string, on bool) nodeSpec {
	return nodeSpec{name: name, feed: &fakeFeed{state: power.StateOn},
		probe: &fakeProbe{state: power.StateFor(on)}}
}

// deadNode's PDU does not answer: its state is unknown.
func deadNode(name string) nodeSpec {
	return nodeSpec{name: name, feed: &fakeFeed{state: power.StateOn,
		readErr: fmt.Errorf("snmp get 10.0.0.50:161: %w", power.ErrTimeout)}}
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
	feed := &fakeFeed{state: power.StateOff, hold: make(chan struct{})}
	return nodeSpec{name: name, feed: feed, setup: func(t testing.TB, n *node.Node) {
		mustPower(t, n, power.On)
		t.Cleanup(func() { close(feed.hold) })
	}}
}

// failedNode's last action failed.
func failedNode(name string) nodeSpec {
	feed := &fakeFeed{state: power.StateOff}
	return nodeSpec{name: name, feed: feed, setup: func(t testing.TB, n *node.Node) {
		feed.setDoErr(fmt.Errorf("snmp set 10.0.0.50:161: %w", power.ErrTimeout))
		if err := n.Power(context.Background(), power.On); !errors.Is(err, power.ErrTimeout) {
			t.Fatalf("power on %s: %v, want a timeout", n.Name(), err)
		}
		feed.setDoErr(nil)
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
