package node

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/power"
)

// TestStateFileCompatibility loads a state file and an event log written
// by the version before the typed vocabularies (testdata/compat), checks
// what was read, and writes them back byte for byte: an upgrade must read
// what the running daemon left, and a downgrade what the new one writes.
func TestStateFileCompatibility(t *testing.T) {
	src := filepath.Join("testdata", "compat", "nodes")
	s := &Store{dir: src}
	st, ok, err := s.Load("compat")
	if err != nil || !ok {
		t.Fatalf("Load = %v, %v", ok, err)
	}
	at := time.Date(2026, 11, 26, 9, 30, 0, 123456789, time.UTC)
	if st.GUID.String() != "4c4c4544-0042-3010-8052-b7c04f4b4d31" || st.Power != power.StateOn ||
		st.Boot.Device != BootPXE || !st.Boot.UEFI || st.Indicator != IndicatorBlinking {
		t.Errorf("state = %+v", st)
	}
	la := st.LastAction
	if la == nil || la.Action != power.Cycle || la.Means != "pdu+wol" || la.Result != ResultRunning || !la.At.Equal(at) ||
		la.Duration != 1500*time.Millisecond || la.By == nil || la.By.Channel != ChannelIPMI || la.By.User != "admin" {
		t.Errorf("last action = %+v", la)
	}
	if m := st.Manual; m == nil || m.Action != power.SoftOff || !m.Since.Equal(at) {
		t.Errorf("manual = %+v", m)
	}

	out := t.TempDir()
	back := &Store{dir: out}
	if err := back.Save("compat", st); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(src, "compat.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(out, "compat.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("written back:\n%s\nwant:\n%s", got, want)
	}

	// The event log: read, then each event written as the log writes it.
	el := newEventLog(filepath.Join(src, "compat.events.jsonl"), 0)
	events, err := el.list()
	if err != nil || len(events) != 3 {
		t.Fatalf("events = %+v, %v", events, err)
	}
	if e := events[0]; e.Action != power.Cycle || e.Result != ResultRunning || e.By.Channel != ChannelIPMI {
		t.Errorf("event 1 = %+v", e)
	}
	if e := events[1]; e.Source != power.SourceMetering || e.From != power.StateOn || e.To != power.StateOff {
		t.Errorf("event 2 = %+v", e)
	}
	if e := events[2]; e.Action != power.Off || e.Result != ResultCancelled {
		t.Errorf("event 3 = %+v", e)
	}
	lines, err := os.ReadFile(filepath.Join(src, "compat.events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(strings.TrimSpace(string(lines)), "\n") {
		b, err := json.Marshal(events[i])
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != line {
			t.Errorf("event %d written back:\n%s\nwant:\n%s", i+1, b, line)
		}
	}
}
