package pdu_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/internal/snmpagent"
	"github.com/powerjockey/powerjockey/pkg/power"
	"github.com/powerjockey/powerjockey/pkg/power/pdu"
	"github.com/powerjockey/powerjockey/pkg/sim"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// Compile-time checks: a Feed is both an actuator and a sensor.
var (
	_ power.Actuator = (*pdu.Feed)(nil)
	_ power.Sensor   = (*pdu.Feed)(nil)
)

// TestFeedDualOutlet drives a machine with two power supplies on outlets 1
// and 2 of a simulated metering PDU: the feed is on when any outlet is on,
// and its watts are the sum over its outlets.
func TestFeedDualOutlet(t *testing.T) {
	rack := startRack(t, sim.Config{
		PDUs: []sim.PDUConfig{simPDU("apc_rpdu2")},
		Machines: []sim.MachineConfig{
			{Name: "m", MAC: macOf(7), PDU: "p", Outlets: []int{1, 2}, StandbyWatts: 40, RunningWatts: 300},
		},
	})
	sp := rack.PDU("p")
	c := newClient(t, baseConfig(sp.Addr(), "apc_rpdu2"))
	f := pdu.NewFeed(c, []int{1, 2})
	ctx := testCtx(t)

	if f.Name() != "pdu" || f.Client() != c || !slices.Equal(f.Outlets(), []int{1, 2}) {
		t.Errorf("feed = %s %v %v", f.Name(), f.Client(), f.Outlets())
	}
	metered, err := f.Metered(ctx)
	if err != nil || !metered {
		t.Errorf("Metered = %v, %v; want true", metered, err)
	}

	read := func(wantState power.State, wantWatts float64) {
		t.Helper()
		r, err := f.Read(ctx)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if r.State != wantState {
			t.Errorf("feed state %v, want %v", r.State, wantState)
		}
		if r.Watts == nil || *r.Watts != wantWatts {
			t.Errorf("feed draws %s W, want %v", fmtWatts(r.Watts), wantWatts)
		}
		if r.Source != "outlet" {
			t.Errorf("source %q, want outlet", r.Source)
		}
		if time.Since(r.At) > time.Second {
			t.Errorf("reading made at %v", r.At)
		}
	}

	read(power.StateOff, 0)
	cont, err := f.Do(ctx, power.On)
	if err != nil || cont != nil {
		t.Fatalf("Do(on) = %v, %v", cont, err)
	}
	if !sp.Outlet(1) || !sp.Outlet(2) {
		t.Fatal("Do(on) did not switch both outlets on")
	}
	read(power.StateOn, 40) // 20 W + 20 W
	rack.HandleMagicPacket(magicPacket(macOf(7)))
	read(power.StateOn, 300)

	// One supply loses power: the other carries the whole load, and the
	// reading says which outlet is which.
	sp.SetOutlet(2, false)
	read(power.StateOn, 300)
	r, err := f.Read(ctx)
	if err != nil || len(r.Outlets) != 2 {
		t.Fatalf("Read = %+v, %v; want two outlets", r, err)
	}
	if o := r.Outlets[0]; o.PDU != "p" || o.Outlet != 1 || o.State != power.StateOn || o.Watts == nil || *o.Watts != 300 {
		t.Errorf("outlet 1 = %+v (%s W)", o, fmtWatts(o.Watts))
	}
	if o := r.Outlets[1]; o.Outlet != 2 || o.State != power.StateOff || o.Watts == nil || *o.Watts != 0 {
		t.Errorf("outlet 2 = %+v (%s W)", o, fmtWatts(o.Watts))
	}
	sp.SetOutlet(1, false)
	sp.SetOutlet(2, true)
	read(power.StateOn, 40) // the machine lost power and is back in standby

	if _, err := f.Do(ctx, power.Off); err != nil {
		t.Fatal(err)
	}
	if sp.Outlet(1) || sp.Outlet(2) {
		t.Fatal("Do(off) left an outlet on")
	}
	read(power.StateOff, 0)
}

