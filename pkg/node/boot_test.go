package node

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/power"
	"github.com/powerjockey/powerjockey/test/testkit"
)

func TestBootRoundTrip(t *testing.T) {
	n := newNode(t, Config{}, nil)
	if b := n.Boot(); b.Valid || b.Device != BootNone {
		t.Errorf("initial boot = %+v, want no override with device none", b)
	}
	tests := []Boot{
		{Valid: true, Device: BootPXE},
		{Valid: true, Persistent: true, UEFI: true, Device: BootDisk},
		{Valid: true, Device: BootRemoteCDROM, IPMI: IPMIBootBits{Flags: [5]byte{0, 0x20, 0, 1, 2}, ValidBitClearing: 0x1f, InfoAcknowledge: 3}},
		{Valid: false, Device: BootBIOS},
	}
	for _, b := range tests {
		if err := n.SetBoot(context.Background(), b, 0); err != nil {
			t.Fatal(err)
		}
		if got := n.Boot(); !reflect.DeepEqual(got, b) {
			t.Errorf("Boot() = %+v, want %+v", got, b)
		}
	}
	if err := n.SetBoot(context.Background(), Boot{Valid: true}, 0); err != nil {
		t.Fatal(err)
	}
	if got := n.Boot().Device; got != BootNone {
		t.Errorf("empty device reads back as %q, want none", got)
	}
	// ExpiresAt is the node's to set, not the caller's.
	if err := n.SetBoot(context.Background(), Boot{Valid: true, Device: BootPXE, ExpiresAt: time.Now().Add(-time.Hour)}, 0); err != nil {
		t.Fatal(err)
	}
	if b := n.Boot(); !b.Valid || !b.ExpiresAt.IsZero() {
		t.Errorf("caller's ExpiresAt was used: %+v", b)
	}
}

func TestBootValidFor(t *testing.T) {
	const validFor = 60 * time.Millisecond
	tests := []struct {
		name      string
		boot      Boot
		validFor  time.Duration
		wantLapse bool
	}{
		{"one-time override lapses", Boot{Valid: true, Device: BootPXE}, validFor, true},
		{"persistent override never lapses", Boot{Valid: true, Persistent: true, Device: BootPXE}, validFor, false},
		{"zero validFor never lapses", Boot{Valid: true, Device: BootPXE}, 0, false},
		{"negative validFor never lapses", Boot{Valid: true, Device: BootPXE}, -time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t, Config{}, nil)
			if err := n.SetBoot(context.Background(), tt.boot, tt.validFor); err != nil {
				t.Fatal(err)
			}
			b := n.Boot()
			if !b.Valid {
				t.Fatal("override not valid right after SetBoot")
			}
			if tt.wantLapse != !b.ExpiresAt.IsZero() {
				t.Errorf("ExpiresAt = %v, want set: %v", b.ExpiresAt, tt.wantLapse)
			}
			time.Sleep(validFor + 30*time.Millisecond)
			b = n.Boot()
			if b.Valid == tt.wantLapse {
				t.Errorf("after %v: valid = %v, want %v", validFor, b.Valid, !tt.wantLapse)
			}
			if tt.wantLapse {
				if !b.ExpiresAt.IsZero() || b.Device != BootPXE {
					t.Errorf("lapsed override = %+v, want device kept and no expiry", b)
				}
				if s := n.Snapshot(); s.Persisted.Boot.Valid {
					t.Error("Snapshot reports a lapsed override as valid")
				}
				// A power on after the lapse does not resurrect it.
				if err := n.Power(context.Background(), power.On); err != nil {
					t.Fatal(err)
				}
				if n.Boot().Valid {
					t.Error("override valid again after a power on")
				}
			}
		})
	}
}

func TestBootEffective(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name  string
		b     Boot
		valid bool
	}{
		{"no expiry", Boot{Valid: true}, true},
		{"future expiry", Boot{Valid: true, ExpiresAt: now.Add(time.Second)}, true},
		{"at expiry", Boot{Valid: true, ExpiresAt: now}, true},
		{"past expiry", Boot{Valid: true, ExpiresAt: now.Add(-time.Nanosecond)}, false},
		{"persistent past expiry", Boot{Valid: true, Persistent: true, ExpiresAt: now.Add(-time.Second)}, true},
		{"not valid", Boot{ExpiresAt: now.Add(-time.Second)}, false},
	}
	for _, tt := range tests {
		if got := tt.b.effective(now); got.Valid != tt.valid {
			t.Errorf("%s: effective = %+v, want valid %v", tt.name, got, tt.valid)
		}
	}
}

