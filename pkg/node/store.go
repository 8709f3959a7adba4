package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/powerjockey/powerjockey/pkg/power"
)

// State is what a node persists: everything that must survive a restart
// or a SIGKILL.
type State struct {
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
}

// ActionRecord describes one power action.
type ActionRecord struct {
	Action string    `json:"action"`
	Means  string    `json:"means"`
	At     time.Time `json:"at"`
	// Result is "ok", "running" (background steps still going), "error" or "cancelled".
	Result   string        `json:"result"`
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// ManualAction is an action the node had no means for, announced to the
// operator: the fake_pxe workflow's human step, made visible.
type ManualAction struct {
	Action string    `json:"action"`
	Since  time.Time `json:"since"`
}

// Store persists node state as one JSON file per node under a directory,
// with crash-safe writes: a SIGKILL at any moment leaves either the old or
// the new file, never a torn one.
type Store struct {
	dir string

	mu sync.Mutex
	// deferSync, while set, leaves the fsyncs of Save to Flush: creating a
	// thousand nodes' files at first start costs one filesystem sync, not a
	// thousand.
	deferSync bool
}

// OpenStore creates dir (and its nodes/ subdirectory) if needed.
func OpenStore(dir string) (*Store, error) {
	d := filepath.Join(dir, "nodes")
	if err := os.MkdirAll(d, 0o750); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	return &Store{dir: d}, nil
}

func (s *Store) path(name string) string { return filepath.Join(s.dir, name+".json") }

// Load returns the persisted state of node name; ok is false when none exists.
func (s *Store) Load(name string) (st State, ok bool, err error) {
	b, err := os.ReadFile(s.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, false, nil
	}
	if err != nil {
		return State{}, false, fmt.Errorf("load state of %s: %w", name, err)
	}
	if len(b) == 0 {
		// Only a crash during a deferred-sync batch (first creation, before
		// any endpoint served the node) leaves an empty file: nothing was
		// promised yet, so start afresh.
		return State{}, false, nil
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return State{}, false, fmt.Errorf("load state of %s: %s is corrupt: %w", name, s.path(name), err)
	}
	return st, true, nil
}

// Save writes st atomically: temporary file, fsync, rename, fsync of the directory.
func (s *Store) Save(name string, st State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("save state of %s: %w", name, err)
	}
	s.mu.Lock()
	durable := !s.deferSync
	s.mu.Unlock()
	if err := writeFileAtomic(s.path(name), append(b, '\n'), durable); err != nil {
		return fmt.Errorf("save state of %s: %w", name, err)
	}
	return nil
}

// DeferSync makes Save skip its fsyncs until Flush. The caller must Flush
// before anything depends on the saved state (before serving the nodes).
func (s *Store) DeferSync() {
	s.mu.Lock()
	s.deferSync = true
	s.mu.Unlock()
}

// Flush makes everything saved since DeferSync durable with one sync of the
// filesystem and of the directory, and returns Save to syncing each write.
func (s *Store) Flush() error {
	s.mu.Lock()
	s.deferSync = false
	s.mu.Unlock()
	d, err := os.Open(s.dir)
	if err != nil {
		return fmt.Errorf("sync state dir: %w", err)
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("sync state dir: %w", err)
	}
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync state dir: %w", err)
	}
	return nil
}

func writeFileAtomic(path string, data []byte, sync bool) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(0o640); err != nil {
		return err
	}
	if sync {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	if !sync {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
