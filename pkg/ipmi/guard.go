package ipmi

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/bougou/go-ipmi/pkg/bmc"
)

// GuardConfig tunes the protections shared by all endpoints. Zero fields
// take the defaults of DefaultGuardConfig, except AuthFailuresPerMinute,
// where zero or less disables the failed-login limit.
//
// The rules behind the numbers (docs/security.md): a datagram whose source
// address may be forged is only ever charged to global and per-endpoint
// budgets, never to its claimed source; per-source penalties are charged
// only for what the sender must have received one of our replies to send
// (a RAKP 1 naming a session opened towards it, a RAKP 3 after our RAKP 2,
// a v1.5 Activate Session naming a challenge sent to it).
type GuardConfig struct {
	// AuthFailuresPerMinute is how many failed logins a source address may
	// accumulate on one endpoint (leaking at that rate) before its new
	// handshakes there are refused. It is also the number of RAKP 2 messages
	// (which carry a hash of the password, crackable offline) a source may
	// collect from one endpoint per minute without completing the login.
	AuthFailuresPerMinute int
	// Unproven bounds, per endpoint, the pre-authentication datagrams
	// (presence pings, capability queries, Open Session, Get Session
	// Challenge) of sources that have not logged in recently: their source
	// address may be forged, so they share one budget.
	Unproven Budget
	// UnprovenTotal is the same budget across all endpoints.
	UnprovenTotal Budget
	// PerSource bounds, per endpoint, the pre-authentication datagrams of
	// one source that has logged in recently (ProofLifetime): such a source
	// is served ahead of unproven traffic, but not without limit.
	PerSource Budget
	// PreAuthTotal bounds all pre-authentication datagrams handed to
	// go-ipmi across all endpoints: the process's CPU ceiling for
	// unauthenticated work.
	PreAuthTotal Budget
	// PendingPerEndpoint bounds the RMCP+ handshakes an endpoint holds
	// between Open Session and RAKP 3; UnprovenPendingPerEndpoint bounds
	// those opened by sources without a recent login; PendingTotal bounds
	// them across all endpoints.
	PendingPerEndpoint         int
	UnprovenPendingPerEndpoint int
	PendingTotal               int
	// PendingPerSource bounds, per endpoint, the handshakes waiting for
	// their RAKP 1 that one source with a recent login may hold, so that a
	// logged-in user cannot fill the table against everyone else.
	PendingPerSource int
	// ProtectPending is how long a fresh handshake is safe from eviction
	// by newer ones: longer than any console's round trip, so a flood of
	// Open Session requests cannot push a console's session out of the
	// table before its RAKP 1 arrives.
	ProtectPending time.Duration
	// PendingLifetime is how long a handshake may wait for its RAKP 1.
	PendingLifetime time.Duration
	// ProofLifetime is how long a completed login keeps its source address
	// in the priority lane.
	ProofLifetime time.Duration
	// InFlightPerSession and InFlightTotal bound the in-session commands
	// handed to go-ipmi and not yet answered, per session and in total:
	// go-ipmi runs each on a goroutine of its own, and a command may wait
	// for a PDU for up to a minute.
	InFlightPerSession int
	InFlightTotal      int
}

// DefaultGuardConfig returns the defaults documented in docs/security.md.
func DefaultGuardConfig() GuardConfig {
	return GuardConfig{
		AuthFailuresPerMinute:      30,
		Unproven:                   Budget{Rate: 100, Burst: 200},
		UnprovenTotal:              Budget{Rate: 2000, Burst: 2000},
		PerSource:                  Budget{Rate: 1000, Burst: 1000},
		PreAuthTotal:               Budget{Rate: 50000, Burst: 10000},
		PendingPerEndpoint:         160,
		UnprovenPendingPerEndpoint: 96,
		PendingTotal:               16384,
		PendingPerSource:           16,
		ProtectPending:             2 * time.Second,
		PendingLifetime:            10 * time.Second,
		ProofLifetime:              30 * time.Minute,
		InFlightPerSession:         8,
		InFlightTotal:              4096,
	}
}

