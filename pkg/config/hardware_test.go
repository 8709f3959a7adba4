package config

import (
	"strings"
	"testing"
)

func TestHardwareDefaults(t *testing.T) {
	cfg, err := Parse("x.yaml", []byte(`
nodes:
  - name: n1
    ipmi: {listen: "127.0.0.1:6230", username: admin, password: secret}
    console: {tcp: "127.0.0.1:4555"}
  - name: n2
    ipmi: {listen: "127.0.0.1:6231", username: admin, password: secret}
    console: {device: /dev/null, baud: 9600, history: 0}
    fru: {manufacturer: Dell Inc., serial: ABC123}
    max_watts: 250
`))
	if err != nil {
		t.Fatal(err)
	}
	n1, n2 := cfg.Nodes[0], cfg.Nodes[1]
	if c := n1.Console; c.Baud != 115200 || *c.History != 65536 || c.TCP != "127.0.0.1:4555" {
		t.Errorf("n1 console: %+v", c)
	}
	if n1.FRU == nil || n1.FRU.Product != "n1" || n1.MaxWatts != 1000 {
		t.Errorf("n1 defaults: fru %+v, max_watts %v", n1.FRU, n1.MaxWatts)
	}
	if c := n2.Console; c.Baud != 9600 || *c.History != 0 {
		t.Errorf("n2 console: %+v", c)
	}
	if f := n2.FRU; f.Product != "n2" || f.Manufacturer != "Dell Inc." || f.Serial != "ABC123" || n2.MaxWatts != 250 {
		t.Errorf("n2: fru %+v, max_watts %v", f, n2.MaxWatts)
	}
}

func TestHardwareRules(t *testing.T) {
	base := "nodes:\n- name: n1\n  ipmi: {listen: \"127.0.0.1:6230\", username: admin, password: secret}\n"
	tests := []struct {
		name, src string
		want      []string
	}{
		{"console without a source", base + "  console: {baud: 9600}\n",
			[]string{`x.yaml:4:3: nodes[0].console: give exactly one of device, tcp and command`}},
		{"two sources", base + "  console: {tcp: \"h:1\", command: cat}\n",
			[]string{`x.yaml:4:3: nodes[0].console: give exactly one of device, tcp and command`}},
		{"relative device", base + "  console: {device: ttyUSB0}\n",
			[]string{`x.yaml:4:13: nodes[0].console.device: want an absolute path such as /dev/ttyUSB0, got "ttyUSB0"`}},
		{"odd speed", base + "  console: {device: /dev/null, baud: 12345}\n",
			[]string{`x.yaml:4:32: nodes[0].console.baud: want one of [1200 2400 4800 9600 19200 38400 57600 115200 230400], got 12345`}},
		{"tcp without port", base + "  console: {tcp: console1}\n",
			[]string{`x.yaml:4:13: nodes[0].console.tcp: want host:port, got "console1"`}},
		{"negative history", base + "  console: {tcp: \"h:1\", history: -1}\n",
			[]string{`x.yaml:4:25: nodes[0].console.history: must be between 0 and 16777216 bytes`}},
		{"unknown console key", base + "  console: {tpc: \"h:1\"}\n",
			[]string{`x.yaml:4:13: nodes[0].console.tpc: unknown key "tpc" (did you mean "tcp"?)`}},
		{"long FRU field", base + "  fru: {serial: " + strings.Repeat("s", 64) + "}\n",
			[]string{`x.yaml:4:9: nodes[0].fru.serial: at most 63 bytes (a FRU field's limit), got 64`}},
		{"non-ASCII FRU field", base + "  fru: {manufacturer: \"Müller\"}\n",
			[]string{`x.yaml:4:9: nodes[0].fru.manufacturer: only printable ASCII fits a FRU field, got 'ü'`}},
		{"negative max_watts", base + "  max_watts: -5\n",
			[]string{`x.yaml:4:3: nodes[0].max_watts: must be between 1 and 255000, got -5`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("accepted:\n%s", tt.src)
			}
			if got := err.Error(); got != strings.Join(tt.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", got, strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestMissingConsoleDeviceIsAWarning(t *testing.T) {
	cfg, err := Parse("x.yaml", []byte(`
nodes:
  - name: n1
    ipmi: {listen: "127.0.0.1:6230", username: admin, password: secret}
    console: {device: /dev/powerjockey-no-such-tty}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0].Error(), "nodes[0].console.device: /dev/powerjockey-no-such-tty does not exist (yet)") {
		t.Errorf("warnings: %v", cfg.Warnings)
	}
}
