// Package atomicfile writes files that a crash leaves whole: the old
// content or the new, never a torn mix. The node state files, the event
// logs, the installation ID, the Redfish service UUID and the generated
// certificates are all written with it.
//
// github.com/google/renameio/v2 does the same job, but it does not sync
// the directory after the rename (a power cut could then bring back the
// old file after the daemon answered), and it probes $TMPDIR with a test
// file on every write; both matter for a thousand node files.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with data, mode perm: a temporary file in the same
// directory, written and fsynced, renamed over path, and the directory
// fsynced so that the rename itself survives a power cut.
func Write(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	renamed := false
	defer func() {
		if !renamed {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	// CreateTemp makes the file 0600 whatever the umask; Chmod sets the
	// mode asked for exactly (the umask does not apply to it either).
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	renamed = true
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
