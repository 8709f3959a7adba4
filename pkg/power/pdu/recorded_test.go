package pdu_test

import (
	"errors"
	"log/slog"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/powerjockey/powerjockey/pkg/internal/snmpagent"
	"github.com/powerjockey/powerjockey/pkg/power"
	"github.com/powerjockey/powerjockey/pkg/power/pdu"
	"github.com/powerjockey/powerjockey/pkg/power/pdu/pdutest"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// These tests drive the client against recorded walks of real devices
// (pdutest, whose data and control objects come from the recordings and
// the vendor MIBs, never from the model table). See
// pdutest/testdata/README.md for the devices.

// recordedClient is a client for a pdutest device with its default
// communities.
func recordedClient(t *testing.T, d *pdutest.Device, model string, edit func(*pdu.Config)) (*pdu.Client, *testkit.Log) {
	t.Helper()
	logs := &testkit.Log{}
	cfg := pdu.Config{
		Name: "rec", Address: d.Addr(), Model: model,
		SNMP:          pdu.SNMPConfig{Version: "2c", CommunityRead: "public", CommunityWrite: "private", Timeout: time.Second, Retries: 1},
		VerifyTimeout: 3 * time.Second, VerifyInterval: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	}
	if edit != nil {
		edit(&cfg)
	}
	return newClient(t, cfg), logs
}

// TestRecordedPDUs detects each recorded PDU, reads every outlet's state
// and draw against what the device recorded, checks the scale against the
// device's own total, and switches an outlet off and on, checking the OID
// and value written against the vendor MIB.
func TestRecordedPDUs(t *testing.T) {
	for rec, row := range recordedRows {
		t.Run(rec, func(t *testing.T) {
			t.Parallel()
			d := pdutest.Start(t, rec, pdutest.Options{})
			f := d.Family
			obs := newRecorder()
			c, _ := recordedClient(t, d, "auto", func(cfg *pdu.Config) { cfg.Observer = obs })
			ctx := testCtx(t)

			m, err := c.Model(ctx)
			if err != nil {
				t.Fatalf("detection: %v", err)
			}
			if m.Name != row {
				t.Fatalf("detected %s, want %s", m.Name, row)
			}

			outlets := d.Outlets()
			c.Watch(outlets...)
			got, err := c.Read(ctx, outlets)
			if err != nil {
				t.Fatal(err)
			}
			var sum float64
			target := 0
			for _, o := range outlets {
				raw, _ := d.RecordedInt(f.Status(o))
				want := power.Unknown
				switch raw {
				case f.StatusOn:
					want = power.StateOn
				case f.StatusOff:
					want = power.StateOff
				}
				if got[o].State != want {
					t.Errorf("outlet %d reads %v, recorded status %d (%v)", o, got[o].State, raw, want)
				}
				w, metered := d.RecordedInt(f.Watts(o))
				switch {
				case metered && got[o].Watts == nil:
					t.Errorf("outlet %d: no watts, recorded %d W", o, w)
				case metered && *got[o].Watts != float64(w):
					t.Errorf("outlet %d draws %v W, recorded %d W", o, *got[o].Watts, w)
				case metered:
					sum += *got[o].Watts
					if target == 0 && want == power.StateOn && w > 0 {
						target = o
					}
				}
			}
			total, ok := d.RecordedInt(f.TotalWatts)
			if !ok || total <= 0 {
				t.Fatalf("recording has no total power at %s", f.TotalWatts)
			}
			// The outlets' sum against the device's own total proves the
			// unit (watts, not tenths or kilowatts); meters disagree by a
			// few watts (sampling, the controller's own draw).
			if math.Abs(sum-float64(total)) > 0.05*float64(total) {
				t.Errorf("outlets draw %v W in all, the device reports %d W", sum, total)
			}
			if target == 0 {
				t.Fatal("no outlet recorded on with a draw")
			}
			recordedW, _ := d.RecordedInt(f.Watts(target))

			for _, step := range []struct {
				on    bool
				value int
			}{{false, f.Off}, {true, f.On}} {
				polls := obs.count("poll")
				if err := c.SetOutlets(ctx, []int{target}, step.on); err != nil {
					t.Fatalf("switch outlet %d %v: %v", target, step.on, err)
				}
				sets := d.Sets()
				if last := sets[len(sets)-1]; last.OID != f.Control(target) || last.Value != step.value {
					t.Errorf("switch %v wrote %s = %d, the MIB says %s = %d", step.on, last.OID, last.Value, f.Control(target), step.value)
				}
				// The read-back is one poll of the watched outlets.
				if n := obs.count("poll") - polls; n != 1 {
					t.Errorf("switch %v read back with %d polls, want 1", step.on, n)
				}
				got, err := c.Read(ctx, []int{target})
				if err != nil {
					t.Fatal(err)
				}
				wantW := 0.0
				if step.on {
					wantW = float64(recordedW)
				}
				if got[target].State != power.StateFor(step.on) || got[target].Watts == nil || *got[target].Watts != wantW {
					t.Errorf("after switch %v outlet %d reads %v %s W, want %v %v W", step.on, target, got[target].State, fmtWatts(got[target].Watts), power.StateFor(step.on), wantW)
				}
			}
			if n := len(d.Sets()); n != 2 {
				t.Errorf("%d SETs, want 2", n)
			}
		})
	}
}

// TestRecordedSETProvesItself: a SET the agent answers with an exception
// or another value, or acknowledges without switching, is an error naming
// the OID; a relay that takes its time, within the bound, is success.
func TestRecordedSETProvesItself(t *testing.T) {
	exception := func(typ gosnmp.Asn1BER) func(int) snmpagent.Variable {
		return func(int) snmpagent.Variable { return snmpagent.Variable{Type: typ} }
	}
	tests := []struct {
		name    string
		opt     pdutest.Options
		verify  time.Duration
		wantErr string // "" = success; else the error and log name this OID kind ("control" or "status")
	}{
		{name: "noSuchInstance", opt: pdutest.Options{Ignore: true, Answer: exception(gosnmp.NoSuchInstance)}, wantErr: "control"},
		{name: "noSuchObject", opt: pdutest.Options{Ignore: true, Answer: exception(gosnmp.NoSuchObject)}, wantErr: "control"},
		{name: "endOfMibView", opt: pdutest.Options{Ignore: true, Answer: exception(gosnmp.EndOfMibView)}, wantErr: "control"},
		{name: "other value", opt: pdutest.Options{Ignore: true, Answer: func(w int) snmpagent.Variable {
			return snmpagent.Variable{Type: gosnmp.Integer, Value: w + 1}
		}}, wantErr: "control"},
		// Even when the device did switch, an exception answer cannot be
		// trusted: the error stands.
		{name: "noSuchInstance but switched", opt: pdutest.Options{Answer: exception(gosnmp.NoSuchInstance)}, wantErr: "control"},
		{name: "acknowledged, not performed", opt: pdutest.Options{Ignore: true}, verify: 400 * time.Millisecond, wantErr: "status"},
		{name: "performed late, within the bound", opt: pdutest.Options{Delay: 300 * time.Millisecond}, verify: 3 * time.Second},
	}
	for rec := range recordedRows {
		for _, tt := range tests {
			t.Run(rec+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				d := pdutest.Start(t, rec, tt.opt)
				f := d.Family
				c, logs := recordedClient(t, d, recordedRows[rec], func(cfg *pdu.Config) {
					if tt.verify > 0 {
						cfg.VerifyTimeout = tt.verify
					}
				})
				ctx := testCtx(t)
				o := d.Outlets()[0]
				c.Watch(o)
				before, err := c.Read(ctx, []int{o})
				if err != nil {
					t.Fatal(err)
				}
				on := before[o].State != power.StateOn
				start := time.Now()
				err = c.SetOutlets(ctx, []int{o}, on)
				took := time.Since(start)
				if tt.wantErr == "" {
					if err != nil {
						t.Fatalf("SetOutlets: %v", err)
					}
					if took < tt.opt.Delay {
						t.Errorf("SetOutlets returned after %v, before the relay switched (%v)", took, tt.opt.Delay)
					}
					return
				}
				if err == nil {
					t.Fatal("SetOutlets succeeded")
				}
				if !errors.Is(err, pdu.ErrNotSwitched) || errors.Is(err, power.ErrTimeout) {
					t.Errorf("error %q: want ErrNotSwitched, not a timeout", err)
				}
				oid := f.Control(o)
				if tt.wantErr == "status" {
					oid = f.Status(o)
					if took < tt.verify {
						t.Errorf("gave up after %v, before the bound %v", took, tt.verify)
					}
				}
				if !strings.Contains(err.Error(), oid) {
					t.Errorf("error %q does not name %s", err, oid)
				}
				if !strings.Contains(logs.String(), oid) {
					t.Errorf("log does not name %s:\n%s", oid, logs)
				}
			})
		}
	}
}

