package node

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/power"
	"github.com/powerjockey/powerjockey/test/testkit"
)

func events(t *testing.T, n *Node) []Event {
	t.Helper()
	evs, err := n.Events()
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func kinds(evs []Event) []string {
	var ks []string
	for _, e := range evs {
		ks = append(ks, string(e.Kind))
	}
	return ks
}

func TestActionEvents(t *testing.T) {
	by := Requester{Channel: "redfish", Source: "192.0.2.9:5000", User: "admin"}
	tests := []struct {
		name     string
		means    func(*testkit.Journal) Means
		fail     error
		severity Severity
		result   Result
		message  string
	}{
		{"pdu ok", func(j *testkit.Journal) Means { return Means{Feed: testkit.NewFeed(j, power.StateOff)} }, nil,
			SeverityOK, "ok", "Power on via pdu done by admin over redfish from 192.0.2.9:5000."},
		{"pdu error", func(j *testkit.Journal) Means { return Means{Feed: testkit.NewFeed(j, power.StateOff)} }, errors.New("timeout"),
			SeverityWarning, "error", "Power on via pdu failed by admin over redfish from 192.0.2.9:5000: power on n1: timeout"},
		{"manual", func(*testkit.Journal) Means { return Means{} }, nil,
			SeverityWarning, "ok", "Manual action needed: power n1 on (requested by admin over redfish from 192.0.2.9:5000)."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := &testkit.Journal{}
			m := tt.means(j)
			if f, ok := m.Feed.(*testkit.Feed); ok && tt.fail != nil {
				f.Actuator.Update(func(a *testkit.Actuator) { a.Err = tt.fail })
			}
			n := newNode(t, Config{Means: m}, nil)
			_ = n.Power(WithRequester(context.Background(), by), power.On)
			evs := events(t, n)
			if len(evs) != 1 {
				t.Fatalf("events = %v, want one", kinds(evs))
			}
			e := evs[0]
			if e.Kind != EventPowerAction || e.ID != 1 || e.Action != power.On || e.Result != tt.result || e.Severity != tt.severity || e.By == nil || *e.By != by {
				t.Errorf("event = %+v", e)
			}
			if e.Message != tt.message {
				t.Errorf("message = %q\nwant      %q", e.Message, tt.message)
			}
		})
	}
}

