package exechook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/power"
	"github.com/powerjockey/powerjockey/test/testkit"
)

var (
	_ power.Actuator = (*Hooks)(nil)
	_ power.Sensor   = (*Hooks)(nil)
)

func newHooks(cfg Config) (*Hooks, *testkit.Records) {
	lc := testkit.NewRecords()
	cfg.Logger = slog.New(lc)
	if cfg.Node == "" {
		cfg.Node = "node-7"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	return New(cfg), lc
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestEnvironment: every hook learns its node and action from the environment.
func TestEnvironment(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "env")
	cmd := `printf '%s %s\n' "$POWERJOCKEY_NODE" "$POWERJOCKEY_ACTION" >> ` + out
	h, _ := newHooks(Config{
		Commands: map[power.Action]string{
			power.On: cmd, power.Off: cmd, power.SoftOff: cmd, power.Cycle: cmd, power.Reset: cmd, power.Diag: cmd,
		},
		Status: cmd,
	})
	want := []string{}
	for _, a := range []power.Action{power.On, power.Off, power.SoftOff, power.Cycle, power.Reset, power.Diag} {
		if !h.Supports(a) {
			t.Errorf("Supports(%v) = false", a)
		}
		cont, err := h.Do(ctx(t), a)
		if err != nil || cont != nil {
			t.Fatalf("Do(%v) = %v, %v", a, cont, err)
		}
		want = append(want, "node-7 "+a.String())
	}
	if _, err := h.Read(ctx(t)); err != nil {
		t.Fatal(err)
	}
	want = append(want, "node-7 status")
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Split(strings.TrimSpace(string(b)), "\n"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("hooks saw %q, want %q", got, want)
	}
}

// TestInheritsEnvironment: the daemon's own environment reaches the hook.
func TestInheritsEnvironment(t *testing.T) {
	t.Setenv("PJ_TEST_INHERITED", "yes")
	h, lc := newHooks(Config{Commands: map[power.Action]string{power.On: `echo "inherited=$PJ_TEST_INHERITED"`}})
	if _, err := h.Do(ctx(t), power.On); err != nil {
		t.Fatal(err)
	}
	if got := lc.Last(t).Attrs["output"]; got != "inherited=yes" {
		t.Errorf("output %q", got)
	}
}

// TestExitStatus: exit 0 confirms an action; anything else is an error
// that names the node, the action and the status.
func TestExitStatus(t *testing.T) {
	tests := []struct {
		cmd     string
		wantErr string // "" = success
		exit    string // logged exit code
	}{
		{"true", "", "0"},
		{"exit 0", "", "0"},
		{"false", "exited with status 1", "1"},
		{"exit 3", "exited with status 3", "3"},
		{"exit 255", "exited with status 255", "255"},
		{"no-such-command-pj", "exited with status 127", "127"},
		{"kill -TERM $$", "exited with status -1", "-1"}, // killed by a signal
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			h, lc := newHooks(Config{Commands: map[power.Action]string{power.Off: tt.cmd}})
			_, err := h.Do(ctx(t), power.Off)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Do: %v", err)
				}
			} else {
				if err == nil {
					t.Fatal("Do succeeded")
				}
				for _, want := range []string{tt.wantErr, "node-7", "off"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not contain %q", err, want)
					}
				}
				if errors.Is(err, power.ErrTimeout) {
					t.Errorf("error %q wraps ErrTimeout", err)
				}
			}
			r := lc.Last(t)
			if r.Message != "exec hook finished" || r.Attrs["exit"] != tt.exit {
				t.Errorf("logged %q exit=%q, want exec hook finished exit=%s", r.Message, r.Attrs["exit"], tt.exit)
			}
			if r.Attrs["node"] != "node-7" || r.Attrs["hook"] != "off" || r.Attrs["duration"] == "" {
				t.Errorf("log attributes %v", r.Attrs)
			}
		})
	}
}

