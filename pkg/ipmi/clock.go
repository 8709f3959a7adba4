package ipmi

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/clock"
)

// endpointClock is the clock.Clock of one endpoint's go-ipmi BMC and server
// (bmc.WithClock). Its time is the guard's (real, or a test's), and its
// timers and tickers are real ones but for one: the session-eviction
// ticker that server.Serve starts per endpoint (go-ipmi-notes.md item 15).
// Left real, 1,000 endpoints would wake 333 goroutines a second to scan
// session tables that are empty at rest. Here that ticker ticks only when
// the guard's sweep tells it to, which it does every
// bmc.DefaultSessionEvictInterval for endpoints whose tables hold a session
// (evictIfBusy), so go-ipmi's own eviction code runs exactly when it has
// something to look at, and an idle endpoint costs no wake-up at all.
type endpointClock struct {
	guard *Guard

	mu    sync.Mutex
	evict *evictTicker // the server's eviction ticker, once Serve made it
}

func newEndpointClock(g *Guard) *endpointClock { return &endpointClock{guard: g} }

// Now implements clock.Clock.
func (c *endpointClock) Now() time.Time { return c.guard.now() }

// NewTimer implements clock.Clock with a real timer (go-ipmi's SOL workers
// retire on one after a silence).
func (c *endpointClock) NewTimer(d time.Duration) clock.Timer { return clock.Real.NewTimer(d) }

// NewTicker implements clock.Clock. go-ipmi v0.9.1 asks for two kinds:
// the eviction ticker (bmc.DefaultSessionEvictInterval, once per Serve),
// driven by the guard, and the 10 ms pump of an active SOL console, which
// stays real. TestGoIPMITickers pins that inventory.
func (c *endpointClock) NewTicker(d time.Duration) clock.Ticker {
	if d != bmc.DefaultSessionEvictInterval {
		return clock.Real.NewTicker(d)
	}
	t := &evictTicker{c: make(chan time.Time, 1), owner: c}
	c.mu.Lock()
	c.evict = t
	c.mu.Unlock()
	return t
}

// tick delivers one eviction tick, dropped like a time.Ticker's when the
// previous one was not taken yet.
func (c *endpointClock) tick(now time.Time) {
	c.mu.Lock()
	t := c.evict
	c.mu.Unlock()
	if t == nil {
		return
	}
	select {
	case t.c <- now:
	default:
	}
}

// evictTicker is the eviction ticker handed to go-ipmi.
type evictTicker struct {
	c     chan time.Time
	owner *endpointClock
	// waits counts go-ipmi's calls of C: its eviction loop calls it each
	// time it comes back to wait for a tick, i.e. once it is done with the
	// previous one (tests wait on that).
	waits atomic.Int64
}

func (t *evictTicker) C() <-chan time.Time {
	t.waits.Add(1)
	return t.c
}

func (t *evictTicker) Stop() {
	t.owner.mu.Lock()
	defer t.owner.mu.Unlock()
	if t.owner.evict == t {
		t.owner.evict = nil
	}
}

// evictIfBusy ticks the endpoint's eviction ticker if go-ipmi's session
// tables (RMCP+ or v1.5) hold anything: on empty tables go-ipmi's eviction
// has nothing to do.
func (ep *Endpoint) evictIfBusy(now time.Time) {
	if ep.bmc.Sessions.Count() == 0 && ep.bmc.V15Sessions.Count() == 0 {
		return
	}
	ep.clock.tick(now)
}