func TestBootConsumedByBoot(t *testing.T) {
	tests := []struct {
		action     power.Action
		persistent bool
		wantValid  bool
	}{
		{power.On, false, false},
		{power.Cycle, false, false},
		{power.Reset, false, false},
		{power.Off, false, true},
		{power.SoftOff, false, true},
		{power.On, true, true},
		{power.Cycle, true, true},
	}
	for _, tt := range tests {
		name := tt.action.String()
		if tt.persistent {
			name += " persistent"
		}
		t.Run(name, func(t *testing.T) {
			log := &testkit.Journal{}
			hooks := testkit.NewActuator("exec", log, power.On, power.Off, power.SoftOff, power.Cycle, power.Reset)
			store, _ := openStore(t)
			n := newNode(t, Config{Means: Means{Hooks: hooks}}, store)
			if err := n.SetBoot(context.Background(), Boot{Valid: true, Persistent: tt.persistent, Device: BootPXE}, time.Hour); err != nil {
				t.Fatal(err)
			}
			if err := n.Power(context.Background(), tt.action); err != nil {
				t.Fatal(err)
			}
			b := n.Boot()
			if b.Valid != tt.wantValid {
				t.Errorf("after %s: valid = %v, want %v", tt.action, b.Valid, tt.wantValid)
			}
			if b.Device != BootPXE {
				t.Errorf("device = %q, want pxe kept", b.Device)
			}
			if !tt.wantValid && !b.ExpiresAt.IsZero() {
				t.Errorf("consumed override still expires at %v", b.ExpiresAt)
			}
			st, _, err := store.Load("n1")
			if err != nil || st.Boot.Valid != tt.wantValid {
				t.Errorf("persisted boot = %+v, %v", st.Boot, err)
			}
		})
	}
	t.Run("manual on", func(t *testing.T) {
		n := newNode(t, Config{}, nil)
		if err := n.SetBoot(context.Background(), Boot{Valid: true, Device: BootPXE}, 0); err != nil {
			t.Fatal(err)
		}
		if err := n.Power(context.Background(), power.On); err != nil {
			t.Fatal(err)
		}
		if n.Boot().Valid {
			t.Error("a manual on did not consume the next-boot override")
		}
	})
	t.Run("unsupported diag", func(t *testing.T) {
		n := newNode(t, Config{}, nil)
		if err := n.SetBoot(context.Background(), Boot{Valid: true, Device: BootPXE}, 0); err != nil {
			t.Fatal(err)
		}
		if err := n.Power(context.Background(), power.Diag); err == nil {
			t.Fatal("diag succeeded")
		}
		if !n.Boot().Valid {
			t.Error("a failed diag consumed the override")
		}
	})
}

func TestUpdateBoot(t *testing.T) {
	n := newNode(t, Config{}, nil)
	if err := n.SetBoot(context.Background(), Boot{Valid: true, Device: BootPXE}, 0); err != nil {
		t.Fatal(err)
	}
	err := n.UpdateBoot(context.Background(), func(b *Boot) { b.IPMI.InfoAcknowledge = 1 }, 0)
	if err != nil {
		t.Fatal(err)
	}
	if b := n.Boot(); !b.Valid || b.Device != BootPXE || b.IPMI.InfoAcknowledge != 1 {
		t.Errorf("Boot = %+v", b)
	}
	// Concurrent updates all land.
	const workers, each = 8, 16
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				if err := n.UpdateBoot(context.Background(), func(b *Boot) { b.IPMI.ValidBitClearing++ }, 0); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if got := n.Boot().IPMI.ValidBitClearing; got != workers*each {
		t.Errorf("after %d concurrent increments: %d", workers*each, got)
	}
}

