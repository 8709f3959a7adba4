package node

import (
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/power"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// TestSampleKeepsItsRate: background readings keep a fixed rate whatever
// the caller's lateness (so each 15-second meter bucket gets one), say when
// the node is next due, start over after a long gap, and stop for a node
// without sensors or once closed.
func TestSampleKeepsItsRate(t *testing.T) {
	const every = 15 * time.Second
	s := testkit.NewSensor("probe", power.StateOn)
	n := newNode(t, Config{Means: Means{Probe: s}, SampleInterval: every}, nil)
	reads := func(want int) {
		t.Helper()
		for range 500 {
			if s.Reads() >= want {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		if got := s.Reads(); got != want {
			t.Fatalf("%d reads, want %d", got, want)
		}
		for range 500 { // and the refresh is over
			n.mu.Lock()
			idle := n.refreshing == nil
			n.mu.Unlock()
			if idle {
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
		t.Fatal("the refresh did not end")
	}
	t0 := time.Now()
	steps := []struct {
		at    time.Duration // the caller's time, from t0
		reads int
		next  time.Duration
	}{
		{0, 1, every},                                // never read: read now
		{5 * time.Second, 1, every},                  // not due: when it is
		{every + 900*time.Millisecond, 2, 2 * every}, // due, called late: the next stays on the rate
		{2*every + 10*time.Millisecond, 3, 3 * every},
		{3*every - time.Millisecond, 3, 3 * every},
		{10 * every, 4, 11 * every}, // far behind: a new start
	}
	for _, st := range steps {
		next := n.Sample(t0.Add(st.at))
		reads(st.reads)
		if want := t0.Add(st.next); !next.Equal(want) {
			t.Fatalf("Sample at t0+%v: next due t0+%v, want t0+%v", st.at, next.Sub(t0), st.next)
		}
	}

	recorded := newNode(t, Config{Name: "manual", StatusSource: "auto", SampleInterval: every}, nil)
	if next := recorded.Sample(t0); !next.IsZero() {
		t.Fatalf("a node without sensors is due at %v", next)
	}
	n.Close()
	if next := n.Sample(t0.Add(20 * every)); !next.IsZero() {
		t.Fatalf("a closed node is due at %v", next)
	}
	reads(4)
}