// TestFeedCombine checks how a feed combines its outlets' states and
// meters, including status values that are neither on nor off and meters
// without a reading.
func TestFeedCombine(t *testing.T) {
	const (
		on      = 2 // apc_rpdu2 rPDU2OutletSwitchedStatusState on(2)
		off     = 1 // off(1)
		unknown = 7 // neither
	)
	tests := []struct {
		name      string
		status    [2]int
		meter     [2]int
		wantState power.State
		wantWatts string
	}{
		{"both off", [2]int{off, off}, [2]int{0, 0}, power.StateOff, "0"},
		{"both on", [2]int{on, on}, [2]int{60, 70}, power.StateOn, "130"},
		{"first on", [2]int{on, off}, [2]int{80, 0}, power.StateOn, "80"},
		{"second on", [2]int{off, on}, [2]int{0, 80}, power.StateOn, "80"},
		{"unknown and off", [2]int{unknown, off}, [2]int{0, 0}, power.Unknown, "0"},
		{"off and unknown", [2]int{off, unknown}, [2]int{0, 0}, power.Unknown, "0"},
		{"unknown and on", [2]int{unknown, on}, [2]int{0, 50}, power.StateOn, "50"},
		{"on and unknown", [2]int{on, unknown}, [2]int{50, 0}, power.StateOn, "50"},
		{"both unknown", [2]int{unknown, unknown}, [2]int{0, 0}, power.Unknown, "0"},
		{"one meter without reading", [2]int{on, on}, [2]int{50, -1}, power.StateOn, "nil"},
		{"no meter reading", [2]int{on, on}, [2]int{-1, -2000000}, power.StateOn, "nil"},
	}
	fake := startFake(t, "apc_rpdu2", 2*len(tests), snmpagent.Config{})
	cfg := baseConfig(fake.addr(), "apc_rpdu2")
	c := newClient(t, cfg)
	ctx := testCtx(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			outlets := []int{2*i + 1, 2*i + 2}
			for j, o := range outlets {
				fake.setStatus(o, tt.status[j])
				fake.setPower(o, tt.meter[j])
			}
			f := pdu.NewFeed(c, outlets)
			defer f.Release()
			r, err := f.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if r.State != tt.wantState {
				t.Errorf("state %v, want %v", r.State, tt.wantState)
			}
			if got := fmtWatts(r.Watts); got != tt.wantWatts {
				t.Errorf("watts %s, want %s", got, tt.wantWatts)
			}
		})
	}
}

// TestFeedUnmetered: a model without metering gives readings without watts.
func TestFeedUnmetered(t *testing.T) {
	fake := startFake(t, "apc_rackpdu", 2, snmpagent.Config{})
	fake.setStatus(1, 1) // on
	c := newClient(t, baseConfig(fake.addr(), "apc_rackpdu"))
	f := pdu.NewFeed(c, []int{1, 2})
	ctx := testCtx(t)
	metered, err := f.Metered(ctx)
	if err != nil || metered {
		t.Errorf("Metered = %v, %v; want false", metered, err)
	}
	r, err := f.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != power.StateOn || r.Watts != nil {
		t.Errorf("Read = %v %s W, want on without watts", r.State, fmtWatts(r.Watts))
	}
}

// TestFeedActions: a feed switches on and off only.
func TestFeedActions(t *testing.T) {
	fake := startFake(t, "apc_rackpdu", 2, snmpagent.Config{})
	c := newClient(t, baseConfig(fake.addr(), "apc_rackpdu"))
	f := pdu.NewFeed(c, []int{1})
	ctx := testCtx(t)
	for _, a := range []power.Action{power.On, power.Off, power.SoftOff, power.Cycle, power.Reset, power.Diag} {
		supported := a == power.On || a == power.Off
		if f.Supports(a) != supported {
			t.Errorf("Supports(%v) = %v, want %v", a, !supported, supported)
		}
		if supported {
			continue
		}
		if _, err := f.Do(ctx, a); !errors.Is(err, power.ErrUnsupported) {
			t.Errorf("Do(%v): %v, want ErrUnsupported", a, err)
		}
	}
	if n := len(fake.setLog()); n != 0 {
		t.Errorf("unsupported actions sent %d SETs", n)
	}
}

// TestFeedErrors: a feed passes the PDU's failures on.
func TestFeedErrors(t *testing.T) {
	t.Run("unreachable", func(t *testing.T) {
		cfg := baseConfig(testkit.FreeAddr(t, "udp"), "auto")
		cfg.SNMP.Timeout, cfg.SNMP.Retries = 100*time.Millisecond, 0
		c := newClient(t, cfg)
		f := pdu.NewFeed(c, []int{1})
		ctx := testCtx(t)
		if _, err := f.Read(ctx); !errors.Is(err, power.ErrTimeout) {
			t.Errorf("Read: %v, want ErrTimeout", err)
		}
		if _, err := f.Do(ctx, power.On); !errors.Is(err, power.ErrTimeout) {
			t.Errorf("Do(on): %v, want ErrTimeout", err)
		}
		if _, err := f.Metered(ctx); !errors.Is(err, power.ErrTimeout) {
			t.Errorf("Metered: %v, want ErrTimeout", err)
		}
	})
	t.Run("released", func(t *testing.T) {
		fake := startFake(t, "apc_rackpdu", 2, snmpagent.Config{})
		c := newClient(t, baseConfig(fake.addr(), "apc_rackpdu"))
		f := pdu.NewFeed(c, []int{1})
		ctx := testCtx(t)
		if _, err := f.Read(ctx); err != nil {
			t.Fatal(err)
		}
		f.Release()
		if _, err := f.Read(ctx); err == nil {
			t.Error("Read of a released feed succeeded")
		}
	})
}
