package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// ErrLocked means another powerjockey process owns the state directory.
var ErrLocked = errors.New("state directory is in use by another powerjockey process")

// Lock is an exclusive lock on a state directory: two processes driving the
// same PDUs and writing the same node files would undo each other.
type Lock struct{ f *os.File }

// LockStateDir takes the lock on dir (creating it), failing at once with
// ErrLocked when another process holds it. The kernel drops the lock when
// the process dies, so a SIGKILL never leaves it stale.
func LockStateDir(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("state dir lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", dir, ErrLocked)
		}
		return nil, fmt.Errorf("state dir lock: %w", err)
	}
	return &Lock{f: f}, nil
}

// Unlock releases the lock.
func (l *Lock) Unlock() error { return l.f.Close() }
