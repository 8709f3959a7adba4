package redfish

import (
	"os"
	"path/filepath"
	"testing"
)

func TestServiceUUIDStable(t *testing.T) {
	dir := t.TempDir()
	u1, err := LoadServiceUUID(dir)
	if err != nil {
		t.Fatal(err)
	}
	u2, err := LoadServiceUUID(dir)
	if err != nil || u1 != u2 || len(u1) != 36 {
		t.Errorf("service UUID %q then %q (%v)", u1, u2, err)
	}
	// A file written by an earlier version (the same text form) is kept.
	const earlier = "4c4c4544-0042-3010-8052-b7c04f4b4d31"
	if err := os.WriteFile(filepath.Join(dir, serviceUUIDFile), []byte(earlier+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if u, err := LoadServiceUUID(dir); err != nil || u != earlier {
		t.Errorf("service UUID %q (%v), want %s kept", u, err, earlier)
	}
}
