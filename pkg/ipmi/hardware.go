package ipmi

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"
)

// Hardware is what a node's BMC reports about the machine beyond power and
// boot: its power supplies (the PDU outlets feeding it), its FRU inventory
// and its serial console. All of it is optional.
type Hardware struct {
	// Outlets feed the machine's power supplies, in order: PSU1 is the
	// first. Sensor readings come from the node's cached reading, whose
	// Outlets follow the same order.
	Outlets []OutletRef
	// FRU is the inventory that Read FRU Data serves.
	FRU FRUInfo
	// Console is the machine's serial console for SOL; nil when it has none.
	Console Console
	// BitRate is the console's speed in bits per second as SOL reports it
	// (0: the default 115200).
	BitRate int
	// MaxWatts is the most the machine can draw (e.g. its power supplies'
	// rating). It sets the range of the Watts sensors: 0..255×M W in steps
	// of M W, M the smallest of 1, 2, 4, 5, 10... that covers it (0:
	// DefaultMaxWatts). The DCMI power reading is exact to the watt either way.
	MaxWatts float64
}

// DefaultMaxWatts covers a typical one- or two-socket server: 4 W steps
// up to 1020 W.
const DefaultMaxWatts = 1000

func (h Hardware) maxWatts() float64 {
	if h.MaxWatts > 0 {
		return h.MaxWatts
	}
	return DefaultMaxWatts
}

// OutletRef names one PDU outlet.
type OutletRef struct {
	PDU    string
	Outlet int
}

// FRUInfo is the inventory text of a node (IPMI Platform Management FRU
// Information Storage Definition v1.0). Empty fields are left out.
type FRUInfo struct {
	Manufacturer string
	Product      string
	PartNumber   string
	Version      string
	Serial       string
	AssetTag     string
	// ChassisType is an SMBIOS chassis type (FRU spec §10.1 refers to
	// SMBIOS); 0 means 2, "Unknown".
	ChassisType byte
}

// Console is a machine's serial console as SOL needs it; *console.Console
// implements it. Attach must not block for long: the connection to the
// machine's serial port is kept by the console, not by the SOL session.
type Console interface {
	// Attach starts a session: the history the console kept, then
	// everything the machine writes, and a way to type. A second session
	// while one is attached fails with an error matching ErrConsoleBusy.
	Attach(ctx context.Context) (ConsoleSession, error)
}

// ConsoleSession is one attachment to a console; go-ipmi's SOL data plane
// drives it (hal.ConsoleConn).
type ConsoleSession interface {
	io.WriteCloser
	// ReadAvailable copies pending console output into p without blocking.
	ReadAvailable(p []byte) (int, error)
	// SendBreak sends a serial break where the console has one.
	SendBreak(ctx context.Context) error
}

// ErrConsoleBusy is what a console's Attach returns (wrapped or as is)
// while another session is attached.
var ErrConsoleBusy = errors.New("console already attached")

// bmcState is an endpoint's volatile BMC state beyond sessions: SEL and
// SDR reservations, the SDR's scaling, the watchdog settings a client
// stored. A real BMC loses these on reset too.
type bmcState struct {
	mu sync.Mutex
	// selReservation is the current Reserve SEL ID (0: none).
	selReservation uint16
	// sdr is the repository as last built; nil until first asked.
	sdr *sdrRepo
	// watchdog holds what Set Watchdog Timer stored; the timer never runs.
	watchdog watchdogSettings
	// watchdogSet records that a Set Watchdog Timer initialised it.
	watchdogSet bool
}

// nextReservation returns a fresh non-zero reservation ID after prev.
func nextReservation(prev uint16) uint16 {
	prev++
	if prev == 0 {
		prev = 1
	}
	return prev
}

// ipmiTimestamp encodes t as IPMI's seconds since 1970 (§37.1); the zero
// time is FFFFFFFFh, "unspecified".
func ipmiTimestamp(t time.Time) uint32 {
	if t.IsZero() || t.Unix() < 0 || t.Unix() > 0xFFFFFFFE {
		return 0xFFFFFFFF
	}
	return uint32(t.Unix())
}
