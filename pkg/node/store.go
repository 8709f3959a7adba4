package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/powerjockey/powerjockey/pkg/internal/atomicfile"
	"github.com/powerjockey/powerjockey/pkg/power"
)

// Persisted is what a node persists: everything that must survive a restart
// or a SIGKILL.
type Persisted struct {
	// GUID is the node's system GUID, RFC 4122 byte order.
	GUID GUID `json:"guid"`
	// Power is the recorded power state: the target of the last successful
	// action. It is the truth only for nodes with no sensor.
	Power power.State `json:"power"`
	// Boot is the boot override.
	Boot Boot `json:"boot"`
	// LastAction is the most recent power action and how it ended.
	LastAction *ActionRecord `json:"last_action,omitempty"`
	// Manual is the manual action waiting for a human, if any.
	Manual *ManualAction `json:"manual,omitempty"`
	// OnTime is how long the node has been seen powered on (IPMI's
	// power-on hours counter).
	OnTime OnTime `json:"on_time,omitzero"`
	// Firsts records when a face first served a piece of content, by key
	// (see FirstServed).
	Firsts map[string]First `json:"firsts,omitempty"`
	// Indicator is the identify indicator state last set (empty: Off).
	Indicator Indicator `json:"indicator,omitempty"`
	// Media is the virtual CD's image, if one is attached.
	Media *Media `json:"media,omitempty"`
}

// First is when content with a fingerprint was first served.
type First struct {
	Fingerprint string    `json:"fingerprint"`
	At          time.Time `json:"at"`
}

// OnTime accumulates a node's powered-on time across restarts.
type OnTime struct {
	// Total is the on-time of closed intervals.
	Total time.Duration `json:"total_ns"`
	// Since is when the current on-interval began; zero while off.
	Since time.Time `json:"since,omitzero"`
}

// ActionRecord describes one power action.
type ActionRecord struct {
	Action power.Action `json:"action"`
	// Means is how it was done: an actuator's name ("pdu", "wol",
	// "exec"), several joined by "+" ("pdu+wol"), "manual", or "none"
	// when there was nothing to do.
	Means    string        `json:"means"`
	At       time.Time     `json:"at"`
	Result   Result        `json:"result"`
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration_ns"`
	// By is who asked for the action (absent in records written before
	// requesters were recorded).
	By *Requester `json:"by,omitempty"`
}

// Result is how a power action ended, or that it has not yet.
type Result string

// Results of power actions.
const (
	// ResultRunning: the first step was confirmed and background steps
	// (delays, Wake-on-LAN repeats) are still going.
	ResultRunning Result = "running"
	ResultOK      Result = "ok"
	ResultError   Result = "error"
	// ResultCancelled: a newer action on the node superseded it.
	ResultCancelled Result = "cancelled"
)

// MarshalText writes the result's name.
func (r Result) MarshalText() ([]byte, error) { return []byte(r), nil }

// UnmarshalText reads a result name written by MarshalText.
func (r *Result) UnmarshalText(b []byte) error {
	switch res := Result(b); res {
	case ResultRunning, ResultOK, ResultError, ResultCancelled:
		*r = res
		return nil
	}
	return fmt.Errorf("unknown action result %q", b)
}

// ManualAction is an action the node had no means for, announced to the
// operator: the fake_pxe workflow's human step, made visible.
type ManualAction struct {
	Action power.Action `json:"action"`
	Since  time.Time    `json:"since"`
}

// Store persists node state as one JSON file per node under a directory,
// with crash-safe writes: a SIGKILL at any moment leaves either the old or
// the new file, never a torn one.
type Store struct {
	dir string
	// installation is this state directory's random identity; nodes derive
	// their GUIDs from it, so a node needs no file until it has state.
	installation GUID
}

// OpenStore creates dir (and its nodes/ subdirectory) if needed.
func OpenStore(dir string) (*Store, error) {
	d := filepath.Join(dir, "nodes")
	if err := os.MkdirAll(d, 0o750); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	id, err := installationID(dir)
	if err != nil {
		return nil, err
	}
	return &Store{dir: d, installation: id}, nil
}

// installationID reads dir's random identity, creating it on first use.
func installationID(dir string) (GUID, error) {
	path := filepath.Join(dir, "installation-id")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		id := NewGUID()
		if err := writeFileAtomic(path, []byte(id.String()+"\n")); err != nil {
			return GUID{}, fmt.Errorf("state dir: %w", err)
		}
		return id, nil
	}
	if err != nil {
		return GUID{}, fmt.Errorf("state dir: %w", err)
	}
	id, err := ParseGUID(strings.TrimSpace(string(b)))
	if err != nil {
		return GUID{}, fmt.Errorf("state dir: %s is corrupt: %w", path, err)
	}
	return id, nil
}

// NodeGUID is the GUID of a node that has none recorded: a name-based UUID
// (version 5) in this installation's namespace, so it is stable across
// restarts without a file, and differs between installations that reuse
// node names (every TripleO lab has a compute-0).
func (s *Store) NodeGUID(name string) GUID { return nameGUID(s.installation, name) }

func (s *Store) path(name string) string { return filepath.Join(s.dir, name+".json") }

// eventsPath is the node's event log, beside its state file.
func (s *Store) eventsPath(name string) string { return filepath.Join(s.dir, name+".events.jsonl") }

// Load returns the persisted state of node name; ok is false when none exists.
func (s *Store) Load(name string) (st Persisted, ok bool, err error) {
	b, err := os.ReadFile(s.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return Persisted{}, false, nil
	}
	if err != nil {
		return Persisted{}, false, fmt.Errorf("load state of %s: %w", name, err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return Persisted{}, false, fmt.Errorf("load state of %s: %s is corrupt: %w", name, s.path(name), err)
	}
	return st, true, nil
}

// Save writes st atomically: temporary file, fsync, rename, fsync of the directory.
func (s *Store) Save(name string, st Persisted) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("save state of %s: %w", name, err)
	}
	if err := writeFileAtomic(s.path(name), append(b, '\n')); err != nil {
		return fmt.Errorf("save state of %s: %w", name, err)
	}
	return nil
}

// stateFileMode keeps state readable by the daemon's group (operators
// reading it with `discover --config`), never by others.
const stateFileMode = 0o640

func writeFileAtomic(path string, data []byte) error {
	return atomicfile.Write(path, data, stateFileMode)
}

// ReadState reads node name's persisted state under stateDir without
// creating anything, for read-only tools (discover --config); ok is false
// when the node has no state file.
func ReadState(stateDir, name string) (st Persisted, ok bool, err error) {
	s := &Store{dir: filepath.Join(stateDir, "nodes")}
	return s.Load(name)
}
