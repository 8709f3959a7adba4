package ipmi

import (
	"context"

	"github.com/bougou/go-ipmi/pkg/hal"
)

// encodeFRU builds FRU device 0 (the BMC's built-in FRU) per the IPMI
// Platform Management FRU Information Storage Definition v1.0: a common
// header, a chassis and a product info area. Empty fields are encoded
// with length 0, which ipmitool and ipmi-fru leave out. There is no board
// area: nothing is known about the board apart from the product, and
// copying the product's fields there would invent a board serial.
func encodeFRU(f FRUInfo) []byte {
	chassisType := f.ChassisType
	if chassisType == 0 {
		chassisType = 0x02 // Unknown
	}
	chassis := fruArea([]byte{chassisType}, f.PartNumber, f.Serial)
	product := fruArea([]byte{0x00}, // language: English
		f.Manufacturer, f.Product, f.PartNumber, f.Version, f.Serial, f.AssetTag, "")
	// Common header: version 1; internal use, chassis, board, product and
	// multi-record offsets in multiples of 8 bytes (0: absent); pad;
	// checksum.
	hdr := []byte{0x01, 0x00, 1, 0x00, byte(1 + len(chassis)/8), 0x00, 0x00, 0}
	hdr[7] = checksum(hdr[:7])
	out := append(hdr, chassis...)
	return append(out, product...)
}

// fruArea is one info area: format version, length, the fixed bytes, the
// type/length-coded fields, the end marker, padding to 8 bytes and the
// zero checksum.
func fruArea(fixed []byte, fields ...string) []byte {
	a := append([]byte{0x01, 0x00}, fixed...)
	for _, s := range fields {
		a = append(a, fruField(s)...)
	}
	a = append(a, 0xC1) // end of fields
	for (len(a)+1)%8 != 0 {
		a = append(a, 0x00)
	}
	a[1] = byte((len(a) + 1) / 8)
	return append(a, checksum(a))
}

// fruField is an 8-bit ASCII+Latin1 field of at most 63 bytes. A single
// byte would read as C1h, the end-of-fields marker, so it gets a space.
func fruField(s string) []byte {
	b := []byte(s)
	if len(b) > 63 {
		b = b[:63]
	}
	if len(b) == 1 {
		b = append(b, ' ')
	}
	return append([]byte{0xC0 | byte(len(b))}, b...)
}

// checksum is the zero checksum of the FRU format: the byte that makes
// the sum of b and it zero modulo 256.
func checksum(b []byte) byte {
	var sum byte
	for _, x := range b {
		sum += x
	}
	return -sum
}

// fruStore serves FRU device 0 to go-ipmi's Get FRU Inventory Area Info
// and Read FRU Data. It is read-only: the inventory is configuration.
type fruStore struct{ ep *Endpoint }

func (s fruStore) Read(_ context.Context, id uint8) ([]byte, error) {
	if id != 0 {
		return nil, hal.ErrNotFound
	}
	return encodeFRU(s.ep.cfg.Hardware.FRU), nil
}

func (s fruStore) Write(context.Context, uint8, []byte) error { return errReadOnly }
func (s fruStore) Delete(context.Context, uint8) error        { return errReadOnly }
func (s fruStore) DeviceIDs(context.Context) ([]uint8, error) { return []uint8{0}, nil }