// TestPendingIsNotFailure: a PDU that answers a switch with its pending
// state (Eaton pendingOn/pendingOff, Sentry3 onWait/offWait) accepted it.
func TestPendingIsNotFailure(t *testing.T) {
	for _, tt := range []struct {
		model                 string
		pendingOn, pendingOff int
	}{
		{"eatonpower", 3, 2},         // EATON-EPDU-MIB outletControlStatus pendingOn(3) pendingOff(2)
		{"servertech_sentry3", 3, 2}, // Sentry3-MIB outletStatus onWait(3) offWait(2)
		{"vertivgeist_pdu", 4, 3},    // VERTIV-V5-MIB pduOutletSwitchState off2on(4) on2off(3)
	} {
		t.Run(tt.model, func(t *testing.T) {
			f := startFake(t, tt.model, 2, snmpagent.Config{})
			m := f.model
			// Eaton writes 0 to its on and off objects: the OID tells them apart.
			f.onSet(func(oid string, value int) (int, bool) {
				for o := 1; o <= 2; o++ {
					switch {
					case oid == m.OID(m.On.OID, o) && value == m.On.Value:
						return tt.pendingOn, true
					case oid == m.OID(m.Off.OID, o) && value == m.Off.Value:
						return tt.pendingOff, true
					}
				}
				return 0, false
			})
			cfg := baseConfig(f.addr(), tt.model)
			cfg.VerifyTimeout = 300 * time.Millisecond
			c := newClient(t, cfg)
			ctx := testCtx(t)
			if err := c.SetOutlets(ctx, []int{1}, true); err != nil {
				t.Fatalf("switch on answered pending: %v", err)
			}
			got, err := c.Read(ctx, []int{1})
			if err != nil {
				t.Fatal(err)
			}
			if got[1].State != power.StateOff || got[1].Pending != power.StateOn {
				t.Errorf("pending on reads %v pending %v, want off pending on", got[1].State, got[1].Pending)
			}
			f.setStatus(1, m.Status.On[0])
			if err := c.SetOutlets(ctx, []int{1}, false); err != nil {
				t.Fatalf("switch off answered pending: %v", err)
			}
			// A pending state the other way is not the switch asked for.
			f.setStatus(2, m.Status.On[0])
			f.onSet(func(string, int) (int, bool) { return tt.pendingOff, true })
			if err := c.SetOutlets(ctx, []int{2}, true); !errors.Is(err, pdu.ErrNotSwitched) {
				t.Errorf("switch on left pending off: err %v, want ErrNotSwitched", err)
			}
		})
	}
}

