package ipmi

import (
	"github.com/powerjockey/powerjockey/pkg/node"
)

// bootSelectors maps the boot device selector of boot-flags parameter 5
// (IPMI v2.0 Table 28-14, data 2 bits [5:2]) to powerjockey's devices.
var bootSelectors = map[byte]node.BootDevice{
	0x0: node.BootNone,
	0x1: node.BootPXE,
	0x2: node.BootDisk,
	0x3: node.BootSafe,
	0x4: node.BootDiag,
	0x5: node.BootCDROM,
	0x6: node.BootBIOS,
	0x7: node.BootRemoteFloppy,
	0x8: node.BootRemoteMedia,
	0x9: node.BootRemoteCDROM,
	0xB: node.BootRemoteDisk,
	0xF: node.BootFloppy,
}

// Bits of parameter 5 that node.Boot interprets; all others are kept raw.
const (
	flagValid      = 0x80 // data 1 bit 7
	flagPersistent = 0x40 // data 1 bit 6
	flagEFI        = 0x20 // data 1 bit 5
	deviceMask     = 0x3C // data 2 bits [5:2]
)

// decodeBootFlags turns the 5 data bytes of parameter 5 into a node.Boot;
// ok is false for a reserved device selector.
func decodeBootFlags(d [5]byte) (b node.Boot, ok bool) {
	dev, ok := bootSelectors[(d[1]&deviceMask)>>2]
	if !ok {
		return b, false
	}
	b.Valid = d[0]&flagValid != 0
	b.Persistent = d[0]&flagPersistent != 0
	b.UEFI = d[0]&flagEFI != 0
	b.Device = dev
	b.IPMI.Flags = d
	b.IPMI.Flags[0] &^= flagValid | flagPersistent | flagEFI
	b.IPMI.Flags[1] &^= deviceMask
	return b, true
}

// encodeBootFlags is the inverse of decodeBootFlags.
func encodeBootFlags(b node.Boot) [5]byte {
	d := b.IPMI.Flags
	if b.Valid {
		d[0] |= flagValid
	}
	if b.Persistent {
		d[0] |= flagPersistent
	}
	if b.UEFI {
		d[0] |= flagEFI
	}
	for sel, dev := range bootSelectors {
		if dev == b.Device {
			d[1] |= sel << 2
			break
		}
	}
	return d
}
