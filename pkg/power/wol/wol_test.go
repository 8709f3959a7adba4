package wol

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mdlayher/wol"

	"github.com/powerjockey/powerjockey/pkg/power"
	"github.com/powerjockey/powerjockey/pkg/sim"
)

var _ power.Actuator = (*Actuator)(nil)

// received is one datagram a listener got.
type received struct {
	packet wol.MagicPacket
	err    error
	at     time.Time
}

// listen binds a UDP socket on loopback and collects what arrives until
// the test ends.
func listen(t *testing.T) (string, <-chan received) {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan received, 256)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			var r received
			r.at = time.Now()
			r.err = r.packet.UnmarshalBinary(bytes.Clone(buf[:n]))
			select {
			case ch <- r:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		c.Close()
		<-done
	})
	return c.LocalAddr().String(), ch
}

// collect returns what arrives on ch until want datagrams came or quiet
// passed without one.
func collect(ch <-chan received, want int, quiet time.Duration) []received {
	var out []received
	for len(out) < want {
		select {
		case r := <-ch:
			out = append(out, r)
		case <-time.After(quiet):
			return out
		}
	}
	// Anything beyond want that arrives shortly after is an error to report.
	select {
	case r := <-ch:
		out = append(out, r)
	case <-time.After(50 * time.Millisecond):
	}
	return out
}

func newUDP(t *testing.T, target string) *UDPSender {
	t.Helper()
	client, err := wol.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return NewUDPSender(client, target)
}

func TestMagicPackets(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x20, 0x30}
	tests := []struct {
		name      string
		password  []byte
		repeat    int
		interval  time.Duration
		wantCount int
	}{
		{"single", nil, 1, 0, 1},
		{"repeat zero sends one", nil, 0, time.Second, 1},
		{"negative repeat sends one", nil, -3, time.Second, 1},
		{"three", nil, 3, 60 * time.Millisecond, 3},
		{"secureon 4 bytes", []byte{1, 2, 3, 4}, 2, 30 * time.Millisecond, 2},
		{"secureon 6 bytes", []byte{0xde, 0xad, 0xbe, 0xef, 0x00, 0x01}, 4, 20 * time.Millisecond, 4},
		{"no interval", nil, 5, 0, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, ch := listen(t)
			s := newUDP(t, addr)
			if got := s.Describe(); got != "udp "+addr {
				t.Errorf("Describe = %q", got)
			}
			a := New(s, Config{MAC: mac, Password: tt.password, Repeat: tt.repeat, Interval: tt.interval})
			var sent atomic.Int32
			a.OnSent = func() { sent.Add(1) }
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			cont, err := a.Do(ctx, power.On)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			if sent.Load() != 1 {
				t.Errorf("Do sent %d packets before returning, want 1", sent.Load())
			}
			if (cont == nil) != (tt.wantCount == 1) {
				t.Fatalf("continuation nil=%v for %d packets", cont == nil, tt.wantCount)
			}
			start := time.Now()
			if cont != nil {
				if err := cont(ctx); err != nil {
					t.Fatalf("continuation: %v", err)
				}
			}
			if took, min := time.Since(start), time.Duration(tt.wantCount-1)*tt.interval; took < min {
				t.Errorf("repeats took %v, want at least %v", took, min)
			}
			if int(sent.Load()) != tt.wantCount {
				t.Errorf("OnSent called %d times, want %d", sent.Load(), tt.wantCount)
			}

			got := collect(ch, tt.wantCount, 2*time.Second)
			if len(got) != tt.wantCount {
				t.Fatalf("received %d packets, want %d", len(got), tt.wantCount)
			}
			for i, r := range got {
				if r.err != nil {
					t.Errorf("packet %d is not a magic packet: %v", i, r.err)
					continue
				}
				if r.packet.Target.String() != mac.String() {
					t.Errorf("packet %d for %s, want %s", i, r.packet.Target, mac)
				}
				if !bytes.Equal(r.packet.Password, tt.password) {
					t.Errorf("packet %d password %x, want %x", i, r.packet.Password, tt.password)
				}
				// Receive times jitter a little around the send times.
				if i > 0 && r.at.Sub(got[i-1].at) < tt.interval-10*time.Millisecond {
					t.Errorf("packets %d and %d %v apart, want about %v", i-1, i, r.at.Sub(got[i-1].at), tt.interval)
				}
			}
		})
	}
}