func TestEventLogPersistsBoundedAndClears(t *testing.T) {
	store, dir := openStore(t)
	const limit = 5
	n := newNode(t, Config{EventLogSize: limit}, store)
	ctx := context.Background()
	for i := range 2*limit + 3 {
		a := power.On
		if i%2 == 1 {
			a = power.Off
		}
		if err := n.Power(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	evs := events(t, n)
	if len(evs) != limit || evs[0].ID != limit+4 || evs[limit-1].ID != 2*limit+3 {
		t.Fatalf("kept ids %d..%d (%d events), want the newest %d: %d..%d", evs[0].ID, evs[len(evs)-1].ID, len(evs), limit, limit+4, 2*limit+3)
	}
	path := filepath.Join(dir, "nodes", "n1.events.jsonl")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(string(b), "\n"); lines >= 2*limit {
		t.Errorf("file holds %d lines, want it compacted below %d", lines, 2*limit)
	}

	// A torn last line (a crash mid-append) is skipped, and a restarted
	// node continues the numbering.
	if err := os.WriteFile(path, append(b, []byte(`{"id":99,"kind":"pow`)...), 0o640); err != nil {
		t.Fatal(err)
	}
	n.Close()
	n2 := newNode(t, Config{EventLogSize: limit}, store)
	if got := events(t, n2); len(got) != limit || got[limit-1].ID != 2*limit+3 {
		t.Fatalf("after restart: %d events, last %+v", len(got), got[len(got)-1])
	}
	by := Requester{Channel: "ipmi", User: "admin"}
	if err := n2.ClearEvents(WithRequester(ctx, by)); err != nil {
		t.Fatal(err)
	}
	got := events(t, n2)
	if len(got) != 1 || got[0].Kind != EventLogCleared || got[0].ID != 2*limit+4 || got[0].By == nil || *got[0].By != by {
		t.Fatalf("after clear: %+v", got)
	}
	if err := n2.Power(ctx, power.On); err != nil {
		t.Fatal(err)
	}
	if got := events(t, n2); len(got) != 2 || got[1].ID != 2*limit+5 {
		t.Fatalf("after clear and an action: %+v", got)
	}
}

func TestSensorEvents(t *testing.T) {
	j := &testkit.Journal{}
	feed := testkit.NewFeed(j, power.StateOn)
	watts := 120.0
	feed.Sensor.Set(power.StateOn, &watts, nil)
	n := newNode(t, Config{Means: Means{Feed: feed}, WattsOn: 15}, nil)
	ctx := context.Background()
	refresh := func() {
		t.Helper()
		_, _ = n.Refresh(ctx)
	}
	if err := n.Power(ctx, power.On); err != nil {
		t.Fatal(err)
	}
	refresh() // on, as asked: no change event (nothing was seen before)
	feed.Sensor.Set(power.StateOn, nil, errors.New("pdu timeout"))
	refresh()
	refresh() // still failing: one event, not one per reading
	feed.Sensor.Set(power.StateOn, &watts, nil)
	refresh()
	zero := 2.0
	feed.Sensor.Set(power.StateOn, &zero, nil)
	refresh() // the machine shut itself down behind a live outlet

	evs := events(t, n)
	want := []string{"power_action", "sensor_failed", "sensor_recovered", "power_changed"}
	if strings.Join(kinds(evs), " ") != strings.Join(want, " ") {
		t.Fatalf("events = %v, want %v", kinds(evs), want)
	}
	if e := evs[1]; e.Severity != SeverityCritical || !strings.Contains(e.Message, "pdu timeout") {
		t.Errorf("sensor failure event = %+v", e)
	}
	e := evs[3]
	if !e.Unrequested || e.Severity != SeverityWarning || e.From != power.StateOn || e.To != power.StateOff || e.Watts == nil || *e.Watts != 2 {
		t.Errorf("self-shutdown event = %+v", e)
	}
	if !strings.Contains(e.Message, "without a request") {
		t.Errorf("self-shutdown message = %q", e.Message)
	}

	// A change towards what was asked is the action taking effect.
	if err := n.Power(ctx, power.On); err != nil {
		t.Fatal(err)
	}
	refresh() // 2 W: off (booting); first reading after the action
	feed.Sensor.Set(power.StateOn, &watts, nil)
	refresh()
	evs = events(t, n)
	if e := evs[len(evs)-1]; e.Kind != EventPowerChanged || e.Unrequested || e.Severity != SeverityOK || e.To != power.StateOn {
		t.Errorf("boot after power on = %+v", e)
	}

	samples := n.MeterSamples(time.Now().Add(-time.Minute))
	if len(samples) == 0 {
		t.Fatal("no meter samples")
	}
	if s := Summarise(samples); s.Max != 120 || s.Min != 2 || s.Count < 4 {
		t.Errorf("meter stats = %+v, want min 2 max 120 over at least 4 readings", s)
	}
}

func TestBootEventsOnlyOnChange(t *testing.T) {
	n := newNode(t, Config{}, nil)
	ctx := WithRequester(context.Background(), Requester{Channel: "ipmi", User: "admin"})
	pxe := Boot{Valid: true, Device: BootPXE, Persistent: true}
	for range 3 {
		if err := n.SetBoot(ctx, pxe, 0); err != nil {
			t.Fatal(err)
		}
	}
	// IPMI's bookkeeping bits (Ironic clears the 60 s timeout before each
	// change) are not a new override.
	if err := n.UpdateBoot(ctx, func(b *Boot) { b.IPMI.ValidBitClearing = 0x08 }, 0); err != nil {
		t.Fatal(err)
	}
	if err := n.SetBoot(ctx, Boot{}, 0); err != nil {
		t.Fatal(err)
	}
	evs := events(t, n)
	if len(evs) != 2 {
		t.Fatalf("events = %+v, want set and cleared", evs)
	}
	if evs[0].Message != "Boot override set to pxe (all boots, legacy) by admin over ipmi." || evs[1].Message != "Boot override cleared by admin over ipmi." {
		t.Errorf("messages %q, %q", evs[0].Message, evs[1].Message)
	}
}

func TestMeterRing(t *testing.T) {
	var m meterRing
	start := time.Unix(1_800_000_000, 0).Truncate(MeterBucket)
	// Two readings per bucket for longer than the history holds.
	for i := range meterBuckets + 10 {
		at := start.Add(time.Duration(i) * MeterBucket)
		m.add(at, float64(i))
		m.add(at.Add(time.Second), float64(i)+10)
	}
	all := m.since(time.Time{})
	if len(all) != meterBuckets {
		t.Fatalf("%d buckets, want %d", len(all), meterBuckets)
	}
	if first := all[0]; !first.At.Equal(start.Add(10*MeterBucket)) || first.Min != 10 || first.Max != 20 || first.Avg != 15 || first.Count != 2 {
		t.Errorf("oldest bucket = %+v", first)
	}
	last := start.Add(time.Duration(meterBuckets+9) * MeterBucket)
	if got := m.since(last); len(got) != 1 || !got[0].At.Equal(last) {
		t.Errorf("since the newest bucket: %+v", got)
	}
	m.add(start, 1000) // older than the newest bucket: ignored
	if s := Summarise(m.since(time.Time{})); s.Max == 1000 || s.Count != 2*meterBuckets {
		t.Errorf("stats = %+v", s)
	}
	if s := Summarise(nil); s.Count != 0 || s.Avg != 0 {
		t.Errorf("empty stats = %+v", s)
	}
}

func TestSampleReadsWhenDue(t *testing.T) {
	s := testkit.NewSensor("probe", power.StateOn)
	n := newNode(t, Config{Means: Means{Probe: s}, SampleInterval: time.Hour}, nil)
	wait := func(want int) {
		t.Helper()
		for range 500 {
			if s.Reads() >= want {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		if got := s.Reads(); got != want {
			t.Fatalf("%d reads, want %d", got, want)
		}
	}
	now := time.Now()
	n.Sample(now) // never read: due
	wait(1)
	n.Sample(now.Add(time.Minute)) // read a minute ago: not due
	time.Sleep(20 * time.Millisecond)
	wait(1)
	n.Sample(now.Add(2 * time.Hour))
	wait(2)

	off := newNode(t, Config{Means: Means{Probe: s}}, nil) // no interval: never sampled
	off.Sample(now.Add(24 * time.Hour))
	time.Sleep(20 * time.Millisecond)
	wait(2)
}
