// Package audit writes the security audit lines of the protocol faces
// (refused logins, refused requests) to the log, rate-limited per source
// address, so that a flood of bad logins is visible without filling the
// disk. Lines carry the same attributes as the node layer's audit lines
// of power and boot changes: channel, source and user.
package audit

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Defaults of a Log: at most PerSource lines of one kind (message) per
// source address and Total lines in all per Window. With the defaults a flood from any number of
// addresses writes at most 120 lines (some 30 KB) a minute.
const (
	DefaultPerSource = 10
	DefaultTotal     = 120
	DefaultWindow    = time.Minute
	// maxSources bounds the per-source table; beyond it new sources are
	// held to the total only.
	maxSources = 4096
)

// Options configure a Log; zero values take the defaults.
type Options struct {
	PerSource int
	Total     int
	Window    time.Duration
	// Now is the clock (tests use a fake one).
	Now func() time.Time
}

// Log writes audit lines for one channel ("redfish", "http", "ipmi").
type Log struct {
	log     *slog.Logger
	channel string
	opt     Options

	mu         sync.Mutex
	sources    map[string]*window
	total      window
	lastExpiry time.Time
}

type window struct {
	start      time.Time
	n          int // lines written in this window
	suppressed int // lines dropped in this window
}

// New returns an audit log for channel writing to log.
func New(log *slog.Logger, channel string, opt Options) *Log {
	if opt.PerSource <= 0 {
		opt.PerSource = DefaultPerSource
	}
	if opt.Total <= 0 {
		opt.Total = DefaultTotal
	}
	if opt.Window <= 0 {
		opt.Window = DefaultWindow
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Log{log: log, channel: channel, opt: opt, sources: map[string]*window{}}
}

// Write logs msg at level for a request from source (host or host:port)
// by user ("" when unknown), with attrs after the audit attributes, unless
// the source's lines of this kind (msg) or the channel as a whole are over
// their rate. The first such line after a window in which some were
// dropped says how many ("suppressed"). It reports whether the line was
// written.
func (l *Log) Write(ctx context.Context, level slog.Level, msg, source, user string, attrs ...any) bool {
	// Each kind of line has its own budget per address, so that requests
	// without credentials, say, do not hide the refused logins that
	// follow them; the total bounds them all.
	ok, suppressed, dropped := l.allow(hostOf(source) + "\x00" + msg)
	if dropped > 0 {
		l.log.Log(ctx, slog.LevelWarn, "audit lines suppressed by the rate limit", "channel", l.channel,
			"suppressed", dropped, "window", l.opt.Window, "per_source", l.opt.PerSource, "total", l.opt.Total)
	}
	if !ok {
		return false
	}
	all := make([]any, 0, 8+len(attrs))
	all = append(all, "audit", true, "channel", l.channel, "source", source, "user", user)
	all = append(all, attrs...)
	if suppressed > 0 {
		all = append(all, "suppressed", suppressed)
	}
	l.log.Log(ctx, level, msg, all...)
	return true
}

// allow takes one line of host's budget and the channel's; suppressed is
// the number of lines of host dropped since its last written line, dropped
// the number of the channel's lines dropped in the window that just ended
// (reported once, when the next window starts).
func (l *Log) allow(host string) (ok bool, suppressed, dropped int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.opt.Now()
	if now.Sub(l.total.start) >= l.opt.Window {
		dropped = l.total.suppressed
		l.total = window{start: now}
	}
	w := l.sources[host]
	if w == nil {
		// A full table is swept at most once a window: a flood from
		// many addresses must not make every line a scan of the table.
		if len(l.sources) >= maxSources && now.Sub(l.lastExpiry) >= l.opt.Window {
			l.lastExpiry = now
			l.expireLocked(now)
		}
		if len(l.sources) < maxSources {
			w = &window{start: now}
			l.sources[host] = w
		}
	} else if now.Sub(w.start) >= l.opt.Window {
		w.start, w.n = now, 0
	}
	if l.total.n >= l.opt.Total || w != nil && w.n >= l.opt.PerSource {
		l.total.suppressed++
		if w != nil {
			w.suppressed++
		}
		return false, 0, dropped
	}
	l.total.n++
	if w == nil {
		return true, 0, dropped
	}
	w.n++
	suppressed, w.suppressed = w.suppressed, 0
	return true, suppressed, dropped
}

// expireLocked forgets sources whose window ended with nothing dropped,
// and any source silent for ten windows (its count of dropped lines was
// reported in the channel's summary line).
func (l *Log) expireLocked(now time.Time) {
	for h, w := range l.sources {
		if age := now.Sub(w.start); age >= l.opt.Window && w.suppressed == 0 || age >= 10*l.opt.Window {
			delete(l.sources, h)
		}
	}
}

// hostOf is the address part of host:port (the whole string otherwise).
func hostOf(source string) string {
	if h, _, err := net.SplitHostPort(source); err == nil {
		return h
	}
	return source
}