func TestPersistence(t *testing.T) {
	store, dir := openStore(t)
	ctx := context.Background()
	a, err := New(ctx, Config{Name: "n1"}, store)
	if err != nil {
		t.Fatal(err)
	}
	guid := a.GUID()
	if guid.IsZero() {
		t.Fatal("no GUID generated")
	}
	if err := a.Power(ctx, power.On); err != nil { // manual: recorded on, pending
		t.Fatal(err)
	}
	boot := Boot{Valid: true, Persistent: true, UEFI: true, Device: BootPXE, IPMI: IPMIBootBits{Flags: [5]byte{1, 2, 3, 4, 5}}}
	if err := a.SetBoot(context.Background(), boot, 0); err != nil {
		t.Fatal(err)
	}
	want := a.Snapshot().Persisted
	a.Close()

	b, err := New(ctx, Config{Name: "n1"}, store)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got := b.Snapshot().Persisted
	if got.GUID != guid {
		t.Errorf("GUID = %v, want %v", got.GUID, guid)
	}
	if got.Power != power.StateOn {
		t.Errorf("power = %v, want on", got.Power)
	}
	if !reflect.DeepEqual(got.Boot, boot) {
		t.Errorf("boot = %+v, want %+v", got.Boot, boot)
	}
	if got.Manual == nil || got.Manual.Action != power.On || !got.Manual.Since.Equal(want.Manual.Since) {
		t.Errorf("manual = %+v, want %+v", got.Manual, want.Manual)
	}
	if !sameRecord(got.LastAction, want.LastAction) {
		t.Errorf("last action = %+v, want %+v", got.LastAction, want.LastAction)
	}
	if r, err := b.PowerState(ctx); err != nil || r.State != power.StateOn || r.Source != "recorded" {
		t.Errorf("PowerState after restart = %+v, %v", r, err)
	}

	// Another node in the same store is independent.
	c := newNode(t, Config{Name: "n2"}, store)
	if c.GUID() == guid || c.Snapshot().Persisted.Power != power.Unknown {
		t.Errorf("n2 shares n1's state: %+v", c.Snapshot().Persisted)
	}

	// The state file is readable JSON with a textual GUID and power state.
	raw := readFile(t, dir+"/nodes/n1.json")
	for _, s := range []string{`"guid": "` + guid.String() + `"`, `"power": "on"`, `"device": "pxe"`, `"action": "on"`} {
		if !strings.Contains(raw, s) {
			t.Errorf("state file lacks %s:\n%s", s, raw)
		}
	}
}

func TestConfigGUIDOverrides(t *testing.T) {
	store, _ := openStore(t)
	ctx := context.Background()
	a, err := New(ctx, Config{Name: "n1"}, store)
	if err != nil {
		t.Fatal(err)
	}
	generated := a.GUID()
	a.Close()

	configured := GUID{0x4c, 0x4c, 0x45, 0x44, 0, 0x42, 0x30, 0x10, 0x80, 0x52, 0xb7, 0xc0, 0x4f, 0x4b, 0x4d, 0x31}
	b, err := New(ctx, Config{Name: "n1", GUID: configured}, store)
	if err != nil {
		t.Fatal(err)
	}
	if b.GUID() != configured {
		t.Errorf("GUID = %v, want the configured %v", b.GUID(), configured)
	}
	b.Close()
	st, _, err := store.Load("n1")
	if err != nil || st.GUID != configured {
		t.Errorf("persisted GUID = %v (%v), want the configured one", st.GUID, err)
	}
	// Dropping it from the configuration keeps the last one rather than
	// going back to the generated one.
	c := newNode(t, Config{Name: "n1"}, store)
	if c.GUID() != configured || c.GUID() == generated {
		t.Errorf("GUID = %v, want %v kept", c.GUID(), configured)
	}
}

