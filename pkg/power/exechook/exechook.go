// Package exechook runs operator-supplied commands as a power means: an
// `ssh root@host poweroff` for a soft off, a smart plug's HTTP API through
// curl, anything a shell can do. Each command gets a timeout and learns the
// node and action from its environment; its output is logged. A command
// never inherits the daemon's capabilities (see startUnprivileged).
package exechook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/powerjockey/powerjockey/pkg/power"
)

// maxOutput bounds how much of a command's output is kept for the log.
const maxOutput = 16 << 10

// Config describes one node's hooks.
type Config struct {
	Node string
	// Commands maps each supported action to a /bin/sh -c command line.
	Commands map[power.Action]string
	// Status, if set, reads the power state: exit 0 = on, exit 1 = off.
	Status  string
	Timeout time.Duration
	Logger  *slog.Logger
}

// Hooks is an actuator and sensor backed by shell commands.
type Hooks struct{ cfg Config }

// New returns hooks for cfg.
func New(cfg Config) *Hooks {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Hooks{cfg: cfg}
}

// Name implements power.Actuator and power.Sensor.
func (h *Hooks) Name() string { return "exec" }

// Supports implements power.Actuator.
func (h *Hooks) Supports(a power.Action) bool { return h.cfg.Commands[a] != "" }

// Do runs the action's command to completion: its exit status is the confirmation.
func (h *Hooks) Do(ctx context.Context, a power.Action) (power.Continuation, error) {
	cmd := h.cfg.Commands[a]
	if cmd == "" {
		return nil, fmt.Errorf("exec: %w: %s", power.ErrUnsupported, a)
	}
	code, err := h.run(ctx, a.String(), cmd)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, fmt.Errorf("exec %s hook for %s exited with status %d", a, h.cfg.Node, code)
	}
	return nil, nil
}

// HasStatus reports whether a status command is configured.
func (h *Hooks) HasStatus() bool { return h.cfg.Status != "" }

// Read implements power.Sensor with the status command.
func (h *Hooks) Read(ctx context.Context) (power.Reading, error) {
	code, err := h.run(ctx, "status", h.cfg.Status)
	if err != nil {
		return power.Reading{}, err
	}
	r := power.Reading{Source: "exec", At: time.Now()}
	switch code {
	case 0:
		r.State = power.StateOn
	case 1:
		r.State = power.StateOff
	default:
		return r, fmt.Errorf("exec status hook for %s exited with status %d (want 0 = on, 1 = off)", h.cfg.Node, code)
	}
	return r, nil
}

// run executes command and returns its exit code; err is for failures to
// run at all (including the timeout).
func (h *Hooks) run(ctx context.Context, action, command string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	start := time.Now()
	c := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	c.Env = append(os.Environ(), "POWERJOCKEY_NODE="+h.cfg.Node, "POWERJOCKEY_ACTION="+action)
	// A process group lets the timeout kill the command's children too
	// (an ssh that hangs inside a pipeline, say).
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = time.Second
	var out limitedBuffer
	c.Stdout, c.Stderr = &out, &out
	err := startUnprivileged(c)
	if err == nil {
		err = c.Wait()
	}
	code := c.ProcessState.ExitCode()
	log := h.cfg.Logger.With("node", h.cfg.Node, "hook", action, "duration", time.Since(start).Round(time.Millisecond))
	if text := strings.TrimSpace(out.String()); text != "" {
		log = log.With("output", text)
	}
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		log.Error("exec hook timed out", "timeout", h.cfg.Timeout)
		return -1, fmt.Errorf("exec %s hook for %s: %w after %s", action, h.cfg.Node, power.ErrTimeout, h.cfg.Timeout)
	}
	if err := ctx.Err(); err != nil {
		// The caller gave up and the hook was killed: its exit status
		// (-1, by signal) says nothing about the hook.
		log.Warn("exec hook cancelled", "err", err)
		return -1, fmt.Errorf("exec %s hook for %s: %w", action, h.cfg.Node, err)
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil, errors.As(err, &exitErr):
	case errors.Is(err, exec.ErrWaitDelay) && c.ProcessState != nil:
		// The hook exited, but a child it left in the background still
		// held its output open: the exit status stands.
		log.Warn("exec hook left a background process holding its output; output after exit not captured")
	default:
		log.Error("exec hook failed to run", "err", err)
		return -1, fmt.Errorf("exec %s hook for %s: %w", action, h.cfg.Node, err)
	}
	log.Info("exec hook finished", "exit", code)
	return code, nil
}

// limitedBuffer keeps the first maxOutput bytes written to it. It has only
// Write: embedding bytes.Buffer would promote its ReadFrom, which io.Copy
// (and so os/exec) prefers to Write, and which has no limit.
type limitedBuffer struct{ buf bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxOutput - b.buf.Len(); room > 0 {
		if len(p) > room {
			b.buf.Write(p[:room])
		} else {
			b.buf.Write(p)
		}
	}
	return len(p), nil
}

// Len returns how many bytes were kept.
func (b *limitedBuffer) Len() int { return b.buf.Len() }

func (b *limitedBuffer) String() string { return b.buf.String() }
