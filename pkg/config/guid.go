package config

import (
	"fmt"

	"github.com/google/uuid"
)

// ParseGUID parses a textual UUID into its 16 bytes in RFC 4122 (network)
// order. The configuration takes only the canonical 8-4-4-4-12 form (as
// dmidecode and SMBIOS tools print it), though the parser would take
// braces, a urn:uuid: prefix or no dashes: one spelling per GUID keeps
// configurations greppable.
func ParseGUID(s string) ([16]byte, error) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return [16]byte{}, fmt.Errorf("want a UUID like 4c4c4544-0042-3010-8052-b7c04f4b4d31, got %q", s)
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return [16]byte{}, fmt.Errorf("want a UUID of hex digits, got %q", s)
	}
	return u, nil
}
