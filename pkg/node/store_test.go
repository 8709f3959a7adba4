package node

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/power"
	"github.com/powerjockey/powerjockey/test/testkit"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFileT(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// leftovers lists files in dir other than the node state files.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestStoreRoundTrip(t *testing.T) {
	store, dir := openStore(t)
	nodes := filepath.Join(dir, "nodes")
	if st, ok, err := store.Load("n1"); err != nil || ok || !reflect.DeepEqual(st, Persisted{}) {
		t.Errorf("Load of a missing node = %+v, %v, %v; want zero, false, nil", st, ok, err)
	}
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	want := Persisted{
		GUID:       NewGUID(),
		Power:      power.StateOff,
		Boot:       Boot{Valid: true, Device: BootPXE, ExpiresAt: at.Add(time.Minute), IPMI: IPMIBootBits{Flags: [5]byte{9, 8, 7, 6, 5}, ValidBitClearing: 1, InfoAcknowledge: 2}},
		LastAction: &ActionRecord{Action: power.Off, Means: "pdu", At: at, Result: "error", Error: "timeout", Duration: 1500 * time.Millisecond},
		Manual:     &ManualAction{Action: power.On, Since: at},
	}
	for i := range 3 { // overwriting works too
		if err := store.Save("n1", want); err != nil {
			t.Fatalf("Save %d: %v", i, err)
		}
	}
	got, ok, err := store.Load("n1")
	if err != nil || !ok {
		t.Fatalf("Load = %v, %v", ok, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load = %+v\nwant   %+v", got, want)
	}
	if extra := leftovers(t, nodes); len(extra) != 0 {
		t.Errorf("Save left files behind: %v", extra)
	}
	st, err := os.Stat(filepath.Join(nodes, "n1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o640 {
		t.Errorf("state file mode = %v, want 0640", st.Mode().Perm())
	}
	if raw := readFile(t, filepath.Join(nodes, "n1.json")); !strings.HasSuffix(raw, "}\n") || !strings.Contains(raw, `"power": "off"`) {
		t.Errorf("state file is not indented JSON ending in a newline:\n%s", raw)
	}
}

func TestStoreNoTempFilesAfterNodeActivity(t *testing.T) {
	store, dir := openStore(t)
	log := &testkit.Journal{}
	n := newNode(t, Config{Means: Means{Feed: testkit.NewFeed(log, power.StateOff), Waker: testkit.NewActuator("wol", log, power.On)}, OnDelay: time.Millisecond, CycleDelay: time.Millisecond}, store)
	for _, a := range []power.Action{power.On, power.Cycle, power.Off, power.SoftOff} {
		if err := n.Power(t.Context(), a); err != nil {
			t.Fatal(err)
		}
		settled(t, n)
	}
	if err := n.SetBoot(context.Background(), Boot{Valid: true, Device: BootPXE}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := n.Acknowledge(context.Background()); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "nodes"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"n1.events.jsonl", "n1.json"}) {
		t.Errorf("state dir holds %v, want only n1.json and its event log", names)
	}
}

func TestStoreCorrupt(t *testing.T) {
	store, dir := openStore(t)
	path := filepath.Join(dir, "nodes", "n1.json")
	tests := []struct{ name, content string }{
		{"empty", ""},
		{"truncated", `{"guid": "4c4c4544-0042-3010-8052-b7c04f4b4d31", "power": "o`},
		{"not an object", `[1, 2]`},
		{"bad guid", `{"guid": "xyz"}`},
		{"bad power", `{"power": 1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writeFileT(t, path, tt.content)
			st, ok, err := store.Load("n1")
			if err == nil {
				t.Fatalf("Load accepted %q: %+v", tt.content, st)
			}
			if ok || !reflect.DeepEqual(st, Persisted{}) {
				t.Errorf("Load returned %+v, %v with an error", st, ok)
			}
			if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, "corrupt") || !strings.Contains(msg, "n1") {
				t.Errorf("error %q does not name the file and say it is corrupt", msg)
			}
		})
	}
	// Saving over a corrupt file repairs it.
	if err := store.Save("n1", Persisted{Power: power.StateOn}); err != nil {
		t.Fatal(err)
	}
	if st, ok, err := store.Load("n1"); err != nil || !ok || st.Power != power.StateOn {
		t.Errorf("Load after repair = %+v, %v, %v", st, ok, err)
	}
}

func TestStoreErrors(t *testing.T) {
	t.Run("state dir is a file", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "file")
		writeFileT(t, f, "x")
		if _, err := OpenStore(f); err == nil || !strings.Contains(err.Error(), "state dir") {
			t.Errorf("OpenStore on a file = %v", err)
		}
	})
	t.Run("unreadable state", func(t *testing.T) {
		store, dir := openStore(t)
		// A directory where the file should be cannot be read as state.
		if err := os.Mkdir(filepath.Join(dir, "nodes", "n1.json"), 0o700); err != nil {
			t.Fatal(err)
		}
		if _, _, err := store.Load("n1"); err == nil || !strings.Contains(err.Error(), "load state of n1") {
			t.Errorf("Load = %v", err)
		}
		if err := store.Save("n1", Persisted{}); err == nil || !strings.Contains(err.Error(), "save state of n1") {
			t.Errorf("Save over a directory = %v", err)
		}
		if extra := leftovers(t, filepath.Join(dir, "nodes")); len(extra) != 0 {
			t.Errorf("failed Save left %v behind", extra)
		}
	})
	t.Run("state dir removed", func(t *testing.T) {
		store, dir := openStore(t)
		if err := os.RemoveAll(filepath.Join(dir, "nodes")); err != nil {
			t.Fatal(err)
		}
		err := store.Save("n1", Persisted{})
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Save into a missing dir = %v", err)
		}
		// A node with a configured GUID must be able to record it.
		n, err := New(t.Context(), Config{Name: "n1", GUID: GUID{1}}, store)
		if err == nil {
			n.Close()
			t.Fatal("New succeeded although the configured GUID cannot be saved")
		}
	})
	t.Run("OpenStore creates nodes dir", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a", "b")
		if _, err := OpenStore(dir); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(filepath.Join(dir, "nodes"))
		if err != nil || !st.IsDir() || st.Mode().Perm() != 0o750 {
			t.Errorf("nodes dir = %v, %v; want a 0750 directory", st, err)
		}
	})
}

func TestNewDefaults(t *testing.T) {
	n := newNode(t, Config{}, nil)
	c := n.cfg
	if c.StatusSource != "auto" || c.MaxAge != 2*time.Second || c.StatusWait != 1500*time.Millisecond || c.MaxStale != 30*time.Second || c.Logger == nil {
		t.Errorf("defaults = source %q maxAge %v wait %v stale %v logger %v", c.StatusSource, c.MaxAge, c.StatusWait, c.MaxStale, c.Logger)
	}
	if n.Name() != "n1" {
		t.Errorf("Name = %q", n.Name())
	}
	s := n.Snapshot()
	if s.Name != "n1" || s.Busy || s.Persisted.Power != power.Unknown || s.Persisted.Boot.Device != BootNone || s.Persisted.LastAction != nil {
		t.Errorf("fresh snapshot = %+v", s)
	}
}

func TestNodeGUIDIsStableAndPerInstallation(t *testing.T) {
	dir := t.TempDir()
	a, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	other, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	g := a.NodeGUID("compute-0")
	if g != again.NodeGUID("compute-0") {
		t.Fatal("GUID changed across openings of one state dir")
	}
	if g == a.NodeGUID("compute-1") || g == other.NodeGUID("compute-0") {
		t.Fatal("GUIDs collide across names or installations")
	}
	if g[6]>>4 != 5 || g[8]>>6 != 2 {
		t.Fatalf("%s is not an RFC 4122 version 5 UUID", g)
	}
	// The derivation must not change between versions: a node without a
	// state file would get another GUID after an upgrade. The expected
	// value is Python's uuid.uuid5(UUID(installation), "compute-0").
	fixed := &Store{installation: GUID{0x4c, 0x4c, 0x45, 0x44, 0, 0x42, 0x30, 0x10, 0x80, 0x52, 0xb7, 0xc0, 0x4f, 0x4b, 0x4d, 0x31}}
	if got := fixed.NodeGUID("compute-0").String(); got != "e6e6c649-7e39-5e47-b86c-9dbce19e1e39" {
		t.Errorf("NodeGUID = %s, want e6e6c649-7e39-5e47-b86c-9dbce19e1e39", got)
	}
}
