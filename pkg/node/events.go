package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/powerjockey/powerjockey/pkg/power"
)

// EventKind says what happened to a node. The kinds are the node's own
// vocabulary; each face maps them to its format (an IPMI SEL record, a
// Redfish LogEntry, a line on the page's timeline).
type EventKind string

// Event kinds.
const (
	// EventPowerAction: a power action ended (Action, Means, Result,
	// Error, By). A manual action's announcement is one too (Means "manual").
	EventPowerAction EventKind = "power_action"
	// EventPowerChanged: a sensor saw the power state change (From, To,
	// Source, Watts). Unrequested is set when no action of ours was under
	// way: a machine that shut itself down, or a change behind our back.
	EventPowerChanged EventKind = "power_changed"
	// EventManualDone: a pending manual action was done, acknowledged by
	// the operator (By) or seen by a sensor.
	EventManualDone EventKind = "manual_done"
	// EventSensorFailed: the node's sensors (its PDU, probe or hook)
	// stopped answering (Error).
	EventSensorFailed EventKind = "sensor_failed"
	// EventSensorRecovered: they answer again.
	EventSensorRecovered EventKind = "sensor_recovered"
	// EventBootOverride: the boot override was set or cleared (Boot, By).
	EventBootOverride EventKind = "boot_override"
	// EventLogCleared: the log was cleared (By); it is then the only entry.
	EventLogCleared EventKind = "log_cleared"
	// EventIndicator: the identify indicator was set (By); recorded only,
	// the machine has no indicator light.
	EventIndicator EventKind = "indicator"
	// EventBootScript: the boot endpoint served the machine its boot
	// script (Boot: the override it carried out; By: channel "boot" and
	// the machine's address); Warning when the override could not be
	// obeyed and the script fell back.
	EventBootScript EventKind = "boot_script"
	// EventMediaInserted: an image was inserted into (or attached to) the
	// virtual CD (By).
	EventMediaInserted EventKind = "media_inserted"
	// EventMediaEjected: the virtual CD's image was ejected (By).
	EventMediaEjected EventKind = "media_ejected"
	// EventMediaFailed: the virtual CD's image could not be served to the
	// machine at boot (Error).
	EventMediaFailed EventKind = "media_failed"
)

// Severity grades an event, in Redfish's words.
type Severity string

// Severities.
const (
	SeverityOK       Severity = "OK"
	SeverityWarning  Severity = "Warning"
	SeverityCritical Severity = "Critical"
)

// Event is one entry of a node's event log.
type Event struct {
	// ID increases by one per event and is never reused by a node, not
	// even after the log is cleared or the daemon restarts.
	ID       uint32    `json:"id"`
	At       time.Time `json:"at"`
	Kind     EventKind `json:"kind"`
	Severity Severity  `json:"severity"`
	// Message is a sentence for people, complete on its own.
	Message string `json:"message"`

	Action      power.Action `json:"action,omitempty"`
	Means       string       `json:"means,omitempty"`
	Result      Result       `json:"result,omitempty"`
	Error       string       `json:"error,omitempty"`
	From        power.State  `json:"from,omitempty"`
	To          power.State  `json:"to,omitempty"`
	Source      power.Source `json:"source,omitempty"`
	Watts       *float64     `json:"watts,omitempty"`
	Unrequested bool         `json:"unrequested,omitempty"`
	Boot        *Boot        `json:"boot,omitempty"`
	By          *Requester   `json:"by,omitempty"`
}

// DefaultEventLogSize is how many events a node keeps: a real BMC's SEL
// holds a few hundred to a few thousand records.
const DefaultEventLogSize = 256

// eventLog is a node's bounded, persisted event log. It is read from disk
// on first use, so nodes that nobody asks about cost nothing at start-up.
// Events are appended to a JSON-lines file (one write, no fsync: a SIGKILL
// loses nothing, a power loss may lose the last lines); the file is
// rewritten atomically with the newest events when it grows to twice the
// limit, and when the log is cleared.
type eventLog struct {
	path  string
	limit int

	mu     sync.Mutex
	loaded bool
	events []Event // oldest first, at most limit
	nextID uint32
	lines  int // lines in the file
}

func newEventLog(path string, limit int) *eventLog {
	if limit <= 0 {
		limit = DefaultEventLogSize
	}
	return &eventLog{path: path, limit: limit}
}

// loadLocked reads the file once. A torn last line (a crash mid-write) or
// any unreadable line is skipped rather than failing the node.
func (l *eventLog) loadLocked() error {
	if l.loaded {
		return nil
	}
	b, err := os.ReadFile(l.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("event log %s: %w", l.path, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		l.lines++
		var e Event
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.ID == 0 {
			continue
		}
		l.events = append(l.events, e)
		l.nextID = max(l.nextID, e.ID)
	}
	if len(l.events) > l.limit {
		l.events = append([]Event(nil), l.events[len(l.events)-l.limit:]...)
	}
	l.nextID++
	l.loaded = true
	return nil
}

// add assigns e its ID, keeps it and appends it to the file.
func (l *eventLog) add(e Event) (Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.loadLocked(); err != nil {
		return e, err
	}
	e.ID = l.nextID
	l.nextID++
	l.events = append(l.events, e)
	if len(l.events) > l.limit {
		l.events = append(l.events[:0:0], l.events[len(l.events)-l.limit:]...)
	}
	if l.lines+1 >= 2*l.limit {
		return e, l.rewriteLocked()
	}
	line, err := json.Marshal(e)
	if err != nil {
		return e, err
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return e, fmt.Errorf("event log %s: %w", l.path, err)
	}
	_, werr := f.Write(append(line, '\n'))
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		return e, fmt.Errorf("event log %s: %w", l.path, err)
	}
	l.lines++
	return e, nil
}

