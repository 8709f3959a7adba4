package ipmi

import (
	"fmt"
	"net/netip"
	"time"
)

// refusedLogin writes the audit line of a refused login, at most a few a
// minute per source address (the count of suppressed lines rides on the
// next one), so a flood of failures cannot fill the disk.
func (g *Guard) refusedLogin(ep *Endpoint, src netip.Addr, user, reason string) {
	g.mu.Lock()
	ok, suppressed := g.logs.allow("login/"+src.String(), g.now())
	g.mu.Unlock()
	if !ok {
		return
	}
	attrs := []any{"channel", "ipmi", "source", src.String(), "user", user, "reason", reason}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	ep.log.Warn("login refused", attrs...)
}

// panicked counts a recovered panic and logs it at most once a minute per
// source (or per endpoint when the source is unknown).
func (g *Guard) panicked(ep *Endpoint, source, where string, p any, detail ...any) {
	ep.obs.Panic(ep.Name(), where)
	g.mu.Lock()
	ok, suppressed := g.logs.allowOncePerMinute("panic/"+ep.Name()+"/"+source, g.now())
	g.mu.Unlock()
	if !ok {
		return
	}
	attrs := append([]any{"where", where, "source", source, "panic", fmt.Sprint(p), "suppressed", suppressed}, detail...)
	ep.log.Error("recovered from a panic; only this datagram was lost", attrs...)
}

// logLimiter rate-limits log lines by key. It is used under Guard.mu.
type logLimiter struct {
	keys   map[string]*logKey
	global bucket
}

type logKey struct {
	b          bucket
	last       time.Time
	suppressed int
}

var (
	perSourceLogs = Budget{Rate: 10.0 / 60, Burst: 10} // ten lines a minute per source
	globalLogs    = Budget{Rate: 20, Burst: 200}
)

const maxLogKeys = 4096

func (l *logLimiter) key(k string, now time.Time) *logKey {
	if l.keys == nil {
		l.keys = make(map[string]*logKey)
	}
	e, ok := l.keys[k]
	if !ok {
		if len(l.keys) >= maxLogKeys {
			for x, v := range l.keys {
				if now.Sub(v.last) > 2*time.Minute {
					delete(l.keys, x)
				}
			}
			if len(l.keys) >= maxLogKeys {
				clear(l.keys)
			}
		}
		e = &logKey{}
		l.keys[k] = e
	}
	return e
}

// allow reports whether a line for k may be written now, and how many
// were suppressed since the last one.
func (l *logLimiter) allow(k string, now time.Time) (bool, int) {
	e := l.key(k, now)
	e.last = now
	if !e.b.take(perSourceLogs, now) || !l.global.take(globalLogs, now) {
		e.suppressed++
		return false, 0
	}
	n := e.suppressed
	e.suppressed = 0
	return true, n
}

// allowOncePerMinute is allow with a budget of one line a minute.
func (l *logLimiter) allowOncePerMinute(k string, now time.Time) (bool, int) {
	e := l.key(k, now)
	if !e.last.IsZero() && now.Sub(e.last) < time.Minute {
		e.suppressed++
		return false, 0
	}
	e.last = now
	if !l.global.take(globalLogs, now) {
		e.suppressed++
		return false, 0
	}
	n := e.suppressed
	e.suppressed = 0
	return true, n
}