// TestOutputLogged: stdout and stderr are captured into the log, trimmed
// and bounded.
func TestOutputLogged(t *testing.T) {
	tests := []struct {
		name string
		cmd  string
		want string // "" = no output attribute
		max  int    // checks only the length when > 0
	}{
		{"stdout", "echo hello", "hello", 0},
		{"stderr", "echo oops >&2; exit 2", "oops", 0},
		{"both in order", "echo one; echo two >&2; echo three", "one\ntwo\nthree", 0},
		{"trimmed", "printf '\\n  spaced  \\n\\n'", "spaced", 0},
		{"silent", "true", "", 0},
		{"bounded", "head -c 100000 /dev/zero | tr '\\0' x", "", maxOutput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, lc := newHooks(Config{Commands: map[power.Action]string{power.On: tt.cmd}})
			h.Do(ctx(t), power.On)
			r := lc.Last(t)
			out, has := r.Attrs["output"]
			switch {
			case tt.max > 0:
				if len(out) != tt.max {
					t.Errorf("output of %d bytes logged, want %d", len(out), tt.max)
				}
			case tt.want == "":
				if has {
					t.Errorf("output %q logged for a silent hook", out)
				}
			case out != tt.want:
				t.Errorf("output %q, want %q", out, tt.want)
			}
		})
	}
}

// TestStatus: the status hook's exit code is the state: 0 on, 1 off,
// anything else an error.
func TestStatus(t *testing.T) {
	tests := []struct {
		cmd   string
		want  power.State
		isErr bool
	}{
		{"exit 0", power.StateOn, false},
		{"exit 1", power.StateOff, false},
		{"exit 2", power.Unknown, true},
		{"exit 127", power.Unknown, true},
		{"kill -KILL $$", power.Unknown, true},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			h, lc := newHooks(Config{Status: tt.cmd})
			if !h.HasStatus() {
				t.Error("HasStatus = false")
			}
			r, err := h.Read(ctx(t))
			if (err != nil) != tt.isErr {
				t.Fatalf("Read: %v, want error %v", err, tt.isErr)
			}
			if err != nil && !strings.Contains(err.Error(), "node-7") {
				t.Errorf("error %q does not name the node", err)
			}
			if r.State != tt.want {
				t.Errorf("state %v, want %v", r.State, tt.want)
			}
			if err == nil && (r.Source != "exec" || time.Since(r.At) > 10*time.Second) {
				t.Errorf("reading %+v", r)
			}
			if got := lc.Last(t).Attrs["hook"]; got != "status" {
				t.Errorf("logged hook %q, want status", got)
			}
		})
	}
	if h, _ := newHooks(Config{}); h.HasStatus() {
		t.Error("HasStatus without a status command")
	}
}

// alive reports whether pid names a live (not zombie) process.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

// TestTimeoutKillsProcessGroup: a hook that outlives its timeout is killed
// with all its children, and the error wraps power.ErrTimeout.
func TestTimeoutKillsProcessGroup(t *testing.T) {
	for _, tt := range []struct {
		name string
		read bool
	}{{"action", false}, {"status", true}} {
		t.Run(tt.name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pid")
			// The child inherits the output pipe; a hook that kills only the
			// shell would leave it running and the pipe open.
			cmd := "sleep 30 & echo $! > " + pidFile + "; echo started; wait"
			const timeout = 300 * time.Millisecond
			h, lc := newHooks(Config{Commands: map[power.Action]string{power.Cycle: cmd}, Status: cmd, Timeout: timeout})
			start := time.Now()
			var err error
			if tt.read {
				_, err = h.Read(ctx(t))
			} else {
				_, err = h.Do(ctx(t), power.Cycle)
			}
			took := time.Since(start)
			if !errors.Is(err, power.ErrTimeout) {
				t.Errorf("error %v, want one wrapping power.ErrTimeout", err)
			}
			if took < timeout || took > timeout+2*time.Second {
				t.Errorf("returned after %v, want soon after %v", took, timeout)
			}
			b, rerr := os.ReadFile(pidFile)
			if rerr != nil {
				t.Fatalf("the hook did not start its child: %v", rerr)
			}
			pid, rerr := strconv.Atoi(strings.TrimSpace(string(b)))
			if rerr != nil {
				t.Fatal(rerr)
			}
			deadline := time.Now().Add(2 * time.Second)
			for alive(pid) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if alive(pid) {
				syscall.Kill(pid, syscall.SIGKILL)
				t.Errorf("the hook's child %d survived the timeout", pid)
			}
			r := lc.Last(t)
			if r.Level != slog.LevelError || r.Message != "exec hook timed out" {
				t.Errorf("logged %v %q, want an error that the hook timed out", r.Level, r.Message)
			}
			if r.Attrs["output"] != "started" {
				t.Errorf("output %q, want the output written before the timeout", r.Attrs["output"])
			}
		})
	}
}

