package console

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/console/consoletest"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// run starts c until the test ends.
func run(t *testing.T, c *Console) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// readUntil drains s until its output contains want (bounded in time).
func readUntil(t *testing.T, s *Session, want string) string {
	t.Helper()
	var got bytes.Buffer
	buf := make([]byte, 512)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		n, err := s.ReadAvailable(buf)
		if err != nil {
			t.Fatal(err)
		}
		got.Write(buf[:n])
		if strings.Contains(got.String(), want) {
			return got.String()
		}
		if n == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	t.Fatalf("no %q in console output %q", want, got.String())
	return ""
}

func TestTCPConsole(t *testing.T) {
	echo := consoletest.NewEchoConsole(t)
	c, err := New(Config{Name: "n1", TCP: echo.Addr(), History: 64})
	if err != nil {
		t.Fatal(err)
	}
	run(t, c)
	testkit.Eventually(t, 10*time.Second, "connection", c.Connected)
	echo.Print("BIOS boot\r\n")
	testkit.Eventually(t, 10*time.Second, "history", func() bool { return strings.Contains(string(c.History()), "BIOS boot") })

	s, err := c.Attach(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The session starts with the history, then sees live output and
	// what it types (the echo console echoes).
	readUntil(t, s, "BIOS boot")
	if n, err := s.Write([]byte("root\r")); err != nil || n != 5 {
		t.Fatalf("Write = %d, %v", n, err)
	}
	readUntil(t, s, "root\r")
	if err := s.SendBreak(context.Background()); !errors.Is(err, ErrNoBreak) {
		t.Errorf("SendBreak on TCP = %v", err)
	}

	// One session at a time; the next may attach once it is closed.
	if _, err := c.Attach(context.Background()); !errors.Is(err, ErrBusy) {
		t.Fatalf("second Attach = %v, want ErrBusy", err)
	}
	s.Close()
	if _, err := s.ReadAvailable(make([]byte, 8)); err == nil {
		t.Error("a closed session still reads")
	}
	s2, err := c.Attach(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()

	// The console server drops the connection: it is reopened, and the
	// session stays attached across it.
	echo.Drop()
	testkit.Eventually(t, 10*time.Second, "reconnection", func() bool { return echo.Connections() >= 2 && c.Connected() })
	echo.Print("after reconnect\r\n")
	readUntil(t, s2, "after reconnect")
}

func TestHistoryIsBounded(t *testing.T) {
	r := ring{limit: 8}
	r.write([]byte("0123"))
	r.write([]byte("456789"))
	if got := string(r.bytes()); got != "23456789" {
		t.Errorf("history %q", got)
	}
	r.write([]byte("abcdefghijkl"))
	if got := string(r.bytes()); got != "efghijkl" {
		t.Errorf("history %q", got)
	}
	none := ring{}
	none.write([]byte("x"))
	if len(none.bytes()) != 0 {
		t.Error("history kept with limit 0")
	}
}

func TestSlowSessionDropsOldest(t *testing.T) {
	c := &Console{history: ring{limit: 4}}
	s, err := c.Attach(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.limit = 6
	c.output([]byte("abcdefgh"))
	buf := make([]byte, 16)
	n, _ := s.ReadAvailable(buf)
	if got := string(buf[:n]); got != "cdefgh" {
		t.Errorf("session read %q", got)
	}
}

func TestWriteWhileDisconnected(t *testing.T) {
	c, err := New(Config{Name: "n1", TCP: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Attach(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.Write([]byte("x")); n != 0 || err != nil {
		t.Errorf("Write while disconnected = %d, %v; want 0 taken, no error", n, err)
	}
}

func TestCommandConsole(t *testing.T) {
	c, err := New(Config{Name: "n1", Command: "echo console up; exec cat", History: 1024})
	if err != nil {
		t.Fatal(err)
	}
	run(t, c)
	testkit.Eventually(t, 10*time.Second, "command output", func() bool { return strings.Contains(string(c.History()), "console up") })
	s, err := c.Attach(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Write([]byte("typed\n")); err != nil {
		t.Fatal(err)
	}
	readUntil(t, s, "typed")
}

func TestCommandRestartsWhenItExits(t *testing.T) {
	dir := t.TempDir()
	c, err := New(Config{Name: "n1", Command: "echo start >> " + dir + "/runs; echo hello", History: 1024})
	if err != nil {
		t.Fatal(err)
	}
	run(t, c)
	testkit.Eventually(t, 10*time.Second, "a restart", func() bool {
		b, _ := os.ReadFile(dir + "/runs")
		return strings.Count(string(b), "start") >= 2
	})
}

func TestSerialDevice(t *testing.T) {
	ptmx, tty := consoletest.OpenPTY(t)
	c, err := New(Config{Name: "n1", Device: tty, Baud: 9600, History: 1024})
	if err != nil {
		t.Fatal(err)
	}
	run(t, c)
	testkit.Eventually(t, 10*time.Second, "device open", c.Connected)
	s, err := c.Attach(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The machine's side writes; the session reads it, raw (no CR/LF
	// translation, no echo).
	if _, err := ptmx.Write([]byte("login: \n")); err != nil {
		t.Fatal(err)
	}
	readUntil(t, s, "login: \n")
	if _, err := s.Write([]byte("root\r")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 0, 8)
	buf := make([]byte, 8)
	ptmx.SetReadDeadline(time.Now().Add(5 * time.Second))
	for !bytes.Contains(got, []byte("root\r")) {
		n, err := ptmx.Read(buf)
		if err != nil {
			t.Fatalf("read from the machine's side: %v (got %q)", err, got)
		}
		got = append(got, buf[:n]...)
	}
	if err := s.SendBreak(context.Background()); err != nil {
		t.Errorf("SendBreak on a serial device: %v", err)
	}
}

func TestMissingDeviceIsRetried(t *testing.T) {
	c, err := New(Config{Name: "n1", Device: "/dev/powerjockey-no-such-tty"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	c.Run(ctx) // returns when ctx ends; never fails the caller
	if c.Connected() {
		t.Error("connected to a missing device")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Name: "a"},
		{Name: "a", TCP: "x:1", Device: "/dev/ttyS0"},
		{Name: "a", Device: "/dev/ttyS0", Baud: 12345},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}
