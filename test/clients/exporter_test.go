package clients

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/sim"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// The Prometheus IPMI exporter (prometheus-community/ipmi_exporter) in
// remote mode runs one freeipmi command per collector:
//
//	CMD ARGS... --config-file PIPE -h TARGET
//
// where PIPE (a named pipe) holds the module's settings as freeipmi
// configuration lines; ipmi_remote.yml's example module is driver LAN_2_0,
// privilege user, session timeout 10000 ms. A collector is up when the
// command exits 0 and every expression it parses with matches a line
// (freeipmi/freeipmi.go); a regular file stands in for the pipe here.
const exporterConfig = `driver-type LAN_2_0
privilege-level user
username %s
password %s
session-timeout 10000
`

// exporterCollector is one collector: its command and the expressions the
// exporter reads values with; check tests the values against the machine.
type exporterCollector struct {
	name  string
	cmd   string
	args  []string
	parse []*regexp.Regexp
	check func(t *testing.T, values []string, m *sim.Machine)
}

// exporterCollectors are the collectors powerjockey serves: all of the
// exporter's default remote-mode collectors.
var exporterCollectors = []exporterCollector{
	{
		name: "bmc", cmd: "bmc-info",
		parse: []*regexp.Regexp{
			regexp.MustCompile(`^Firmware Revision\s*:\s*([0-9.]*)`),
			regexp.MustCompile(`^Manufacturer ID\s*:\s*(.*)`),
		},
		check: func(t *testing.T, v []string, _ *sim.Machine) {
			if v[0] == "" {
				t.Errorf("firmware revision %q is not a number", v[0])
			}
		},
	},
	{
		name: "chassis", cmd: "ipmi-chassis", args: []string{"--get-chassis-status"},
		parse: []*regexp.Regexp{
			regexp.MustCompile(`^System Power\s*:\s(.*)`),
			regexp.MustCompile(`^Drive Fault\s*:\s(.*)`),
			regexp.MustCompile(`^Cooling/fan fault\s*:\s(.*)`),
		},
		check: func(t *testing.T, v []string, m *sim.Machine) {
			want := "off"
			if m.State() == sim.Running {
				want = "on"
			}
			if v[0] != want || v[1] != "false" || v[2] != "false" {
				t.Errorf("power %q (machine %v), drive fault %q, cooling fault %q", v[0], m.State(), v[1], v[2])
			}
		},
	},
	{
		// The exporter reads every line as CSV (ID, name, type, state,
		// reading, unit, event); the node's draw is the Total Power line.
		name: "ipmi", cmd: "ipmimonitoring",
		args: []string{"-Q", "--ignore-unrecognized-events", "--comma-separated-output", "--no-header-output",
			"--sdr-cache-recreate", "--output-event-bitmask", "--output-sensor-state"},
		parse: []*regexp.Regexp{
			regexp.MustCompile(`^\d+,Total Power,Current,([A-Za-z/]+),`),
			regexp.MustCompile(`^\d+,Total Power,Current,[A-Za-z/]+,([0-9.]+|N/A),W,`),
		},
		check: func(t *testing.T, v []string, m *sim.Machine) {
			// The sensor reads in 4 W steps (the default max_watts); the
			// simulated machine draws 0, 4 or 120 W.
			if v[0] != "Nominal" || v[1] != fmt.Sprintf("%.2f", m.Watts()) {
				t.Errorf("Total Power %s %s W, machine %v draws %v W", v[0], v[1], m.State(), m.Watts())
			}
		},
	},
	{
		name: "dcmi", cmd: "ipmi-dcmi", args: []string{"--get-system-power-statistics"},
		parse: []*regexp.Regexp{
			regexp.MustCompile(`^Power Measurement\s*:\s*(Active|Not\sAvailable)`),
			regexp.MustCompile(`^Current Power\s*:\s*([0-9.]*)\s*Watts`),
		},
		check: func(t *testing.T, v []string, m *sim.Machine) {
			if v[0] != "Active" || v[1] != fmt.Sprint(m.Watts()) {
				t.Errorf("power measurement %s, current %s W; machine %v draws %v W", v[0], v[1], m.State(), m.Watts())
			}
		},
	},
	{
		name: "sel", cmd: "ipmi-sel", args: []string{"--info"},
		parse: []*regexp.Regexp{
			regexp.MustCompile(`^Number of log entries\s*:\s([0-9.]*)`),
			regexp.MustCompile(`^Free space remaining\s*:\s([0-9.]*)\s*bytes`),
		},
		check: func(t *testing.T, v []string, _ *sim.Machine) {
			// 256 records of 16 bytes: what is not used is free.
			var n, free int
			fmt.Sscan(v[0], &n)
			fmt.Sscan(v[1], &free)
			if n < 0 || free != (256-n)*16 {
				t.Errorf("%s entries, %s bytes free", v[0], v[1])
			}
		},
	},
}

// TestExporterCollectors scrapes a node, off and then on, with every
// collector as the exporter runs it.
func TestExporterCollectors(t *testing.T) {
	for _, c := range exporterCollectors {
		testkit.Tool(t, c.cmd)
	}
	testkit.RequireTool(t, "ipmitool")
	r := newRack(t, "exporter")
	cfg := filepath.Join(t.TempDir(), "freeipmi.conf")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(exporterConfig, "admin", "password")), 0o600); err != nil {
		t.Fatal(err)
	}
	target := fmt.Sprintf("127.0.0.1:%d", r.ports["exporter"])
	m := r.machine("exporter")
	scrape := func(t *testing.T) {
		for _, c := range exporterCollectors {
			t.Run(c.name, func(t *testing.T) {
				res := tool(t, c.cmd, append(append([]string{}, c.args...), "--config-file", cfg, "-h", target)...)
				if res.code != 0 {
					t.Fatalf("%s: collector down: %v", c.cmd, res)
				}
				var values []string
				for _, re := range c.parse {
					v, ok := firstMatch(re, res.stdout)
					if !ok {
						t.Fatalf("%s: no line matches %s:\n%s", c.cmd, re, res.stdout)
					}
					values = append(values, v)
				}
				c.check(t, values, m)
			})
		}
	}
	t.Run("off", scrape)
	if out, err := testkit.Run(t, 30*time.Second, "ipmitool", "-I", "lanplus", "-C", "17", "-H", "127.0.0.1", "-p", fmt.Sprint(r.ports["exporter"]),
		"-U", "admin", "-P", "password", "power", "on"); err != nil {
		t.Fatalf("power on: %v\n%s", err, out)
	}
	r.waitMachine(t, "exporter", sim.Running)
	testkit.Eventually(t, 20*time.Second, "powerjockey reports on", func() bool {
		return r.power(t, "exporter") == "on"
	})
	t.Run("on", scrape)
}

// firstMatch is the exporter's getValue: the first line the expression
// matches, and its group.
func firstMatch(re *regexp.Regexp, out string) (string, bool) {
	for _, line := range strings.Split(out, "\n") {
		if m := re.FindStringSubmatch(line); m != nil {
			return m[1], true
		}
	}
	return "", false
}
