package harness

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/test/testkit"
)

// Process is a started program whose output goes to a Log. It is stopped
// when the test ends.
type Process struct {
	t      testing.TB
	name   string
	cmd    *exec.Cmd
	log    *testkit.Log
	exited chan error
	// CleanExit makes Stop fail the test unless the program exits with
	// status 0 after SIGTERM (a daemon's promise); on by default.
	CleanExit bool
}

// Start runs cmd with its standard output and error going to log, and
// stops it (Stop) when the test ends.
func Start(t testing.TB, log *testkit.Log, cmd *exec.Cmd) *Process {
	t.Helper()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	p := &Process{t: t, name: cmd.Path, cmd: cmd, log: log, exited: make(chan error, 1), CleanExit: true}
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(p.Stop)
	return p
}

// Pid is the process ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Cmd is the started command, for its PID and signals; the Process waits
// for it, so nothing else may.
func (p *Process) Cmd() *exec.Cmd { return p.cmd }

// Exited reports whether the process has ended, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case err := <-p.exited:
		p.exited <- err
		return true, err
	default:
		return false, nil
	}
}

// WaitReady polls ready every 50 ms until it holds; it fails the test with
// the process's output if the process exits first or the time is up.
func (p *Process) WaitReady(within time.Duration, what string, ready func() bool) {
	p.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if gone, err := p.Exited(); gone {
			p.t.Fatalf("%s exited before %s: %v\n%s", p.name, what, err, p.log.Tail(64<<10))
		}
		if ready() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("%s: not %s within %v\n%s", p.name, what, within, p.log.Tail(64<<10))
}

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Errorf("signal %s: %v", p.name, err)
	}
}

// Stop sends SIGTERM and waits up to 10 s; with CleanExit the process must
// exit with status 0. It does nothing once the process has ended.
func (p *Process) Stop() {
	if gone, _ := p.Exited(); gone {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		p.exited <- err
		if err != nil && p.CleanExit {
			p.t.Errorf("%s did not exit cleanly on SIGTERM: %v\n%s", p.name, err, p.log.Tail(64<<10))
		}
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
		p.exited <- fmt.Errorf("killed")
		p.t.Errorf("%s ignored SIGTERM for 10s\n%s", p.name, p.log.Tail(64<<10))
	}
}

// Kill sends SIGKILL and waits for the process to end.
func (p *Process) Kill() {
	if gone, _ := p.Exited(); gone {
		return
	}
	p.cmd.Process.Kill()
	err := <-p.exited
	p.exited <- err
}