// TestRecordedRefusals: model auto refuses UPSes, sensor boxes, metered
// PDUs and devices whose outlet table does not answer, naming the
// sysObjectID, the rows tried and the closest rows; it never writes.
func TestRecordedRefusals(t *testing.T) {
	tests := []struct {
		rec     string
		tried   []string // rows whose prefix matched, in order
		closest string   // a row the error must name as closest
		ups     bool     // the device answers UPS-MIB
	}{
		// A CyberPower UPS that reports the ePDU sysObjectID 3808.1.1.3.
		{rec: "cyberpower-ups", tried: []string{"cyberpower"}, closest: "cyberpower", ups: true},
		{rec: "geist-watchdog", tried: []string{"vertivgeist_pdu"}, closest: "vertivgeist_pdu"},
		{rec: "geist-pdu", tried: []string{"vertivgeist_pdu"}, closest: "vertivgeist_pdu"},
		{rec: "vertiv-pdu_mn03edr1", tried: []string{"vertivgeist_pdu"}, closest: "vertivgeist_pdu"},
		{rec: "apc-netbotz", closest: "apc"},
		{rec: "raritan-px1", closest: "raritan_pdu2"},
		// Switched PDUs whose recordings hold no outlet table: what does
		// not answer cannot be confirmed (their prefixes do match, see
		// TestRecordedCandidates).
		{rec: "apc-epdu", tried: []string{"apc_epdu", "apc"}, closest: "apc_epdu"},
		{rec: "eatonpdu", tried: []string{"eatonpower"}, closest: "eatonpower"},
		{rec: "sentry3", tried: []string{"servertech_sentry3"}, closest: "servertech_sentry3"},
		{rec: "sentry4", tried: []string{"servertech_sentry4"}, closest: "servertech_sentry4"},
	}
	for _, tt := range tests {
		for _, version := range []string{"2c", "1"} {
			t.Run(tt.rec+"/v"+version, func(t *testing.T) {
				t.Parallel()
				d := pdutest.Start(t, tt.rec, pdutest.Options{})
				c, logs := recordedClient(t, d, "auto", func(cfg *pdu.Config) { cfg.SNMP.Version = version })
				ctx := testCtx(t)
				_, err := c.Model(ctx)
				var derr *pdu.DetectError
				if !errors.As(err, &derr) || !errors.Is(err, pdu.ErrNotPDU) {
					t.Fatalf("Model: %v, want a *DetectError", err)
				}
				id, _ := d.Recorded("1.3.6.1.2.1.1.2.0")
				if derr.SysObjectID != id.Value {
					t.Errorf("SysObjectID %q, recorded %v", derr.SysObjectID, id.Value)
				}
				var tried []string
				for _, r := range derr.Tried {
					tried = append(tried, r.Model)
				}
				if !slices.Equal(tried, tt.tried) {
					t.Errorf("tried %v, want %v", tried, tt.tried)
				}
				if !slices.Contains(derr.Closest, tt.closest) {
					t.Errorf("closest %v lacks %s", derr.Closest, tt.closest)
				}
				if (derr.UPS != "") != tt.ups {
					t.Errorf("UPS = %q, want a UPS: %v", derr.UPS, tt.ups)
				}
				msg := err.Error()
				for _, want := range append([]string{derr.SysObjectID, tt.closest}, tt.tried...) {
					if !strings.Contains(msg, want) {
						t.Errorf("error %q does not name %s", msg, want)
					}
				}
				if tt.ups && !strings.Contains(msg, "UPS") {
					t.Errorf("error %q does not say UPS", msg)
				}
				if !strings.Contains(logs.String(), derr.SysObjectID) {
					t.Errorf("refusal not logged with the sysObjectID:\n%s", logs)
				}
				// The refusal is remembered: nodes polling it do not walk
				// the device again, and nothing is ever written.
				before := d.Agent.Stats().Requests
				if err := c.SetOutlets(ctx, []int{1}, true); !errors.Is(err, pdu.ErrNotPDU) {
					t.Errorf("SetOutlets: %v, want ErrNotPDU", err)
				}
				c.Watch(1)
				if _, err := c.Read(ctx, []int{1}); !errors.Is(err, pdu.ErrNotPDU) {
					t.Errorf("Read: %v, want ErrNotPDU", err)
				}
				if n := d.Agent.Stats().Requests - before; n != 0 {
					t.Errorf("%d requests after the refusal, want none", n)
				}
			})
		}
	}
}

