package config

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// ParseGUID parses a textual UUID ("8-4-4-4-12" hex digits) into its 16
// bytes in RFC 4122 (network) order.
func ParseGUID(s string) ([16]byte, error) {
	var g [16]byte
	parts := strings.Split(s, "-")
	if len(parts) != 5 || len(parts[0]) != 8 || len(parts[1]) != 4 || len(parts[2]) != 4 || len(parts[3]) != 4 || len(parts[4]) != 12 {
		return g, fmt.Errorf("want a UUID like 4c4c4544-0042-3010-8052-b7c04f4b4d31, got %q", s)
	}
	b, err := hex.DecodeString(strings.Join(parts, ""))
	if err != nil {
		return g, fmt.Errorf("want a UUID of hex digits, got %q", s)
	}
	copy(g[:], b)
	return g, nil
}
