package audit

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/test/testkit"
)

func newTestLog(opt Options) (*Log, *bytes.Buffer, *testkit.Clock) {
	var buf bytes.Buffer
	clk := testkit.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	opt.Now = clk.Now
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
	return New(logger, "redfish", opt), &buf, clk
}

func lines(buf *bytes.Buffer) []string {
	s := strings.TrimSpace(buf.String())
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// TestAuditLine: the attributes the node layer's audit lines carry, then
// the caller's.
func TestAuditLine(t *testing.T) {
	l, buf, _ := newTestLog(Options{})
	if !l.Write(context.Background(), slog.LevelWarn, "login refused", "192.0.2.9:41234", "admin", "reason", "bad password") {
		t.Fatal("first line not written")
	}
	want := `level=WARN msg="login refused" audit=true channel=redfish source=192.0.2.9:41234 user=admin reason="bad password"`
	if got := lines(buf); len(got) != 1 || got[0] != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// TestRateLimits: per source and in total per window; the next line of a
// source after drops says how many; the channel's drops are summed up once
// the window ends.
func TestRateLimits(t *testing.T) {
	ctx := context.Background()
	l, buf, clk := newTestLog(Options{PerSource: 3, Total: 10, Window: time.Minute})
	written := 0
	for i := range 100 { // one source, many ports
		if l.Write(ctx, slog.LevelWarn, "login refused", fmt.Sprintf("198.51.100.1:%d", 1000+i), "root") {
			written++
		}
	}
	if written != 3 {
		t.Errorf("one source wrote %d lines in a window, want 3", written)
	}
	// Other sources still get their lines, up to the total.
	for i := range 20 {
		if l.Write(ctx, slog.LevelWarn, "login refused", fmt.Sprintf("198.51.100.%d:1", 2+i), "root") {
			written++
		}
	}
	if written != 10 {
		t.Errorf("%d lines in a window, want the total of 10", written)
	}
	if n := len(lines(buf)); n != 10 {
		t.Fatalf("%d lines logged, want 10", n)
	}

	clk.Advance(time.Minute)
	buf.Reset()
	if !l.Write(ctx, slog.LevelWarn, "login refused", "198.51.100.1:9", "root") {
		t.Fatal("a new window does not admit the source again")
	}
	got := lines(buf)
	if len(got) != 2 || !strings.Contains(got[0], `msg="audit lines suppressed by the rate limit" channel=redfish suppressed=110`) ||
		!strings.Contains(got[1], "source=198.51.100.1:9 user=root suppressed=97") {
		t.Errorf("after the window:\n%s", strings.Join(got, "\n"))
	}
	buf.Reset()
	l.Write(ctx, slog.LevelWarn, "login refused", "198.51.100.1:9", "root")
	if got := lines(buf); len(got) != 1 || strings.Contains(got[0], "suppressed") {
		t.Errorf("drops reported twice: %q", got)
	}
}

// TestManySources: the per-source table stays bounded under a flood from
// more addresses than it holds, and the total still caps the lines.
func TestManySources(t *testing.T) {
	l, buf, clk := newTestLog(Options{PerSource: 1, Total: 50})
	for round := range 3 {
		for i := range 2 * maxSources {
			l.Write(context.Background(), slog.LevelInfo, "x", fmt.Sprintf("10.%d.%d.%d", round, i/256, i%256), "")
		}
		clk.Advance(time.Minute)
	}
	if len(l.sources) > maxSources {
		t.Errorf("%d sources tracked, want at most %d", len(l.sources), maxSources)
	}
	if n := len(lines(buf)); n > 3*50+3 {
		t.Errorf("%d lines for 3 windows, want at most %d", n, 3*50+3)
	}
}
