package redfish

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/uuid"

	"github.com/powerjockey/powerjockey/pkg/internal/atomicfile"
)

// serviceUUIDFile holds the service root's UUID under the Redfish state
// directory.
const serviceUUIDFile = "service-uuid"

// LoadServiceUUID returns the service root's UUID (Options.ServiceUUID),
// kept in dir across restarts: clients such as sushy tell services apart by
// it, so a restart must not make the service look like another one. A
// missing or unreadable file gets a new random UUID.
func LoadServiceUUID(dir string) (string, error) {
	path := filepath.Join(dir, serviceUUIDFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if u, err := uuid.Parse(strings.TrimSpace(string(b))); err == nil {
			return u.String(), nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("service UUID: %w", err)
	}
	u := uuid.NewString()
	if err := atomicfile.Write(path, []byte(u+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("service UUID: %w", err)
	}
	return u, nil
}
