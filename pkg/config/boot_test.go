package config

import "testing"

func TestBootSection(t *testing.T) {
	withMAC := "nodes:\n" + node("n1", "127.0.0.1:6230", `mac: "52:54:00:00:00:01"`)
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"listen without port", "boot:\n  listen: 9624\n" + minimal,
			[]string{`x.yaml:2:3: boot.listen: want host:port, got "9624"`}},
		{"upstream with a space", "boot:\n  upstream: \"http://x/boot.ipxe ; shell\"\n" + minimal,
			[]string{`x.yaml:2:3: boot.upstream: want a URL without spaces, quotes or control characters, got "http://x/boot.ipxe ; shell"`}},
		{"upstream not a boot URL", "boot:\n  upstream: ftp://x/boot.ipxe\n" + minimal,
			[]string{`x.yaml:2:3: boot.upstream: want an http://, https:// or tftp:// URL, got "ftp://x/boot.ipxe"`}},
		{"upstream without host", "boot:\n  upstream: http:///boot.ipxe\n" + minimal,
			[]string{`x.yaml:2:3: boot.upstream: URL "http:///boot.ipxe" has no host`}},
		{"default unknown", "boot:\n  default: cdrom\n" + minimal,
			[]string{`x.yaml:2:3: boot.default: want exit, pxe or disk, got "cdrom"`}},
		{"disk unknown", "boot:\n  disk: grub\n" + minimal,
			[]string{`x.yaml:2:3: boot.disk: want sanboot or exit, got "grub"`}},
		{"media unknown", "boot:\n  media: copy\n" + minimal,
			[]string{`x.yaml:2:3: boot.media: want stream or redirect, got "copy"`}},
		{"connection cap", "boot:\n  max_connections: -1\n" + minimal,
			[]string{`x.yaml:2:3: boot.max_connections: must be between 1 and 100000, got -1`}},
		{"node default unknown", "boot: {listen: \"127.0.0.1:9624\"}\n" + minimal + "  boot: {default: floppy}\n",
			[]string{`x.yaml:8:10: nodes[0].boot.default: want exit, pxe or disk, got "floppy"`}},
		{"node script without mac", "boot: {listen: \"127.0.0.1:9624\"}\n" + minimal + "  boot: {script: true}\n",
			[]string{`x.yaml:8:10: nodes[0].boot.script: a machine is known to the boot endpoint by its MAC address: set mac`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantExactly(t, tt.src, tt.want...) })
	}

	cfg := parseOK(t, minimal)
	if cfg.Boot.Listen != "" || cfg.Boot.Default != "exit" || cfg.Boot.Disk != "sanboot" || cfg.Boot.Media != "stream" ||
		cfg.Boot.MaxConnections != 256 || cfg.Boot.MaxConnectionsPerSource != 64 {
		t.Errorf("defaults: %+v", cfg.Boot)
	}
	if cfg.FetchesBootScript(cfg.Nodes[0]) {
		t.Error("with the endpoint off, no machine fetches its script")
	}

	cfg = parseOK(t, "boot:\n  listen: 127.0.0.1:9624\n  upstream: \"http://192.168.24.1:8088/boot.ipxe?mac=${net0/mac}\"\n  default: pxe\n"+withMAC+
		"  boot: {disk: exit}\n")
	n := cfg.Nodes[0]
	if up, def, disk := cfg.NodeBootSettings(n); up != "http://192.168.24.1:8088/boot.ipxe?mac=${net0/mac}" || def != "pxe" || disk != "exit" {
		t.Errorf("node settings: %q %q %q", up, def, disk)
	}
	if !cfg.FetchesBootScript(n) {
		t.Error("a node with a MAC fetches its script when the endpoint is on")
	}
	cfg = parseOK(t, "boot: {listen: \"127.0.0.1:9624\"}\n"+withMAC+"  boot: {script: false}\n")
	if cfg.FetchesBootScript(cfg.Nodes[0]) {
		t.Error("script: false")
	}
	cfg = parseOK(t, "boot: {listen: \"127.0.0.1:9624\"}\n"+minimal)
	if cfg.FetchesBootScript(cfg.Nodes[0]) {
		t.Error("a node without a MAC cannot be found by the endpoint")
	}

	// A node's boot keys without the endpoint are a warning, not an error.
	cfg = parseOK(t, minimal+"  boot: {default: disk}\n")
	if len(cfg.Warnings) != 1 || cfg.Warnings[0].Error() != `x.yaml:7:3: nodes[0].boot: has no effect: the boot endpoint is off (set boot.listen)` {
		t.Errorf("warnings: %v", cfg.Warnings)
	}
}
