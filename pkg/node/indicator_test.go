package node

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/powerjockey/powerjockey/pkg/power"
	"github.com/powerjockey/powerjockey/test/testkit"
)

func TestIndicatorRecordedAndPersisted(t *testing.T) {
	store, _ := openStore(t)
	logger, logs := testkit.NewLogger()
	n := newNode(t, Config{Name: "n1", Logger: logger}, store)
	if got := n.Indicator(); got != IndicatorOff {
		t.Fatalf("initial indicator %q, want Off", got)
	}
	ctx := WithRequester(context.Background(), Requester{Channel: "redfish", Source: "192.0.2.7", User: "admin"})
	for _, i := range []Indicator{IndicatorBlinking, IndicatorBlinking, IndicatorLit, IndicatorOff} {
		if err := n.SetIndicator(ctx, i); err != nil {
			t.Fatal(err)
		}
		if got := n.Indicator(); got != i {
			t.Fatalf("after SetIndicator(%s): %s", i, got)
		}
	}
	if err := n.SetIndicator(ctx, "Flashing"); err == nil || n.Indicator() != IndicatorOff {
		t.Errorf("an invalid state was accepted: %v, now %s", err, n.Indicator())
	}
	// One event per change, saying who asked; a repeat adds none.
	var msgs []string
	for _, e := range events(t, n) {
		if e.Kind == EventIndicator {
			msgs = append(msgs, e.Message)
			if e.By == nil || e.By.User != "admin" {
				t.Errorf("indicator event without its requester: %+v", e)
			}
		}
	}
	if len(msgs) != 3 || !strings.Contains(msgs[0], "Blinking by admin over redfish") {
		t.Errorf("indicator events %q", msgs)
	}
	if !strings.Contains(logs.String(), "indicator set") {
		t.Errorf("no audit line:\n%s", logs)
	}
	if err := n.SetIndicator(ctx, IndicatorLit); err != nil {
		t.Fatal(err)
	}
	n.Close()
	again := newNode(t, Config{Name: "n1"}, store)
	if got := again.Indicator(); got != IndicatorLit {
		t.Errorf("after a restart the indicator is %s, want Lit", got)
	}
}

// TestProbeReadingKeepsOutlets: when a live unmetered outlet leaves the
// decision to a probe, the reading still says what each outlet does.
func TestProbeReadingKeepsOutlets(t *testing.T) {
	feed := testkit.NewFeed(&testkit.Journal{}, power.StateOn)
	outlets := []power.OutletReading{{PDU: "p", Outlet: 3, State: power.StateOn}, {PDU: "p", Outlet: 4, State: power.StateOff}}
	feed.Sensor.SetOutlets(outlets)
	probe := testkit.NewSensor("probe", power.StateOff)
	n := newNode(t, Config{Means: Means{Feed: feed, Probe: probe}}, nil)
	r, err := n.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.State != power.StateOff || r.Source != "probe" || !slices.Equal(r.Outlets, outlets) {
		t.Errorf("reading %+v, want the probe's Off with the outlets %+v", r, outlets)
	}
}