// TestContinuationCancelled: the repeats stop as soon as their context ends.
func TestContinuationCancelled(t *testing.T) {
	addr, ch := listen(t)
	a := New(newUDP(t, addr), Config{MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, Repeat: 50, Interval: 200 * time.Millisecond})
	cont, err := a.Do(context.Background(), power.On)
	if err != nil || cont == nil {
		t.Fatalf("Do = %v, %v", cont, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = cont(ctx)
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("continuation: %v, want context.DeadlineExceeded", err)
	}
	if took > 600*time.Millisecond {
		t.Errorf("continuation returned %v after it was started, want soon after 300ms", took)
	}
	// The Do packet and the one repeat sent at 200ms; none after.
	if got := collect(ch, 3, 300*time.Millisecond); len(got) != 2 {
		t.Errorf("received %d packets, want 2", len(got))
	}

	// An already-cancelled context sends nothing more.
	done, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if err := cont(done); !errors.Is(err, context.Canceled) {
		t.Errorf("continuation with a cancelled context: %v", err)
	}
	if got := collect(ch, 1, 300*time.Millisecond); len(got) != 0 {
		t.Errorf("received %d packets after cancellation", len(got))
	}
}

// fakeSender fails from its failAt'th Send on.
type fakeSender struct {
	sends  int
	failAt int
}

var errSend = errors.New("network is unreachable")

func (f *fakeSender) Send(net.HardwareAddr, []byte) error {
	f.sends++
	if f.failAt > 0 && f.sends >= f.failAt {
		return errSend
	}
	return nil
}

func (f *fakeSender) Describe() string { return "fake" }

func TestErrors(t *testing.T) {
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 2}
	ctx := context.Background()

	t.Run("only on", func(t *testing.T) {
		f := &fakeSender{}
		a := New(f, Config{MAC: mac})
		if a.Name() != "wol" {
			t.Errorf("Name = %q", a.Name())
		}
		for _, act := range []power.Action{power.Off, power.SoftOff, power.Cycle, power.Reset, power.Diag} {
			if a.Supports(act) {
				t.Errorf("Supports(%v)", act)
			}
			if _, err := a.Do(ctx, act); !errors.Is(err, power.ErrUnsupported) {
				t.Errorf("Do(%v): %v, want ErrUnsupported", act, err)
			}
		}
		if !a.Supports(power.On) {
			t.Error("does not support on")
		}
		if f.sends != 0 {
			t.Errorf("%d packets sent for unsupported actions", f.sends)
		}
	})

	t.Run("first send fails", func(t *testing.T) {
		a := New(&fakeSender{failAt: 1}, Config{MAC: mac, Repeat: 3})
		cont, err := a.Do(ctx, power.On)
		if !errors.Is(err, errSend) || cont != nil {
			t.Fatalf("Do = %v, %v; want no continuation and the send error", cont, err)
		}
		for _, want := range []string{mac.String(), "fake"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %s", err, want)
			}
		}
	})

	t.Run("a repeat fails", func(t *testing.T) {
		f := &fakeSender{failAt: 3}
		a := New(f, Config{MAC: mac, Repeat: 5})
		cont, err := a.Do(ctx, power.On)
		if err != nil {
			t.Fatal(err)
		}
		if err := cont(ctx); !errors.Is(err, errSend) {
			t.Errorf("continuation: %v, want the send error", err)
		}
		if f.sends != 3 {
			t.Errorf("%d sends, want 3 (stop at the failure)", f.sends)
		}
	})

	t.Run("bad password length", func(t *testing.T) {
		addr, ch := listen(t)
		a := New(newUDP(t, addr), Config{MAC: mac, Password: []byte{1, 2, 3, 4, 5}})
		if _, err := a.Do(ctx, power.On); err == nil {
			t.Error("a 5-byte SecureOn password was accepted")
		}
		if got := collect(ch, 1, 200*time.Millisecond); len(got) != 0 {
			t.Errorf("%d packets sent", len(got))
		}
	})

	t.Run("bad target", func(t *testing.T) {
		a := New(newUDP(t, "no-port"), Config{MAC: mac})
		if _, err := a.Do(ctx, power.On); err == nil {
			t.Error("a target without port was accepted")
		}
	})
}

// TestWakesSimulatedMachine: magic packets sent to the simulated rack's
// loopback WoL listener boot the machine with that MAC, and only it.
func TestWakesSimulatedMachine(t *testing.T) {
	macA := net.HardwareAddr{2, 0, 0, 0, 0, 0xa}
	macB := net.HardwareAddr{2, 0, 0, 0, 0, 0xb}
	rack, err := sim.New(sim.Config{
		Machines:  []sim.MachineConfig{{Name: "a", MAC: macA}, {Name: "b", MAC: macB}},
		WoLListen: []string{"127.0.0.1:0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rack.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	a := New(newUDP(t, rack.WoLAddrs()[0]), Config{MAC: macA, Repeat: 2, Interval: 10 * time.Millisecond})
	cont, err := a.Do(ctx, power.On)
	if err != nil {
		t.Fatal(err)
	}
	if err := cont(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for rack.Machine("a").WakePackets() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := rack.Machine("a").WakePackets(); n != 2 {
		t.Errorf("machine a heard %d magic packets, want 2", n)
	}
	if s := rack.Machine("a").State(); s != sim.Running {
		t.Errorf("machine a is %v, want running", s)
	}
	if s := rack.Machine("b").State(); s != sim.Standby || rack.Machine("b").WakePackets() != 0 {
		t.Errorf("machine b is %v with %d packets, want standby and none", s, rack.Machine("b").WakePackets())
	}
	if n := rack.MalformedWoL(); n != 0 {
		t.Errorf("%d malformed datagrams", n)
	}
}

// TestRawSender: opening a raw socket needs CAP_NET_RAW and a real
// interface, and sending on one would leave this machine; only the lookup
// failure is tested.
func TestRawSender(t *testing.T) {
	if _, err := NewRawSender("pj-no-such-if0"); err == nil || !strings.Contains(err.Error(), "pj-no-such-if0") {
		t.Errorf("NewRawSender on a missing interface: %v", err)
	}
	t.Skip("raw Ethernet sending is not tested: it needs CAP_NET_RAW and would transmit on a real interface")
}