// TestRecordedCandidates: the sysObjectIDs real devices report select the
// row of their family first.
func TestRecordedCandidates(t *testing.T) {
	for rec, want := range map[string]string{
		"apc-cpdu":            "apc_cpdu",
		"apc-epdu":            "apc_epdu",
		"raritan-pdu_px3":     "raritan_pdu2",
		"cyberpower_pdu81005": "cyberpower_epdu2",
		"eatonpdu":            "eatonpower",
		"sentry3":             "servertech_sentry3",
		"sentry4":             "servertech_sentry4",
	} {
		recs, err := pdutest.Records(rec)
		if err != nil {
			t.Fatal(err)
		}
		var id string
		for _, r := range recs {
			if r.OID == "1.3.6.1.2.1.1.2.0" {
				id, _ = r.Variable.Value.(string)
			}
		}
		c := pdu.Candidates(id)
		if len(c) == 0 || c[0].Name != want {
			var names []string
			for _, m := range c {
				names = append(names, m.Name)
			}
			t.Errorf("%s (sysObjectID %s): candidates %v, want %s first", rec, id, names, want)
		}
	}
}

// TestRecordedDetectionV1: detection reads the outlet table with SNMPv1
// too (end of MIB is a noSuchName error there).
func TestRecordedDetectionV1(t *testing.T) {
	for rec, row := range recordedRows {
		d := pdutest.Start(t, rec, pdutest.Options{})
		c, _ := recordedClient(t, d, "auto", func(cfg *pdu.Config) { cfg.SNMP.Version = "1" })
		m, err := c.Model(testCtx(t))
		if err != nil || m.Name != row {
			t.Errorf("%s over SNMPv1: %v, %v; want %s", rec, m, err, row)
		}
	}
}

// TestProbeConfirmsConfiguredModel: a model configured by name whose
// outlet table the PDU does not hold is reported by Probe.
func TestProbeConfirmsConfiguredModel(t *testing.T) {
	d := pdutest.Start(t, "raritan-pdu_px3", pdutest.Options{})
	ctx := testCtx(t)
	c, _ := recordedClient(t, d, "raritan_pdu2", nil)
	res, err := c.Probe(ctx, []int{1})
	if err != nil || res.TableMissing != "" {
		t.Errorf("raritan_pdu2 on a PX3: %+v, %v", res, err)
	}
	c, _ = recordedClient(t, d, "apc_rpdu2", nil)
	res, err = c.Probe(ctx, []int{1})
	if res == nil || !strings.Contains(res.TableMissing, "no outlet status table") {
		t.Errorf("apc_rpdu2 on a PX3: %+v, %v; want TableMissing", res, err)
	}
}