func (c GuardConfig) withDefaults() GuardConfig {
	d := DefaultGuardConfig()
	fill := func(v *Budget, def Budget) {
		if v.Rate <= 0 || v.Burst <= 0 {
			*v = def
		}
	}
	fill(&c.Unproven, d.Unproven)
	fill(&c.UnprovenTotal, d.UnprovenTotal)
	fill(&c.PerSource, d.PerSource)
	fill(&c.PreAuthTotal, d.PreAuthTotal)
	for _, p := range []struct{ v, def *int }{
		{&c.PendingPerEndpoint, &d.PendingPerEndpoint},
		{&c.UnprovenPendingPerEndpoint, &d.UnprovenPendingPerEndpoint},
		{&c.PendingTotal, &d.PendingTotal},
		{&c.PendingPerSource, &d.PendingPerSource},
		{&c.InFlightPerSession, &d.InFlightPerSession},
		{&c.InFlightTotal, &d.InFlightTotal},
	} {
		if *p.v <= 0 {
			*p.v = *p.def
		}
	}
	for _, p := range []struct{ v, def *time.Duration }{
		{&c.ProtectPending, &d.ProtectPending},
		{&c.PendingLifetime, &d.PendingLifetime},
		{&c.ProofLifetime, &d.ProofLifetime},
	} {
		if *p.v <= 0 {
			*p.v = *p.def
		}
	}
	// go-ipmi's session store hands out one-byte handles: a table is at most
	// storeMax sessions, and the established ones need their share.
	c.PendingPerEndpoint = min(c.PendingPerEndpoint, storeMax-maxEstablished)
	c.UnprovenPendingPerEndpoint = min(c.UnprovenPendingPerEndpoint, c.PendingPerEndpoint)
	return c
}

// storeMax is the size given to go-ipmi's RMCP+ session store: its handles
// are one byte (1..254), and its handle allocator loops forever on a store
// holding more than 253 sessions.
const storeMax = 250

// maxEstablished is the largest session table the configuration allows
// (the IPMI session count fields are 6 bits).
const maxEstablished = 63

// maxSources bounds the per-source tables. Entries are only created for
// sources that proved they receive our replies, so a spoofed flood cannot
// fill them; the bound is for a flood from many real addresses.
const maxSources = 1 << 16

// maxProven bounds the table of sources with a recent login.
const maxProven = 4096

// rakpTimeout is how long a console has between our RAKP 2 and its RAKP 3.
// ipmitool and freeipmi verify RAKP 2 against the password and simply stop
// when it does not match, so a handshake abandoned here is, in practice, a
// wrong password or an unknown user (which gets an indistinguishable RAKP 2).
const rakpTimeout = 5 * time.Second

// Guard holds what all endpoints share: the sources that logged in
// recently, per-source failure and RAKP 2 accounting, the global budgets,
// the rate limits of the audit log, and a per-boot secret.
type Guard struct {
	cfg GuardConfig
	now func() time.Time
	// bootKey keys the RAKP 2 answered for user names that do not exist:
	// random per process, so such an answer cannot be told from a real
	// user's with an unknown password.
	bootKey [32]byte

	mu            sync.Mutex
	sources       map[sourceKey]*sourceState
	proven        map[netip.Addr]time.Time
	unprovenTotal bucket
	preAuthTotal  bucket
	pendingTotal  int
	inFlight      int
	logs          logLimiter
	conns         map[*guardedConn]struct{}
	active        map[*guardedConn]struct{} // the conns sweep looks at (touch)

	// sweepMu serializes sweeps; it guards the fields below.
	sweepMu    sync.Mutex
	sweepConns []*guardedConn // reused: a sweep a second allocates nothing
	lastEvict  time.Time      // when the sweep last ticked go-ipmi's eviction
}

