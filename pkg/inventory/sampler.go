package inventory

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"github.com/powerjockey/powerjockey/pkg/node"
)

// samplerFirstDelay is how long after start (or a reload) the new nodes'
// first background reading waits at least: the endpoints answer first, and
// the start-up's garbage is gone before a thousand readings begin.
const samplerFirstDelay = time.Second

// sampler has every node read its sensors at its sample interval, so the
// meter history and the event log (a self-shutdown, a PDU that stopped
// answering) keep up when no client asks. One goroutine for all nodes,
// asleep until the earliest node is due: nodes keep their next due time in
// a heap, so a daemon at rest wakes once per round of readings, not once a
// second to look at every node.
//
// Nodes started together are due together, and each keeps its rate
// (node.Sample), so a round is one burst: the nodes of a PDU share one poll
// of its outlet table, and the scheduler wakes once for all of them. (Spread
// over the interval PDU by PDU, the rounds cost twice the CPU at rest in
// scheduler wake-ups, for 6 MiB less resident memory: docs/performance.md.)
// A node added later joins its PDU's phase, so that it shares the poll too.
type sampler struct {
	mu     sync.Mutex
	due    dueHeap
	phases map[string]time.Time // the first due time of each group: its grid
	wake   chan struct{}        // an entry earlier than the earliest was added
}

func newSampler() *sampler {
	return &sampler{phases: map[string]time.Time{}, wake: make(chan struct{}, 1)}
}

// sampleGroup is nodes read through the same PDU (key: its name; "" for
// nodes read otherwise) and their sample interval.
type sampleGroup struct {
	key   string
	every time.Duration
	nodes []*node.Node
}

// add schedules new nodes' first readings, from now+samplerFirstDelay on:
// a group already known joins its phase, new ones start together. Closed
// nodes drop out by themselves (node.Sample tells), so removing needs no
// call.
func (s *sampler) add(now time.Time, groups []sampleGroup) {
	start := now.Add(samplerFirstDelay)
	s.mu.Lock()
	earliest := time.Time{}
	if len(s.due) > 0 {
		earliest = s.due[0].at
	}
	push := func(at time.Time, nodes []*node.Node) {
		for _, n := range nodes {
			heap.Push(&s.due, dueNode{at: at, node: n})
		}
	}
	for _, g := range groups {
		if phase, ok := s.phases[g.key]; ok && g.every > 0 {
			// The first point of the group's grid from start on.
			k := (start.Sub(phase) + g.every - 1) / g.every
			push(phase.Add(k*g.every), g.nodes)
			continue
		}
		s.phases[g.key] = start
		push(start, g.nodes)
	}
	wake := len(s.due) > 0 && (earliest.IsZero() || s.due[0].at.Before(earliest))
	s.mu.Unlock()
	if wake {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// run samples nodes as they fall due until ctx ends.
func (s *sampler) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var batch []dueNode
	for {
		s.mu.Lock()
		var wait time.Duration = -1
		if len(s.due) > 0 {
			wait = max(0, time.Until(s.due[0].at))
		}
		s.mu.Unlock()
		var fire <-chan time.Time
		if wait >= 0 {
			timer.Reset(wait)
			fire = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
			timer.Stop()
			continue
		case <-fire:
		}
		now := time.Now()
		batch = s.take(now, batch[:0])
		s.sample(batch, now)
	}
}

// take moves the entries due at now into batch.
func (s *sampler) take(now time.Time, batch []dueNode) []dueNode {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.due) > 0 && !s.due[0].at.After(now) {
		batch = append(batch, heap.Pop(&s.due).(dueNode))
	}
	return batch
}

// sample asks every node of batch for a reading (each starts it in the
// background) and schedules the next.
func (s *sampler) sample(batch []dueNode, now time.Time) {
	for i, e := range batch {
		if next := e.node.Sample(now); !next.IsZero() {
			batch[i].at = next
		} else {
			batch[i].node = nil // no sensors, no interval, or removed
		}
	}
	s.mu.Lock()
	for _, e := range batch {
		if e.node != nil {
			heap.Push(&s.due, e)
		}
	}
	s.mu.Unlock()
	clear(batch) // keep no closed node alive through the reused slice
}

// dueNode is a node and when it is next due.
type dueNode struct {
	at   time.Time
	node *node.Node
}

// dueHeap orders nodes by due time (container/heap).
type dueHeap []dueNode

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueNode)) }
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = dueNode{}
	*h = old[:len(old)-1]
	return e
}
