package sim

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/wol"
)

func magic(t testing.TB, mac string) []byte {
	hw, err := net.ParseMAC(mac)
	if err != nil {
		t.Fatal(err)
	}
	b, err := (&wol.MagicPacket{Target: hw}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newTestRack(t *testing.T, shutdownAfter time.Duration) *Rack {
	t.Helper()
	r, err := New(Config{
		PDUs: []PDUConfig{{Name: "p", Model: "apc_rpdu2", Listen: "127.0.0.1:0", ReadCommunity: "public", WriteCommunity: "private"}},
		Machines: []MachineConfig{
			{Name: "fed", MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, PDU: "p", Outlets: []int{1, 2}, SelfShutdownAfter: shutdownAfter},
			{Name: "unfed", MAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

func TestMachineNeedsPowerAndMagicPacket(t *testing.T) {
	r := newTestRack(t, 0)
	m, p := r.Machine("fed"), r.PDU("p")
	if m.State() != Off {
		t.Fatalf("unpowered machine is %v", m.State())
	}
	r.HandleMagicPacket(magic(t, "02:00:00:00:00:01"))
	if m.State() != Off {
		t.Fatal("a magic packet woke a machine without power")
	}
	p.SetOutlet(1, true)
	if m.State() != Standby || m.Watts() != 4 {
		t.Fatalf("with power: %v %v W", m.State(), m.Watts())
	}
	r.HandleMagicPacket(magic(t, "02:00:00:00:00:01"))
	if m.State() != Running || m.Watts() != 120 || m.Boots() != 1 {
		t.Fatalf("after magic packet: %v %v W %d boots", m.State(), m.Watts(), m.Boots())
	}
	// Dual PSU: the draw splits over the outlets that are on.
	p.SetOutlet(2, true)
	if w := p.outletWatts(1) + p.outletWatts(2); w != 120 || p.outletWatts(1) != 60 {
		t.Fatalf("outlet draw %v + %v", p.outletWatts(1), p.outletWatts(2))
	}
	p.SetOutlet(1, false)
	if m.State() != Running {
		t.Fatal("losing one of two PSUs stopped the machine")
	}
	p.SetOutlet(2, false)
	if m.State() != Off {
		t.Fatal("machine runs without power")
	}
	if r.Machine("unfed").State() != Standby {
		t.Fatal("a machine without a PDU has standby power")
	}
}

func TestMachineShutsItselfDown(t *testing.T) {
	r := newTestRack(t, 100*time.Millisecond)
	m, p := r.Machine("fed"), r.PDU("p")
	p.SetOutlet(1, true)
	r.HandleMagicPacket(magic(t, "02:00:00:00:00:01"))
	deadline := time.Now().Add(2 * time.Second)
	for m.State() == Running && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if m.State() != Standby || !p.Outlet(1) {
		t.Fatalf("after self-shutdown: %v, outlet on %v", m.State(), p.Outlet(1))
	}
}

func TestNotAMagicPacketIsCounted(t *testing.T) {
	r := newTestRack(t, 0)
	r.HandleMagicPacket([]byte("hello"))
	if r.MalformedWoL() != 1 {
		t.Fatalf("malformed = %d", r.MalformedWoL())
	}
}

// FuzzMagicPacket feeds arbitrary datagrams to the simulated NICs.
func FuzzMagicPacket(f *testing.F) {
	r, err := New(Config{Machines: []MachineConfig{{Name: "m", MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(magic(f, "02:00:00:00:00:01"))
	f.Add(append(magic(f, "02:00:00:00:00:01"), 1, 2, 3, 4, 5, 6))
	f.Add([]byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		r.HandleMagicPacket(b)
	})
}

func TestMachineConsole(t *testing.T) {
	r, err := New(Config{
		PDUs:     []PDUConfig{{Name: "p", Model: "apc_rpdu2", Listen: "127.0.0.1:0", ReadCommunity: "public", WriteCommunity: "private"}},
		Machines: []MachineConfig{{Name: "vm1", MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, PDU: "p", Outlets: []int{1}, Console: "127.0.0.1:0"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	m := r.Machine("vm1")
	conn, err := net.Dial("tcp", m.ConsoleAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	read := func(want string) {
		t.Helper()
		var got []byte
		buf := make([]byte, 256)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		for !strings.Contains(string(got), want) {
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("console: %v; got %q, want %q", err, got, want)
			}
			got = append(got, buf[:n]...)
		}
	}
	// Off: typing is not echoed (nothing runs).
	conn.Write([]byte("x"))
	conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, _ := conn.Read(make([]byte, 8)); n != 0 {
		t.Fatal("an unpowered machine echoed")
	}
	// Booting prints its messages; running, it echoes.
	deadline := time.Now().Add(5 * time.Second)
	for m.console.clients() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	r.PDU("p").SetOutlet(1, true)
	r.HandleMagicPacket(magic(t, "02:00:00:00:00:01"))
	read("vm1 login: ")
	conn.Write([]byte("root\r"))
	read("root\r")
}