// TestBackgroundChild: a hook that exits but leaves a child holding its
// output open is judged by its exit status, after a bounded wait.
func TestBackgroundChild(t *testing.T) {
	for _, tt := range []struct {
		name    string
		exit    string
		wantErr string
	}{
		{"exit 0", "exit 0", ""},
		{"exit 4", "exit 4", "exited with status 4"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pid")
			h, lc := newHooks(Config{Commands: map[power.Action]string{
				power.On: "sleep 5 & echo $! > '" + pidFile + "'; echo started; " + tt.exit,
			}})
			t.Cleanup(func() {
				if b, err := os.ReadFile(pidFile); err == nil {
					if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
						syscall.Kill(pid, syscall.SIGKILL)
					}
				}
			})
			start := time.Now()
			_, err := h.Do(ctx(t), power.On)
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("returned after %v", took)
			}
			if tt.wantErr == "" && err != nil {
				t.Errorf("Do: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Do: %v, want %q", err, tt.wantErr)
			}
			if got := lc.All(); len(got) == 0 || got[len(got)-1].Attrs["output"] != "started" {
				t.Errorf("logged %+v, want the output", got)
			}
		})
	}
}

// TestCancelled: a hook whose caller gives up is killed; the error is the
// context's, not an exit status.
func TestCancelled(t *testing.T) {
	h, _ := newHooks(Config{Commands: map[power.Action]string{power.On: "sleep 30"}})
	c, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := h.Do(c, power.On)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("returned after %v", took)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Do: %v, want context.Canceled", err)
	}
}

// TestUnsupported: an action without a command is not supported and runs nothing.
func TestUnsupported(t *testing.T) {
	h, lc := newHooks(Config{Commands: map[power.Action]string{power.On: "true", power.Off: ""}})
	if h.Name() != "exec" {
		t.Errorf("Name = %q", h.Name())
	}
	for _, a := range []power.Action{power.Off, power.SoftOff, power.Cycle, power.Reset, power.Diag} {
		if h.Supports(a) {
			t.Errorf("Supports(%v)", a)
		}
		if _, err := h.Do(ctx(t), a); !errors.Is(err, power.ErrUnsupported) {
			t.Errorf("Do(%v): %v, want ErrUnsupported", a, err)
		}
	}
	if n := len(lc.All()); n != 0 {
		t.Errorf("%d hooks ran", n)
	}
}

// TestNilLogger: a Hooks without a logger discards its logs.
func TestNilLogger(t *testing.T) {
	h := New(Config{Node: "n", Commands: map[power.Action]string{power.On: "echo hi"}, Timeout: 10 * time.Second})
	if _, err := h.Do(ctx(t), power.On); err != nil {
		t.Fatal(err)
	}
}

func TestLimitedBuffer(t *testing.T) {
	var b limitedBuffer
	chunk := bytes.Repeat([]byte("y"), 5000)
	for range 5 {
		if n, err := b.Write(chunk); n != len(chunk) || err != nil {
			t.Fatalf("Write = %d, %v; want the whole chunk accepted", n, err)
		}
	}
	if b.Len() != maxOutput {
		t.Errorf("kept %d bytes, want %d", b.Len(), maxOutput)
	}
	// io.Copy, which os/exec uses, prefers ReadFrom to Write: the buffer
	// must not offer an unbounded one.
	if _, ok := any(&b).(io.ReaderFrom); ok {
		t.Error("limitedBuffer implements io.ReaderFrom, bypassing its limit")
	}
}
