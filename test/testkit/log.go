package testkit

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Log collects output written from several goroutines (a daemon's log, a
// process's output) for assertions and failure messages. The zero value is
// ready; it may outlive one writer (a daemon restarted by a test logs into
// the same Log).
type Log struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Lines returns the lines containing s.
func (l *Log) Lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(l.String()))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			out = append(out, sc.Text())
		}
	}
	return out
}

// Tail returns at most the last n bytes, cut at a line start.
func (l *Log) Tail(n int) string {
	s := l.String()
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return "[...]\n" + s
}

// NewLogger returns a logger writing text lines at debug level into a Log.
func NewLogger() (*slog.Logger, *Log) {
	l := &Log{}
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug})), l
}

// Record is one captured log record, its attributes (those of the logger's
// With too) as strings.
type Record struct {
	Level   slog.Level
	Message string
	Attrs   map[string]string
}

// String is the record as "LEVEL message key=value ...", attributes in
// key order.
func (r Record) String() string {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range r.Attrs {
			if !yield(k) {
				return
			}
		}
	}) {
		b.WriteString(" " + k + "=" + r.Attrs[k])
	}
	return b.String()
}

// Records is a slog.Handler that keeps every record, for tests that look
// at what was logged and with which attributes.
type Records struct {
	mu   *sync.Mutex
	all  *[]Record
	with []slog.Attr
}

// NewRecords returns an empty recorder; slog.New(r) logs into it.
func NewRecords() *Records { return &Records{mu: &sync.Mutex{}, all: &[]Record{}} }

// Enabled implements slog.Handler: every level is kept.
func (h *Records) Enabled(context.Context, slog.Level) bool { return true }

// Handle implements slog.Handler.
func (h *Records) Handle(_ context.Context, r slog.Record) error {
	rec := Record{Level: r.Level, Message: r.Message, Attrs: map[string]string{}}
	for _, a := range h.with {
		rec.Attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs[a.Key] = a.Value.String()
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.all = append(*h.all, rec)
	return nil
}

// WithAttrs implements slog.Handler: the attributes go into every record
// logged through the returned handler, into the same recorder.
func (h *Records) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.with = append(slices.Clone(h.with), attrs...)
	return &c
}

// WithGroup implements slog.Handler; groups are not kept apart.
func (h *Records) WithGroup(string) slog.Handler { return h }

// All returns every record so far, oldest first.
func (h *Records) All() []Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(*h.all)
}

// Messages returns the attributes of every record with message msg.
func (h *Records) Messages(msg string) []map[string]string {
	var out []map[string]string
	for _, r := range h.All() {
		if r.Message == msg {
			out = append(out, r.Attrs)
		}
	}
	return out
}

// Has reports whether a record's String contains s.
func (h *Records) Has(s string) bool {
	return slices.ContainsFunc(h.All(), func(r Record) bool { return strings.Contains(r.String(), s) })
}

// Last returns the last record, failing the test when there is none.
func (h *Records) Last(t testing.TB) Record {
	t.Helper()
	all := h.All()
	if len(all) == 0 {
		t.Fatal("nothing was logged")
	}
	return all[len(all)-1]
}
