package node

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/power"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// TestNextBootOverrideRule: a next-boot-only override is used up by the
// power-on that causes the boot unless the machine fetches its boot
// script; then the fetch uses it up, and the power-on only stops its lapse.
func TestNextBootOverrideRule(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name          string
		fetches       bool
		persistent    bool
		validFor      time.Duration
		afterOn       bool // valid after the power-on
		firstFetch    bool // the first fetch carries the override
		afterFetch    bool // valid after the first fetch
		secondFetch   bool // the second fetch carries it too
		wantUsedUpAt1 bool
	}{
		{name: "no script: the power-on uses it up", fetches: false, afterOn: false, firstFetch: false},
		{name: "script: the fetch uses it up", fetches: true, validFor: time.Minute, afterOn: true, firstFetch: true, afterFetch: false, wantUsedUpAt1: true},
		{name: "script, persistent: never used up", fetches: true, persistent: true, afterOn: true, firstFetch: true, afterFetch: true, secondFetch: true},
		{name: "no script, persistent", fetches: false, persistent: true, afterOn: true, firstFetch: true, afterFetch: true, secondFetch: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hooks := testkit.NewActuator("exec", &testkit.Journal{}, power.On, power.Off)
			n := newNode(t, Config{Means: Means{Hooks: hooks}, Boot: BootConfig{FetchesScript: tt.fetches}}, nil)
			if err := n.SetBoot(ctx, Boot{Valid: true, Persistent: tt.persistent, Device: BootPXE}, tt.validFor); err != nil {
				t.Fatal(err)
			}
			if err := n.Power(ctx, power.On); err != nil {
				t.Fatal(err)
			}
			b := n.Boot()
			if b.Valid != tt.afterOn {
				t.Fatalf("after power on: valid %v, want %v", b.Valid, tt.afterOn)
			}
			if !b.ExpiresAt.IsZero() {
				t.Errorf("the power-on left the lapse running: expires %v", b.ExpiresAt)
			}
			first := n.TakeBoot(ctx, "10.0.2.15:1000")
			if first.Boot.Valid != tt.firstFetch || first.UsedUp != tt.wantUsedUpAt1 || first.Boot.Device != BootPXE {
				t.Errorf("first fetch: %+v", first)
			}
			if n.Boot().Valid != tt.afterFetch {
				t.Errorf("after the first fetch: valid %v, want %v", n.Boot().Valid, tt.afterFetch)
			}
			if second := n.TakeBoot(ctx, "10.0.2.15:1001"); second.Boot.Valid != tt.secondFetch || second.UsedUp {
				t.Errorf("second fetch: %+v", second)
			}
		})
	}
}

// TestUsedUpOverridePersists: what a fetch used up stays used up after a
// restart.
func TestUsedUpOverridePersists(t *testing.T) {
	store, _ := openStore(t)
	n := newNode(t, Config{Boot: BootConfig{FetchesScript: true}}, store)
	if err := n.SetBoot(context.Background(), Boot{Valid: true, Device: BootDisk}, 0); err != nil {
		t.Fatal(err)
	}
	n.TakeBoot(context.Background(), "192.0.2.9")
	st, _, err := store.Load("n1")
	if err != nil || st.Boot.Valid || st.Boot.Device != BootDisk {
		t.Errorf("persisted: %+v %v", st.Boot, err)
	}
}

// TestFetchIsEvidenceOfOn: a node without sensors is recorded on when its
// machine fetches a script (an unrequested power-on is one), and a pending
// manual power-on is seen done; a node with sensors lets them decide and
// reads them at once.
func TestFetchIsEvidenceOfOn(t *testing.T) {
	ctx := context.Background()
	t.Run("no sensors", func(t *testing.T) {
		n := newNode(t, Config{}, nil)
		if err := n.Power(ctx, power.Off); err != nil {
			t.Fatal(err)
		}
		n.TakeBoot(ctx, "10.0.2.15:68")
		if r, _ := n.PowerState(ctx); r.State != power.StateOn {
			t.Fatalf("after a fetch: %v", r.State)
		}
		evs := events(t, n)
		last := evs[len(evs)-1]
		if last.Kind != EventPowerChanged || !last.Unrequested || last.Source != "boot script fetch" || last.To != power.StateOn {
			t.Errorf("event %+v", last)
		}
		// A requested power-on that a human did (manual) is seen done.
		if err := n.Power(ctx, power.Off); err != nil {
			t.Fatal(err)
		}
		if err := n.Power(ctx, power.On); err != nil {
			t.Fatal(err)
		}
		if n.Snapshot().Persisted.Manual == nil {
			t.Fatal("no manual action pending")
		}
		n.TakeBoot(ctx, "10.0.2.15:68")
		if m := n.Snapshot().Persisted.Manual; m != nil {
			t.Errorf("manual action still pending: %+v", m)
		}
		evs = events(t, n)
		if last := evs[len(evs)-1]; last.Kind != EventManualDone || !strings.Contains(last.Message, "fetched its boot script from 10.0.2.15:68") {
			t.Errorf("event %+v", last)
		}
	})
	t.Run("sensors decide", func(t *testing.T) {
		feed := testkit.NewFeed(&testkit.Journal{}, power.StateOff)
		n := newNode(t, Config{Means: Means{Feed: feed}, MaxAge: time.Hour}, nil)
		if _, err := n.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		reads := feed.Reads()
		n.TakeBoot(ctx, "10.0.2.15:68")
		testkit.Eventually(t, 2*time.Second, "a refresh after the fetch", func() bool { return feed.Reads() > reads })
		if r, _ := n.PowerState(ctx); r.State != power.StateOff {
			t.Errorf("the fetch overrode the sensors: %v", r.State)
		}
	})
}

