package ipmi

import (
	"hash/maphash"
	"net/netip"
	"time"
)

// Budget is a token bucket's shape: Rate tokens a second, at most Burst
// saved up.
type Budget struct {
	Rate  float64
	Burst float64
}

// bucket is a token bucket. It is not safe for concurrent use: each one
// belongs to a goroutine or sits under its owner's lock.
type bucket struct {
	tokens float64
	last   time.Time
}

// refill brings b up to date at now under budget bd; a new bucket starts full.
func (b *bucket) refill(bd Budget, now time.Time) {
	if b.last.IsZero() {
		b.tokens, b.last = bd.Burst, now
		return
	}
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(bd.Burst, b.tokens+dt*bd.Rate)
	}
	b.last = now
}

// take spends one token if there is one.
func (b *bucket) take(bd Budget, now time.Time) bool {
	b.refill(bd, now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// takeAbove spends one token only if floor tokens remain after it: the
// lower part of the bucket is kept for others.
func (b *bucket) takeAbove(bd Budget, floor float64, now time.Time) bool {
	b.refill(bd, now)
	if b.tokens-1 < floor {
		return false
	}
	b.tokens--
	return true
}

// full reports whether b, left alone until now, holds its whole burst:
// it is then no different from a new bucket.
func (b *bucket) full(bd Budget, now time.Time) bool {
	return b.last.IsZero() || b.tokens+now.Sub(b.last).Seconds()*bd.Rate >= bd.Burst
}

// has reports whether a token is available without spending it.
func (b *bucket) has(bd Budget, now time.Time) bool {
	b.refill(bd, now)
	return b.tokens >= 1
}

// give returns one token (a refund), never beyond the burst.
func (b *bucket) give(bd Budget, now time.Time) {
	b.refill(bd, now)
	b.tokens = min(bd.Burst, b.tokens+1)
}

// charge spends one token even when that takes the bucket below zero: a
// failure that already happened is counted in full, and the debt keeps
// the source refused until it has leaked away.
func (b *bucket) charge(bd Budget, now time.Time) {
	b.refill(bd, now)
	b.tokens--
}

// heavyHitters counts datagrams per source address in one-second windows.
// The first few sources are counted exactly; when more are heard from, the
// counts move to a fixed table of hashed counters (2 KiB, made then and
// kept as long as the heavyHitters), so that memory does not grow with the
// number of addresses and an endpoint that hears from a console or two
// holds no table. It is not safe for concurrent use.
type heavyHitters struct {
	window time.Time
	few    [fewSources]sourceCount
	nFew   int
	many   *hashedCounts
}

// fewSources is how many sources are counted exactly before the counts go
// to the hashed table: a console or two, a monitoring host.
const fewSources = 8

type sourceCount struct {
	addr [16]byte
	n    uint16
}

// hashedCounts is the fixed table of counters, by hash of the address.
type hashedCounts struct {
	seed   maphash.Seed
	counts [1024]uint16
}

// slot returns the counter of addr.
func (t *hashedCounts) slot(addr [16]byte) *uint16 {
	return &t.counts[maphash.Bytes(t.seed, addr[:])%uint64(len(t.counts))]
}

// stale reports whether h's counts, left alone until now, would be cleared
// by the next add: h is then no different from a new heavyHitters.
func (h *heavyHitters) stale(now time.Time) bool {
	return now.Sub(h.window) >= time.Second
}

// heavyPerSecond is the rate above which an unproven source counts as
// heavy: several times what a console needs for a login (three or four
// datagrams before RAKP 1).
const heavyPerSecond = 16

// add counts one datagram from addr and reports whether addr is heavy.
func (h *heavyHitters) add(addr netip.Addr, now time.Time) bool {
	if h.stale(now) {
		h.nFew = 0
		if h.many != nil {
			clear(h.many.counts[:])
		}
		h.window = now
	}
	return countOne(h.counter(addr.As16())) > heavyPerSecond
}

// counter returns addr's counter in the current window.
func (h *heavyHitters) counter(a [16]byte) *uint16 {
	if h.many != nil {
		return h.many.slot(a)
	}
	for i := range h.few[:h.nFew] {
		if h.few[i].addr == a {
			return &h.few[i].n
		}
	}
	if h.nFew < len(h.few) {
		h.few[h.nFew] = sourceCount{addr: a}
		h.nFew++
		return &h.few[h.nFew-1].n
	}
	h.many = &hashedCounts{seed: maphash.MakeSeed()}
	for _, e := range h.few[:h.nFew] {
		p := h.many.slot(e.addr)
		*p = uint16(min(int(*p)+int(e.n), int(^uint16(0))))
	}
	h.nFew = 0
	return h.many.slot(a)
}

// countOne adds one to a counter, saturating, and returns it.
func countOne(n *uint16) uint16 {
	if *n < ^uint16(0) {
		*n++
	}
	return *n
}

// admission is an endpoint's rate state for pre-authentication datagrams
// of sources without a recent login: its share of the unproven budget and
// those sources' recent rates (a few hundred bytes; 2 KiB more once many
// sources are heard from, heavyHitters). An endpoint
// holds one only while it has use for it: it is made for the first such
// datagram and dropped by the guard's sweep once both parts are as a new
// one would be (the bucket full again, the counting window over), so that
// dropping it changes no decision and 1,000 idle endpoints hold none.
type admission struct {
	unproven bucket
	hitters  heavyHitters
}

// settled reports whether a is indistinguishable from a new admission.
func (a *admission) settled(bd Budget, now time.Time) bool {
	return a.unproven.full(bd, now) && a.hitters.stale(now)
}
