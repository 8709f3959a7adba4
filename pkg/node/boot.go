package node

import (
	"fmt"
	"time"

	"github.com/google/uuid"
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

// GUID is a node's system GUID in RFC 4122 byte order. It is a
// github.com/google/uuid UUID with the node layer's text form: persisted
// state files and the faces carry it as 8-4-4-4-12 lowercase hex.
type GUID uuid.UUID

// NewGUID returns a random (version 4) GUID.
func NewGUID() GUID { return GUID(uuid.New()) }

// ParseGUID parses the textual form written by String (and the other forms
// github.com/google/uuid accepts).
func ParseGUID(s string) (GUID, error) {
	u, err := uuid.Parse(s)
	if err != nil {
		return GUID{}, fmt.Errorf("invalid GUID %q: %w", s, err)
	}
	return GUID(u), nil
}

// nameGUID is the name-based (version 5, SHA-1) GUID of name in the
// namespace space.
func nameGUID(space GUID, name string) GUID {
	return GUID(uuid.NewSHA1(uuid.UUID(space), []byte(name)))
}

// IsZero reports whether g is unset.
func (g GUID) IsZero() bool { return g == GUID{} }

// String formats g as 8-4-4-4-12 lowercase hex.
func (g GUID) String() string { return uuid.UUID(g).String() }

// MarshalText writes the textual form (JSON: a string).
func (g GUID) MarshalText() ([]byte, error) { return uuid.UUID(g).MarshalText() }

// UnmarshalText reads the textual form.
func (g *GUID) UnmarshalText(b []byte) error {
	p, err := ParseGUID(string(b))
	if err != nil {
		return err
	}
	*g = p
	return nil
}
