package config

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// Console is a node's serial console: exactly one of Device, TCP and
// Command. The daemon keeps it open in the background (a missing device
// or an unreachable console server is retried, never fatal) and bridges
// it to IPMI Serial over LAN.
type Console struct {
	// Device is a serial device, e.g. /dev/ttyUSB0 (a USB-serial adapter
	// wired to the machine's console port).
	Device string `yaml:"device"`
	// Baud is the device's speed (default 115200); SOL reports it.
	Baud int `yaml:"baud"`
	// TCP is host:port of a raw TCP console: ser2net in raw mode, a
	// console server's port, QEMU's -serial tcp:HOST:PORT,server.
	TCP string `yaml:"tcp"`
	// Command is run with /bin/sh -c; its standard input and output are
	// the console (e.g. "virsh console --force vm1"). It is restarted
	// when it exits.
	Command string `yaml:"command"`
	// History is how many bytes of console output are kept and replayed
	// to each new SOL session (default 65536; 0 keeps none).
	History *int `yaml:"history"`
}

// FRU is the inventory a node's BMC reports (ipmitool fru print,
// ipmi-fru): the chassis and product info areas of FRU device 0, and the
// DCMI asset tag. Every field is optional (printable ASCII, at most 63
// bytes); unset fields are left out.
type FRU struct {
	Manufacturer string `yaml:"manufacturer"`
	// Product is the product name (default: the node's name).
	Product    string `yaml:"product"`
	PartNumber string `yaml:"part_number"`
	Version    string `yaml:"version"`
	Serial     string `yaml:"serial"`
	AssetTag   string `yaml:"asset_tag"`
}

// Console and inventory defaults.
const (
	DefaultConsoleBaud    = 115200
	DefaultConsoleHistory = 64 << 10
	DefaultMaxWatts       = 1000.0
	maxConsoleHistory     = 16 << 20
	maxFRUField           = 63 // a FRU type/length byte holds up to 63 bytes
)

// consoleBauds are the speeds a serial console may run at.
var consoleBauds = []int{1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400}

func applyHardwareDefaults(n *Node) {
	if c := n.Console; c != nil {
		if c.Baud == 0 {
			c.Baud = DefaultConsoleBaud
		}
		if c.History == nil {
			h := DefaultConsoleHistory
			c.History = &h
		}
	}
	if n.FRU == nil {
		n.FRU = &FRU{}
	}
	if n.FRU.Product == "" {
		n.FRU.Product = n.Name[:min(len(n.Name), maxFRUField)]
	}
	if n.MaxWatts == 0 {
		n.MaxWatts = DefaultMaxWatts
	}
}

func (v *validator) validateHardware(path string, n *Node) {
	if c := n.Console; c != nil {
		cp := path + ".console"
		given := 0
		for _, s := range []string{c.Device, c.TCP, c.Command} {
			if s != "" {
				given++
			}
		}
		if given != 1 {
			v.fail(cp, "give exactly one of device, tcp and command")
		}
		if c.Device != "" {
			switch {
			case !filepath.IsAbs(c.Device):
				v.fail(cp+".device", "want an absolute path such as /dev/ttyUSB0, got %q", c.Device)
			default:
				if _, err := os.Stat(c.Device); errors.Is(err, fs.ErrNotExist) {
					v.warn(cp+".device", "%s does not exist (yet); the console is opened when it appears", c.Device)
				}
			}
		}
		if !slices.Contains(consoleBauds, c.Baud) {
			v.fail(cp+".baud", "want one of %v, got %d", consoleBauds, c.Baud)
		}
		if c.TCP != "" {
			if _, port, err := net.SplitHostPort(c.TCP); err != nil {
				v.fail(cp+".tcp", "want host:port, got %q", c.TCP)
			} else if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
				v.fail(cp+".tcp", "invalid port %q", port)
			}
		}
		if *c.History < 0 || *c.History > maxConsoleHistory {
			v.fail(cp+".history", "must be between 0 and %d bytes", maxConsoleHistory)
		}
	}
	f := n.FRU
	for _, kv := range [][2]string{{"manufacturer", f.Manufacturer}, {"product", f.Product},
		{"part_number", f.PartNumber}, {"version", f.Version}, {"serial", f.Serial}, {"asset_tag", f.AssetTag}} {
		key, val := path+".fru."+kv[0], kv[1]
		if len(val) > maxFRUField {
			v.fail(key, "at most %d bytes (a FRU field's limit), got %d", maxFRUField, len(val))
		}
		for _, r := range val {
			if r < 0x20 || r > 0x7E {
				v.fail(key, "only printable ASCII fits a FRU field, got %q", r)
				break
			}
		}
	}
	if n.MaxWatts < 0 || n.MaxWatts > 255000 {
		v.fail(path+".max_watts", "must be between 1 and 255000, got %v", n.MaxWatts)
	}
}
