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

// heavyHitters counts datagrams per source address in one-second windows,
// in a fixed table of hashed counters (memory does not grow with the
// number of addresses). It is not safe for concurrent use.
type heavyHitters struct {
	seed   maphash.Seed
	counts [1024]uint16
	window time.Time
}

// heavyPerSecond is the rate above which an unproven source counts as
// heavy: several times what a console needs for a login (three or four
// datagrams before RAKP 1).
const heavyPerSecond = 16

// add counts one datagram from addr and reports whether addr is heavy.
func (h *heavyHitters) add(addr netip.Addr, now time.Time) bool {
	if now.Sub(h.window) >= time.Second {
		clear(h.counts[:])
		h.window = now
	}
	if h.seed == (maphash.Seed{}) {
		h.seed = maphash.MakeSeed()
	}
	a := addr.As16()
	i := maphash.Bytes(h.seed, a[:]) % uint64(len(h.counts))
	if h.counts[i] < ^uint16(0) {
		h.counts[i]++
	}
	return h.counts[i] > heavyPerSecond
}