func TestRecordBootScript(t *testing.T) {
	n := newNode(t, Config{Boot: BootConfig{FetchesScript: true}}, nil)
	ctx := context.Background()
	if err := n.SetBoot(ctx, Boot{Valid: true, Device: BootBIOS}, 0); err != nil {
		t.Fatal(err)
	}
	tk := n.TakeBoot(ctx, "10.0.2.15:1")
	n.RecordBootScript(ctx, tk, "10.0.2.15:1", "BIOS setup cannot be entered from a boot script; exits to the firmware.", true)
	evs := events(t, n)
	e := evs[len(evs)-1]
	if e.Kind != EventBootScript || e.Severity != SeverityWarning || e.By == nil || e.By.Channel != "boot" ||
		e.Message != "Boot script served to the machine at 10.0.2.15:1 (override bios, next boot only, now used up): BIOS setup cannot be entered from a boot script; exits to the firmware." {
		t.Errorf("event %+v", e)
	}
}

// fakeChecker is a MediaChecker with a set answer.
type fakeChecker struct {
	size int64
	err  error
	seen []Media
}

func (c *fakeChecker) CheckMedia(_ context.Context, m Media) (int64, error) {
	c.seen = append(c.seen, m)
	return c.size, c.err
}

func TestVirtualMedia(t *testing.T) {
	ctx := WithRequester(context.Background(), Requester{Channel: "redfish", User: "admin", Source: "192.0.2.1"})
	t.Run("no boot endpoint", func(t *testing.T) {
		n := newNode(t, Config{}, nil)
		if n.HasVirtualMedia() {
			t.Error("virtual media without a boot endpoint")
		}
		if err := n.InsertMedia(ctx, Media{Image: "http://x/a.iso", Inserted: true}); !errors.Is(err, ErrNoVirtualMedia) {
			t.Errorf("err = %v", err)
		}
	})
	store, _ := openStore(t)
	chk := &fakeChecker{size: 376832}
	n := newNode(t, Config{Boot: BootConfig{FetchesScript: true, Media: chk}}, store)
	if err := n.InsertMedia(ctx, Media{Image: "http://images/ipxe.iso", Inserted: true}); err != nil {
		t.Fatal(err)
	}
	m := n.Media()
	if !m.Inserted || m.Size != 376832 || m.ID == "" || m.By == nil || m.By.User != "admin" || m.ImageName() != "ipxe.iso" {
		t.Errorf("media %+v", m)
	}
	first := m.ID
	// A failed check changes nothing.
	chk.err = &MediaError{Problem: MediaNotFound, Image: "http://images/gone.iso", Err: errors.New("404 Not Found")}
	var me *MediaError
	if err := n.InsertMedia(ctx, Media{Image: "http://images/gone.iso", Inserted: true}); !errors.As(err, &me) || me.Problem != MediaNotFound {
		t.Errorf("err = %v", err)
	}
	if n.Media().Image != "http://images/ipxe.iso" {
		t.Errorf("a failed insert changed the media: %+v", n.Media())
	}
	chk.err = nil
	if err := n.InsertMedia(ctx, Media{Image: "https://images/other.iso", Inserted: true}); err != nil {
		t.Fatal(err)
	}
	if n.Media().ID == first {
		t.Error("a new image kept the old ID: its old URL would still serve")
	}
	// Persisted.
	st, _, _ := store.Load("n1")
	if st.Media == nil || st.Media.Image != "https://images/other.iso" {
		t.Errorf("persisted %+v", st.Media)
	}
	if err := n.SetMediaInserted(ctx, false); err != nil || n.Media().Inserted || !n.Media().Attached() {
		t.Errorf("not inserted: %+v %v", n.Media(), err)
	}
	// Serving failures are one event per insertion.
	id := n.Media().ID
	n.MediaServeFailed(id, errors.New("connection refused"))
	n.MediaServeFailed(id, errors.New("connection refused"))
	n.MediaServeFailed("stale", errors.New("connection refused"))
	if err := n.EjectMedia(ctx); err != nil || n.Media().Attached() {
		t.Errorf("eject: %+v %v", n.Media(), err)
	}
	if err := n.EjectMedia(ctx); err != nil {
		t.Errorf("eject of an empty drive: %v", err)
	}
	got := kinds(events(t, n))
	want := []string{"media_inserted", "media_ejected", "media_inserted", "media_ejected", "media_failed", "media_ejected"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("events %v, want %v", got, want)
	}
	evs := events(t, n)
	if msg := evs[0].Message; msg != "Virtual CD: http://images/ipxe.iso inserted by admin over redfish from 192.0.2.1." {
		t.Errorf("message %q", msg)
	}
}