// sourceKey is one source address talking to one endpoint. Limits are per
// endpoint: Ironic reaches every node from one conductor address, and a
// wrong password configured for one node must not lock it out of the others.
type sourceKey struct {
	ep   *Endpoint
	addr netip.Addr
}

type sourceState struct {
	failures bucket // failed logins; empty = refused
	rakp2    bucket // RAKP 2 hashes not followed by a login
	preAuth  bucket // the priority lane's budget
	last     time.Time
}

// NewGuard returns a guard with cfg.
func NewGuard(cfg GuardConfig) *Guard {
	g := &Guard{
		cfg:     cfg.withDefaults(),
		now:     time.Now,
		sources: make(map[sourceKey]*sourceState),
		proven:  make(map[netip.Addr]time.Time),
		conns:   make(map[*guardedConn]struct{}),
		active:  make(map[*guardedConn]struct{}),
	}
	if _, err := rand.Read(g.bootKey[:]); err != nil {
		panic(fmt.Sprintf("ipmi guard: no randomness for the per-boot key: %v", err))
	}
	return g
}

// Run sweeps every endpoint's handshake and session tables once a second
// (abandoned handshakes count as failed logins), until ctx ends.
func (g *Guard) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			g.sweep()
		}
	}
}

// sweep expires what clients left behind on the endpoints that were busy
// since they were last found quiet and, every
// bmc.DefaultSessionEvictInterval, has go-ipmi evict idle sessions on them
// (endpointClock). Quiet endpoints leave the active list, their admission
// state and tables released; at rest the list is empty and a sweep touches
// no endpoint and allocates nothing.
func (g *Guard) sweep() {
	g.sweepMu.Lock()
	defer g.sweepMu.Unlock()
	now := g.now()
	g.mu.Lock()
	conns := g.sweepConns[:0]
	for c := range g.active {
		conns = append(conns, c)
	}
	g.mu.Unlock()
	evict := now.Sub(g.lastEvict) >= bmc.DefaultSessionEvictInterval
	if evict {
		g.lastEvict = now
	}
	for _, c := range conns {
		// Cleared before looking: a datagram from here on sets it again
		// (touch), and then the conn stays or comes back.
		c.busy.Store(false)
		c.settle(now)
		if c.quiet() {
			g.mu.Lock()
			if !c.busy.Load() {
				delete(g.active, c)
			}
			g.mu.Unlock()
			continue
		}
		c.busy.Store(true)
		c.sweep(now)
		if evict {
			c.ep.evictIfBusy(now)
		}
	}
	clear(conns) // no references kept to endpoints that may close
	g.sweepConns = conns
}

// activate puts a conn that became busy on the active list.
func (g *Guard) activate(c *guardedConn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.conns[c]; ok { // not once it closed
		g.active[c] = struct{}{}
	}
}

func (g *Guard) register(c *guardedConn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.conns[c] = struct{}{}
}

func (g *Guard) unregister(c *guardedConn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.conns, c)
	delete(g.active, c)
}

func (g *Guard) failureBudget() Budget {
	n := float64(g.cfg.AuthFailuresPerMinute)
	return Budget{Rate: n / 60, Burst: n}
}

// state returns src's state, creating it. g.mu must be held.
func (g *Guard) state(src sourceKey, now time.Time) *sourceState {
	s, ok := g.sources[src]
	if !ok {
		if len(g.sources) >= maxSources {
			g.sweepSourcesLocked(now)
		}
		s = &sourceState{}
		g.sources[src] = s
	}
	s.last = now
	return s
}

// sweepSourcesLocked forgets sources idle long enough for every bucket to
// have refilled; if that frees nothing it forgets all rather than grow.
func (g *Guard) sweepSourcesLocked(now time.Time) {
	for k, s := range g.sources {
		if now.Sub(s.last) > 2*time.Minute {
			delete(g.sources, k)
		}
	}
	if len(g.sources) >= maxSources {
		clear(g.sources)
	}
}

