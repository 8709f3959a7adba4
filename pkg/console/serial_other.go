//go:build !linux

package console

import "errors"

// baudRates lists the speeds a serial device may be set to; serial devices
// are supported on Linux only.
var baudRates = map[int]uint32{1200: 0, 2400: 0, 4800: 0, 9600: 0, 19200: 0, 38400: 0, 57600: 0, 115200: 0, 230400: 0}

func openSerial(string, int) (link, error) {
	return nil, errors.New("serial device consoles are supported on Linux only")
}
