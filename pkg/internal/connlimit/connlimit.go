// Package connlimit bounds the TCP connections an HTTP server holds, so
// that a flood of connections costs the flooder its slots and never the
// process its file descriptors.
//
// A Listener holds at most Max connections, and at most PerSource from
// one address. At a cap it makes room by closing the connection that has
// been doing nothing longest (no request yet, or idle between requests) —
// from the same address at the per-source cap, from the address holding
// the most connections at the total cap — and when every connection is
// busy it refuses the new one (accepts and closes it at once) rather than
// wait: a flood of idle connections then evicts itself, and a client
// arriving during it is served. golang.org/x/net/netutil.LimitListener
// waits at its cap instead, which lets idle connections hold every slot.
//
// The http.Server must report connection states to ConnState, which is how
// the Listener tells idle connections from busy ones.
package connlimit

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/powerjockey/powerjockey/pkg/internal/audit"
)

// Limits are the caps of a Listener.
type Limits struct {
	// Max is the number of connections held at once (at least 1).
	Max int
	// PerSource is the number held at once from one IP address (at least 1).
	PerSource int
}

// Stats are a Listener's counters.
type Stats struct {
	Limits
	// Open is the number of connections held now.
	Open int
	// Refused counts connections closed at accept because every slot
	// was busy; Evicted counts idle connections closed to make room.
	Refused, Evicted uint64
}

// Listener is a net.Listener with caps; see the package comment.
type Listener struct {
	net.Listener
	name  string
	audit *audit.Log
	now   func() time.Time

	mu       sync.Mutex
	limits   Limits
	conns    map[*conn]struct{}
	bySource map[string]int
	refused  uint64
	evicted  uint64
}

// New wraps ln; name ("redfish", "http") labels its log lines.
func New(ln net.Listener, name string, lim Limits, log *slog.Logger) *Listener {
	return &Listener{
		Listener: ln,
		name:     name,
		audit:    audit.New(log, name, audit.Options{}),
		now:      time.Now,
		limits:   sanitize(lim),
		conns:    map[*conn]struct{}{},
		bySource: map[string]int{},
	}
}

func sanitize(lim Limits) Limits {
	lim.Max = max(lim.Max, 1)
	lim.PerSource = min(max(lim.PerSource, 1), lim.Max)
	return lim
}

// SetLimits changes the caps; connections over a lowered cap are not
// closed, only new ones are held to it.
func (l *Listener) SetLimits(lim Limits) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.limits = sanitize(lim)
}

// Stats returns the counters.
func (l *Listener) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{Limits: l.limits, Open: len(l.conns), Refused: l.refused, Evicted: l.evicted}
}

// Accept returns the next connection within the caps. Connections refused
// at a cap are closed here and never returned.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src := sourceOf(nc.RemoteAddr())
		c := &conn{Conn: nc, l: l, source: src, state: http.StateNew, since: l.now()}
		victim, why := l.admit(c)
		if victim != nil {
			victim.Conn.Close() // its server goroutine sees the error and calls Close
		}
		if why != "" {
			nc.Close()
			l.audit.Write(context.Background(), slog.LevelWarn, "connection refused: "+why, nc.RemoteAddr().String(), "",
				"max", l.limitsNow().Max, "per_source", l.limitsNow().PerSource)
			continue
		}
		return c, nil
	}
}

func (l *Listener) limitsNow() Limits {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limits
}

// admit registers c, choosing an idle connection to evict when a cap is
// reached; why is non-empty when c is refused instead.
func (l *Listener) admit(c *conn) (victim *conn, why string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.bySource[c.source] >= l.limits.PerSource:
		victim = l.idlest(c.source)
		if victim == nil {
			l.refused++
			return nil, "every connection from this address is busy (per-source cap)"
		}
	case len(l.conns) >= l.limits.Max:
		victim = l.idlest("")
		if victim == nil {
			l.refused++
			return nil, "every connection is busy (listener cap)"
		}
	}
	if victim != nil {
		l.evicted++
		l.removeLocked(victim)
	}
	l.conns[c] = struct{}{}
	l.bySource[c.source]++
	return victim, ""
}

// idlest returns the connection doing nothing for longest: from source, or
// (source "") from the address holding the most connections, nil when all
// are busy. Connections count as doing nothing before their first request
// (the TLS handshake included) and between requests.
func (l *Listener) idlest(source string) *conn {
	var best *conn
	bestCount := 0
	for c := range l.conns {
		if source != "" && c.source != source || !c.evictable() {
			continue
		}
		n := l.bySource[c.source]
		if best == nil || n > bestCount || n == bestCount && c.since.Before(best.since) {
			best, bestCount = c, n
		}
	}
	return best
}

// removeLocked forgets c; it is idempotent.
func (l *Listener) removeLocked(c *conn) {
	if _, ok := l.conns[c]; !ok {
		return
	}
	delete(l.conns, c)
	if l.bySource[c.source]--; l.bySource[c.source] <= 0 {
		delete(l.bySource, c.source)
	}
}

// ConnState is for http.Server.ConnState: it tracks which connections are
// busy. Pass it on if the server needs the callback for itself too.
func (l *Listener) ConnState(nc net.Conn, state http.ConnState) {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	c, ok := nc.(*conn)
	if !ok || c.l != l {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	c.state, c.since = state, l.now()
	if state == http.StateClosed {
		l.removeLocked(c)
	}
}

// conn is one held connection.
type conn struct {
	net.Conn
	l      *Listener
	source string
	// state and since (guarded by l.mu) are the connection's last
	// http.ConnState and when it entered it.
	state http.ConnState
	since time.Time
	once  sync.Once
}

func (c *conn) evictable() bool { return c.state == http.StateNew || c.state == http.StateIdle }

// Close closes the connection and frees its slot.
func (c *conn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.removeLocked(c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// sourceOf is the IP address of a remote address.
func sourceOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	if h, _, err := net.SplitHostPort(a.String()); err == nil {
		return h
	}
	return a.String()
}