// isProven reports whether addr completed a login within ProofLifetime:
// it receives what we send to it, so its datagrams go ahead of the
// unproven ones.
func (g *Guard) isProven(addr netip.Addr) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	at, ok := g.proven[addr]
	return ok && g.now().Sub(at) < g.cfg.ProofLifetime
}

// prove records a completed login from addr.
func (g *Guard) prove(addr netip.Addr) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if _, ok := g.proven[addr]; !ok && len(g.proven) >= maxProven {
		var oldest netip.Addr
		var at time.Time
		for a, t := range g.proven {
			if now.Sub(t) >= g.cfg.ProofLifetime {
				delete(g.proven, a)
			} else if at.IsZero() || t.Before(at) {
				oldest, at = a, t
			}
		}
		if len(g.proven) >= maxProven {
			delete(g.proven, oldest)
		}
	}
	g.proven[addr] = now
}

// admitPreAuth spends the global budgets of one pre-authentication
// datagram (the endpoint's own unproven budget is spent by its conn).
// A heavy unproven source only uses the upper half of the global unproven
// budget (see spendPreAuth).
func (g *Guard) admitPreAuth(src sourceKey, proven, heavy bool) (bool, string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	floor := 0.0
	if heavy {
		floor = g.cfg.UnprovenTotal.Burst / 2
	}
	if proven {
		if !g.state(src, now).preAuth.take(g.cfg.PerSource, now) {
			return false, "source_budget"
		}
	} else if !g.unprovenTotal.takeAbove(g.cfg.UnprovenTotal, floor, now) {
		return false, "unproven_budget"
	}
	if !g.preAuthTotal.take(g.cfg.PreAuthTotal, now) {
		return false, "preauth_budget"
	}
	return true, ""
}

// lockedOut reports whether src failed too many logins on its endpoint.
func (g *Guard) lockedOut(src sourceKey) bool {
	if g.cfg.AuthFailuresPerMinute <= 0 {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	s, ok := g.sources[src]
	if !ok {
		return false
	}
	now := g.now()
	s.last = now
	return !s.failures.has(g.failureBudget(), now)
}

// failed counts one failed login of src, which proved it receives our
// replies by sending what it did.
func (g *Guard) failed(src sourceKey) {
	if g.cfg.AuthFailuresPerMinute <= 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	g.state(src, now).failures.charge(g.failureBudget(), now)
}

// takeRAKP2 spends one of src's RAKP 2 tokens.
func (g *Guard) takeRAKP2(src sourceKey) bool {
	if g.cfg.AuthFailuresPerMinute <= 0 {
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	return g.state(src, now).rakp2.take(g.failureBudget(), now)
}

// refundRAKP2 returns a RAKP 2 token: the console completed its login (it
// knew the password the hash was made with) or got an error without a hash.
func (g *Guard) refundRAKP2(src sourceKey) {
	if g.cfg.AuthFailuresPerMinute <= 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	g.state(src, now).rakp2.give(g.failureBudget(), now)
}

// reservePending takes a place in the global handshake table.
func (g *Guard) reservePending() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pendingTotal >= g.cfg.PendingTotal {
		return false
	}
	g.pendingTotal++
	return true
}

func (g *Guard) releasePending(n int) {
	if n == 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pendingTotal = max(0, g.pendingTotal-n)
}

// acquireFlight takes a place for one in-session command in go-ipmi.
func (g *Guard) acquireFlight() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.inFlight >= g.cfg.InFlightTotal {
		return false
	}
	g.inFlight++
	return true
}

func (g *Guard) releaseFlight(n int) {
	if n == 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inFlight = max(0, g.inFlight-n)
}

// fakeKey is the key of the RAKP 2 answered for a user name that does not
// exist on an endpoint: fixed for the name for the life of the process, as
// a real user's password is, and unknowable outside it.
func (g *Guard) fakeKey(endpoint, name string) []byte {
	m := hmac.New(sha256.New, g.bootKey[:])
	m.Write([]byte(endpoint))
	m.Write([]byte{0})
	m.Write([]byte(name))
	return m.Sum(nil)[:20]
}
