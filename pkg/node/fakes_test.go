package node

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/power"
	"github.com/powerjockey/powerjockey/test/testkit"
)

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

// settled waits until the node's last action is no longer running.
func settled(t *testing.T, n *Node) Snapshot {
	t.Helper()
	var s Snapshot
	testkit.Eventually(t, 2*time.Second, "the action to finish", func() bool {
		s = n.Snapshot()
		return !s.Busy
	})
	return s
}

// powerNow is n.Power(a) that fails the test when a pending step of the
// action before (an hour-long delay) holds it up instead of being cancelled.
func powerNow(t *testing.T, n *Node, a power.Action) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- n.Power(context.Background(), a) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("power %s waited for the previous action's pending steps", a)
	}
}

func wattsPtr(w float64) *float64 { return &w }
