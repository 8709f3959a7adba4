package console

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"time"
)

// commandLink is a command whose standard input and output (and error,
// as a terminal would show it) are the console, such as
// `virsh console --force vm1` or `socat - UNIX-CONNECT:/run/vm1.sock`.
type commandLink struct {
	cmd    *exec.Cmd
	stdin  *os.File
	stdout *os.File
	done   chan struct{}
}

func startCommand(ctx context.Context, command string) (link, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, outW
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		for _, f := range []*os.File{inR, inW, outR, outW} {
			f.Close()
		}
		return nil, err
	}
	// The child holds its ends; ours would keep the pipes open after it exits.
	inR.Close()
	outW.Close()
	l := &commandLink{cmd: cmd, stdin: inW, stdout: outR, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(l.done)
	}()
	return l, nil
}

func (l *commandLink) Read(p []byte) (int, error) {
	n, err := l.stdout.Read(p)
	if errors.Is(err, io.EOF) {
		<-l.done
		if st := l.cmd.ProcessState; st != nil {
			return n, errors.New("console command exited: " + st.String())
		}
	}
	return n, err
}

func (l *commandLink) Write(p []byte) (int, error) { return l.stdin.Write(p) }

// Close stops the command: its input closes, then it is killed if it
// does not exit by itself.
func (l *commandLink) Close() error {
	l.stdin.Close()
	select {
	case <-l.done:
	case <-time.After(time.Second):
		_ = l.cmd.Process.Kill()
		<-l.done
	}
	return l.stdout.Close()
}

func (l *commandLink) setWriteDeadline(t time.Time) error { return l.stdin.SetWriteDeadline(t) }
func (l *commandLink) sendBreak() error                   { return ErrNoBreak }
