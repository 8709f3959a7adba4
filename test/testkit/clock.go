package testkit

import (
	"sync"
	"sync/atomic"
	"time"
)

// Clock is a fake clock that moves only when the test moves it: code under
// test takes its Now (a func() time.Time option), and the test Advances it
// past a timeout instead of sleeping, so that a loaded machine can neither
// slow the test nor make it flaky.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock reading start.
func NewClock(start time.Time) *Clock { return &Clock{t: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Since is the time elapsed on the clock since t.
func (c *Clock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// Offset is a clock that runs with real time plus what the test added to
// it: code that needs time to pass between its steps (polls, read-backs)
// sees it pass, and the test jumps over a long TTL instead of sleeping
// through a short one that a loaded machine could overrun.
type Offset struct{ d atomic.Int64 }

// Now is the real time plus the offset.
func (o *Offset) Now() time.Time { return time.Now().Add(time.Duration(o.d.Load())) }

// Advance moves the clock forward by d.
func (o *Offset) Advance(d time.Duration) { o.d.Add(int64(d)) }