// rewriteLocked replaces the file with the events kept in memory.
func (l *eventLog) rewriteLocked() error {
	var buf bytes.Buffer
	for _, e := range l.events {
		line, err := json.Marshal(e)
		if err != nil {
			return err
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	if err := writeFileAtomic(l.path, buf.Bytes()); err != nil {
		return fmt.Errorf("event log %s: %w", l.path, err)
	}
	l.lines = len(l.events)
	return nil
}

// list returns a copy of the events, oldest first.
func (l *eventLog) list() ([]Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.loadLocked(); err != nil {
		return nil, err
	}
	return append([]Event(nil), l.events...), nil
}

// clear empties the log, keeping one entry that says who cleared it.
func (l *eventLog) clear(e Event) (Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.loadLocked(); err != nil {
		return e, err
	}
	e.ID = l.nextID
	l.nextID++
	l.events = []Event{e}
	return e, l.rewriteLocked()
}

// info reports the number of events and when the last was added (zero
// time when none).
func (l *eventLog) info() (count int, last time.Time, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.loadLocked(); err != nil {
		return 0, time.Time{}, err
	}
	if n := len(l.events); n > 0 {
		return n, l.events[n-1].At, nil
	}
	return 0, time.Time{}, nil
}

// Events returns the node's event log, oldest first.
func (n *Node) Events() ([]Event, error) { return n.events.list() }

// EventLogSize is how many events the node keeps before dropping the oldest.
func (n *Node) EventLogSize() int { return n.events.limit }

// ClearEvents empties the event log; the one entry left says who cleared
// it (ctx carries the requester).
func (n *Node) ClearEvents(ctx context.Context) error {
	by := RequesterFrom(ctx)
	e := Event{At: time.Now(), Kind: EventLogCleared, Severity: SeverityOK, By: &by,
		Message: "Event log cleared" + by.phrase() + "."}
	_, err := n.events.clear(e)
	if err == nil {
		n.log.Info("event log cleared", by.logAttrs()...)
	}
	return err
}

// record appends e to the event log. A log that cannot be written is
// reported, not fatal: the action it describes has happened.
func (n *Node) record(e Event) {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	if _, err := n.events.add(e); err != nil {
		n.log.Error("cannot record event", "kind", string(e.Kind), "err", err)
	}
}

// MeterSamples returns the node's metered draw since t (at most
// MeterHistory back), in MeterBucket buckets, oldest first; none when the
// node has no meter.
func (n *Node) MeterSamples(since time.Time) []MeterSample {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.meter == nil {
		return nil
	}
	return n.meter.since(since)
}

// phrase says who asked, for event messages: " by admin over ipmi from
// 192.0.2.7:41000", or "" for the daemon itself.
func (r Requester) phrase() string {
	if r.Channel == "" || r.Channel == ChannelInternal {
		return ""
	}
	s := " over " + string(r.Channel)
	if r.User != "" {
		s = " by " + r.User + s
	}
	if r.Source != "" {
		s += " from " + r.Source
	}
	return s
}

func actionEvent(node string, rec *ActionRecord) Event {
	e := Event{At: rec.At.Add(rec.Duration), Kind: EventPowerAction, Action: rec.Action, Means: rec.Means,
		Result: rec.Result, Error: rec.Error, By: rec.By, Severity: SeverityOK}
	var by string
	if rec.By != nil {
		by = rec.By.phrase()
	}
	switch {
	case rec.Means == "manual":
		e.Severity = SeverityWarning
		e.Message = fmt.Sprintf("Manual action needed: power %s %s (requested%s).", node, rec.Action, by)
	case rec.Result == ResultError:
		e.Severity = SeverityWarning
		e.Message = fmt.Sprintf("Power %s via %s failed%s: %s", rec.Action, rec.Means, by, rec.Error)
	case rec.Result == ResultCancelled:
		e.Message = fmt.Sprintf("Power %s via %s was superseded by a newer action (requested%s).", rec.Action, rec.Means, by)
	default:
		e.Message = fmt.Sprintf("Power %s via %s done%s.", rec.Action, rec.Means, by)
	}
	return e
}

func bootEvent(b Boot, by Requester) Event {
	msg := "Boot override cleared" + by.phrase() + "."
	if b.Valid {
		scope := "next boot"
		if b.Persistent {
			scope = "all boots"
		}
		mode := "legacy"
		if b.UEFI {
			mode = "UEFI"
		}
		msg = fmt.Sprintf("Boot override set to %s (%s, %s)%s.", b.Device, scope, mode, by.phrase())
	}
	return Event{Kind: EventBootOverride, Severity: SeverityOK, Boot: &b, By: &by, Message: msg}
}

func manualDoneEvent(m ManualAction, by *Requester) Event {
	e := Event{Kind: EventManualDone, Severity: SeverityOK, Action: m.Action, By: by}
	if by != nil {
		e.Message = fmt.Sprintf("Manual action power %s acknowledged%s.", m.Action, by.phrase())
	} else {
		e.Message = fmt.Sprintf("Manual action power %s seen done by the node's sensors.", m.Action)
	}
	return e
}