func TestGUID(t *testing.T) {
	seen := map[GUID]bool{}
	for range 50 {
		g := NewGUID()
		if g.IsZero() || seen[g] {
			t.Fatalf("NewGUID returned %v twice or zero", g)
		}
		seen[g] = true
		if g[6]>>4 != 4 || g[8]>>6 != 2 {
			t.Errorf("%v is not an RFC 4122 version 4 GUID", g)
		}
	}
	g := GUID{0x4c, 0x4c, 0x45, 0x44, 0, 0x42, 0x30, 0x10, 0x80, 0x52, 0xb7, 0xc0, 0x4f, 0x4b, 0x4d, 0x31}
	if s := g.String(); s != "4c4c4544-0042-3010-8052-b7c04f4b4d31" {
		t.Errorf("String = %q", s)
	}
	b, err := json.Marshal(g)
	if err != nil || string(b) != `"4c4c4544-0042-3010-8052-b7c04f4b4d31"` {
		t.Errorf("MarshalJSON = %s, %v", b, err)
	}
	for _, in := range []string{`"4c4c4544-0042-3010-8052-b7c04f4b4d31"`, `"4C4C4544-0042-3010-8052-B7C04F4B4D31"`, `"4c4c4544004230108052b7c04f4b4d31"`} {
		var back GUID
		if err := json.Unmarshal([]byte(in), &back); err != nil || back != g {
			t.Errorf("UnmarshalJSON(%s) = %v, %v", in, back, err)
		}
	}
	for _, in := range []string{`"4c4c4544"`, `"zz4c4544-0042-3010-8052-b7c04f4b4d31"`, `"4c4c4544-0042-3010-8052-b7c04f4b4d3100"`, `42`, `""`} {
		var back GUID
		if err := json.Unmarshal([]byte(in), &back); err == nil {
			t.Errorf("UnmarshalJSON(%s) accepted: %v", in, back)
		}
	}
	if !(GUID{}).IsZero() || g.IsZero() {
		t.Error("IsZero wrong")
	}
}

// Writers racing to persist (a background action finishing, a boot flag
// being set) must leave the newest state on disk.
func TestConcurrentPersistenceKeepsNewest(t *testing.T) {
	store, _ := openStore(t)
	log := &testkit.Journal{}
	n := newNode(t, Config{Means: Means{Feed: testkit.NewFeed(log, power.StateOff)}}, store)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 10 {
				var err error
				switch (i + j) % 3 {
				case 0:
					err = n.Power(ctx, power.Off)
				case 1:
					err = n.SetBoot(context.Background(), Boot{Valid: true, Persistent: true, Device: BootPXE, IPMI: IPMIBootBits{InfoAcknowledge: byte(i*10 + j)}}, 0)
				case 2:
					err = n.Acknowledge(context.Background())
				}
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	mem := n.Snapshot().Persisted
	disk, ok, err := store.Load("n1")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if disk.Boot != mem.Boot || !sameRecord(disk.LastAction, mem.LastAction) {
		t.Errorf("disk state is older than memory:\ndisk %+v %+v\nmem  %+v %+v", disk.Boot, disk.LastAction, mem.Boot, mem.LastAction)
	}
}

func TestNewFailsOnCorruptState(t *testing.T) {
	store, dir := openStore(t)
	path := dir + "/nodes/n1.json"
	writeFileT(t, path, `{"guid": "not a guid"}`)
	_, err := New(context.Background(), Config{Name: "n1"}, store)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("New with a corrupt state file = %v, want an error naming %s", err, path)
	}
	var syntax *json.SyntaxError
	writeFileT(t, path, `{"power": "on"`)
	_, err = New(context.Background(), Config{Name: "n1"}, store)
	if !errors.As(err, &syntax) || !strings.Contains(err.Error(), path) {
		t.Errorf("New with a truncated state file = %v", err)
	}
	writeFileT(t, path, `{"power": "sideways"}`)
	_, err = New(context.Background(), Config{Name: "n1"}, store)
	if err == nil || !strings.Contains(err.Error(), "sideways") {
		t.Errorf("New with a bad power state = %v", err)
	}
}

// sameRecord compares action records, times by instant (a persisted time
// has no monotonic reading).
func sameRecord(a, b *ActionRecord) bool {
	if a == nil || b == nil {
		return a == b
	}
	x, y := *a, *b
	if !x.At.Equal(y.At) {
		return false
	}
	if (x.By == nil) != (y.By == nil) || x.By != nil && *x.By != *y.By {
		return false
	}
	x.At, y.At = time.Time{}, time.Time{}
	x.By, y.By = nil, nil
	return x == y
}
