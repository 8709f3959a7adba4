package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Boot configures the boot endpoint: an HTTP server that hands each
// machine's iPXE its boot script, chosen by the machine's MAC address and
// carrying out the boot override set over IPMI or Redfish, and that serves
// the images inserted as virtual media. The site's DHCP server chains iPXE
// to it (docs/boot.md). Off unless Listen is set; changing this section
// needs a restart.
type Boot struct {
	// Listen is the HTTP address the machines reach, e.g.
	// "192.168.24.1:9624". Empty: no boot endpoint.
	Listen string `yaml:"listen"`
	// Upstream is the iPXE script a PXE override chains (Ironic's
	// http://HOST:8088/boot.ipxe, the site's menu); iPXE settings such as
	// ${net0/mac} are expanded by iPXE. Empty: a PXE override exits to the
	// firmware, which goes on with its next boot device.
	Upstream string `yaml:"upstream"`
	// Default is what a machine does without an override: "exit" (the
	// default: the firmware goes on with its own boot order), "pxe" (as a
	// PXE override) or "disk".
	Default string `yaml:"default"`
	// Disk is how a disk override boots: "sanboot" (the default: iPXE
	// boots BIOS drive 0x80; under UEFI it exits to the firmware) or "exit".
	Disk string `yaml:"disk"`
	// Media is how a virtual media image reaches the machine: "stream" (the
	// default: through powerjockey, Range requests passed to the image's
	// server) or "redirect" (an HTTP redirect to http:// images; https://
	// and password-protected ones are still streamed).
	Media string `yaml:"media"`
	// MaxConnections and MaxConnectionsPerSource cap the connections the
	// endpoint holds at once, in all and from one address (default 256
	// and 64: a rack booting at once, machines behind one NAT), as for
	// HTTP.
	MaxConnections          int `yaml:"max_connections"`
	MaxConnectionsPerSource int `yaml:"max_connections_per_source"`
}

// NodeBoot changes the boot endpoint's settings for one node.
type NodeBoot struct {
	// Upstream, Default and Disk override the boot section's keys.
	Upstream string `yaml:"upstream"`
	Default  string `yaml:"default"`
	Disk     string `yaml:"disk"`
	// Script says whether the machine fetches its boot script from the
	// boot endpoint (default: true when boot.listen is set and the node
	// has a mac). It decides what uses up a next-boot-only override: the
	// script's fetch when true, the power-on that causes the boot when
	// false.
	Script *bool `yaml:"script"`
}

// Boot endpoint defaults.
const (
	DefaultBootDefault                 = "exit"
	DefaultBootDisk                    = "sanboot"
	DefaultBootMedia                   = "stream"
	DefaultBootMaxConnections          = 256
	DefaultBootMaxConnectionsPerSource = 64
)

// NodeBootSettings is the node's boot endpoint settings: the node's own
// where given, the boot section's otherwise.
func (c *Config) NodeBootSettings(n Node) (upstream, def, disk string) {
	upstream, def, disk = c.Boot.Upstream, c.Boot.Default, c.Boot.Disk
	if b := n.Boot; b != nil {
		if b.Upstream != "" {
			upstream = b.Upstream
		}
		if b.Default != "" {
			def = b.Default
		}
		if b.Disk != "" {
			disk = b.Disk
		}
	}
	return upstream, def, disk
}

// FetchesBootScript reports whether the node's machine fetches its boot
// script from the boot endpoint.
func (c *Config) FetchesBootScript(n Node) bool {
	if c.Boot.Listen == "" || len(n.MAC) == 0 {
		return false
	}
	return n.Boot == nil || n.Boot.Script == nil || *n.Boot.Script
}

func (v *validator) bootDefaults() {
	b := &v.cfg.Boot
	if b.Default == "" {
		b.Default = DefaultBootDefault
	}
	if b.Disk == "" {
		b.Disk = DefaultBootDisk
	}
	if b.Media == "" {
		b.Media = DefaultBootMedia
	}
	if b.MaxConnections == 0 {
		b.MaxConnections = DefaultBootMaxConnections
	}
	if b.MaxConnectionsPerSource == 0 {
		b.MaxConnectionsPerSource = min(DefaultBootMaxConnectionsPerSource, max(b.MaxConnections, 1))
	}
}

func (v *validator) validateBoot() {
	b := v.cfg.Boot
	if b.Listen != "" {
		if _, _, err := net.SplitHostPort(b.Listen); err != nil {
			v.fail("boot.listen", "want host:port, got %q", b.Listen)
		}
	}
	v.validateBootKeys("boot", b.Upstream, b.Default, b.Disk)
	switch b.Media {
	case "stream", "redirect":
	default:
		v.fail("boot.media", "want stream or redirect, got %q", b.Media)
	}
	v.validateConnCaps("boot", b.MaxConnections, b.MaxConnectionsPerSource)
}

func (v *validator) validateNodeBoot(path string, n *Node) {
	if n.Boot == nil {
		return
	}
	if v.cfg.Boot.Listen == "" {
		v.warn(path+".boot", "has no effect: the boot endpoint is off (set boot.listen)")
	}
	if n.Boot.Script != nil && *n.Boot.Script && len(n.MAC) == 0 {
		v.fail(path+".boot.script", "a machine is known to the boot endpoint by its MAC address: set mac")
	}
	v.validateBootKeys(path+".boot", n.Boot.Upstream, n.Boot.Default, n.Boot.Disk)
}

func (v *validator) validateBootKeys(path, upstream, def, disk string) {
	if upstream != "" {
		if err := checkScriptURL(upstream); err != nil {
			v.fail(path+".upstream", "%v", err)
		}
	}
	switch def {
	case "", "exit", "pxe", "disk":
	default:
		v.fail(path+".default", "want exit, pxe or disk, got %q", def)
	}
	switch disk {
	case "", "sanboot", "exit":
	default:
		v.fail(path+".disk", "want sanboot or exit, got %q", disk)
	}
}

// checkScriptURL accepts a URL that can stand as one word of an iPXE
// script line: http, https or tftp, no white space, quotes or control
// characters (iPXE would split the line there, or run what follows).
func checkScriptURL(s string) error {
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '"' || r == '\'' || r == '\\' }) {
		return fmt.Errorf("want a URL without spaces, quotes or control characters, got %q", s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("invalid URL %q: %v", s, err)
	}
	switch u.Scheme {
	case "http", "https", "tftp":
	default:
		return fmt.Errorf("want an http://, https:// or tftp:// URL, got %q", s)
	}
	if u.Host == "" {
		return fmt.Errorf("URL %q has no host", s)
	}
	return nil
}
