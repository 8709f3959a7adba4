package node

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// BootDevice is a boot override target. The names are protocol-neutral;
// the IPMI and Redfish faces map them to their own encodings.
type BootDevice string

// Boot devices. Not every protocol can express every device.
const (
	BootNone         BootDevice = "none"
	BootPXE          BootDevice = "pxe"
	BootDisk         BootDevice = "disk"
	BootSafe         BootDevice = "safe"
	BootDiag         BootDevice = "diag"
	BootCDROM        BootDevice = "cdrom"
	BootBIOS         BootDevice = "bios"
	BootRemoteFloppy BootDevice = "remote-floppy"
	BootRemoteCDROM  BootDevice = "remote-cdrom"
	BootRemoteMedia  BootDevice = "remote-media"
	BootRemoteDisk   BootDevice = "remote-disk"
	BootFloppy       BootDevice = "floppy"
)

// Boot is a node's boot override. A machine without a BMC cannot be told
// where to boot (its BIOS boots PXE first); the override is stored and
// reported so that the provisioning tools that set it see what they set.
type Boot struct {
	// Valid is false when no override is in effect.
	Valid bool `json:"valid"`
	// Persistent applies the override to all future boots, not just the next.
	Persistent bool `json:"persistent"`
	// UEFI selects EFI boot rather than legacy BIOS.
	UEFI   bool       `json:"uefi"`
	Device BootDevice `json:"device"`
	// ExpiresAt, when set, ends a one-time override that no boot consumed
	// (IPMI's 60-second boot-flag timeout).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// IPMI holds IPMI boot-option bits that have no meaning to powerjockey
	// but must read back exactly as written.
	IPMI IPMIBootBits `json:"ipmi"`
}

// IPMIBootBits are uninterpreted IPMI boot-option bits (IPMI v2.0 Table
// 28-14), kept so that what a client sets reads back unchanged.
type IPMIBootBits struct {
	// Flags is boot-flags parameter 5 with the bits interpreted by Boot
	// (valid, persistent, EFI, device selector) cleared.
	Flags [5]byte `json:"flags"`
	// ValidBitClearing is parameter 3.
	ValidBitClearing byte `json:"valid_bit_clearing"`
	// InfoAcknowledge is parameter 4's acknowledge data.
	InfoAcknowledge byte `json:"info_acknowledge"`
}

// effective returns b with an expired one-time override cleared.
func (b Boot) effective(now time.Time) Boot {
	if b.Valid && !b.Persistent && !b.ExpiresAt.IsZero() && now.After(b.ExpiresAt) {
		b.Valid = false
		b.ExpiresAt = time.Time{}
	}
	return b
}

// GUID is a node's system GUID in RFC 4122 byte order.
type GUID [16]byte

// NewGUID returns a random (version 4) GUID.
func NewGUID() GUID {
	var g GUID
	_, _ = rand.Read(g[:])
	g[6] = g[6]&0x0f | 0x40
	g[8] = g[8]&0x3f | 0x80
	return g
}

// IsZero reports whether g is unset.
func (g GUID) IsZero() bool { return g == GUID{} }

// String formats g as 8-4-4-4-12 lowercase hex.
func (g GUID) String() string {
	h := hex.EncodeToString(g[:])
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
}

// MarshalJSON writes the textual form.
func (g GUID) MarshalJSON() ([]byte, error) { return json.Marshal(g.String()) }

// UnmarshalJSON reads the textual form.
func (g *GUID) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	raw, err := hex.DecodeString(stripDashes(s))
	if err != nil || len(raw) != 16 {
		return fmt.Errorf("invalid GUID %q", s)
	}
	copy(g[:], raw)
	return nil
}

func stripDashes(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '-' {
			out = append(out, s[i])
		}
	}
	return string(out)
}
