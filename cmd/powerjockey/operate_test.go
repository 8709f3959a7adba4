package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/daemon"
	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/sim"
)

const operateConfig = `state_dir: {{.Dir}}/state
http: {listen: "127.0.0.1:{{.HTTP}}"}
pdus:
  - name: rack1
    address: "127.0.0.1:{{.PDU1}}"
    model: auto
    snmp: {version: 2c, community: private, timeout: 300ms, retries: 1}
    stagger: 0s
nodes:
  - name: compute-0
    ipmi: {listen: "127.0.0.1:{{.P0}}", username: admin, password: pw}
    mac: "52:54:00:cc:00:01"
    wol: {target: "127.0.0.1:{{.WoL}}", interval: 100ms}
    pdu: {name: rack1, outlets: [1]}
    on_delay: 300ms
  - name: manual-0
    ipmi: {listen: "127.0.0.1:{{.P1}}", username: admin, password: pw}
    mac: "52:54:00:cc:00:02"
`

func TestStatusAndPower(t *testing.T) {
	dir := t.TempDir()
	data := ports(t, "PDU1", "WoL", "P0", "P1")
	path := writeConfig(t, dir, operateConfig, data)
	rack := startRack(t, path, nil)
	machine, pdu := rack.Machine("compute-0"), rack.PDU("rack1")
	url := fmt.Sprintf("http://127.0.0.1:%d", data["HTTP"])

	expect := func(args []string, code int, stdoutRE, stderrRE string) string {
		t.Helper()
		out, errOut, got := runCmd(t, args...)
		if got != code {
			t.Fatalf("%v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, got, code, out, errOut)
		}
		if stdoutRE != "" && !regexp.MustCompile(stdoutRE).MatchString(out) {
			t.Fatalf("%v: stdout does not match %s:\n%s\nstderr:\n%s", args, stdoutRE, out, errOut)
		}
		if stderrRE != "" && !regexp.MustCompile(stderrRE).MatchString(errOut) {
			t.Fatalf("%v: stderr does not match %s:\n%s", args, stderrRE, errOut)
		}
		return out
	}

	// No daemon yet: both commands say so, and power offers --direct.
	expect([]string{"status", "--config", path}, 1, "",
		`daemon not reachable at `+regexp.QuoteMeta(url)+`: .*and no daemon holds .*/state: powerjockey is not running`)
	expect([]string{"power", "compute-0", "on", "--config", path}, 1, "",
		`(?s)powerjockey is not running.*\n  powerjockey power compute-0 on --config `+regexp.QuoteMeta(path)+` --direct\n`)
	expect([]string{"status", "--url", url}, 1, "", `daemon not reachable at `+regexp.QuoteMeta(url)+`: .*is powerjockey serve running\?`)

	// --direct: the node layer in this process; it returns only after the
	// on_delay and every magic packet.
	start := time.Now()
	expect([]string{"power", "--direct", "--config", path, "compute-0", "on", "--log-format", "json"}, 0,
		`(?m)^compute-0: power on accepted via pdu\+wol \(its background steps are running\)\n`+
			`compute-0: power (on|off) \(source (metering|outlet).*\)\n  last action: on via pdu\+wol at [0-9:]+: ok in \d+ms$`,
		`"msg":"power action","node":"compute-0","action":"on","means":"pdu\+wol","result":"ok"`)
	if took := time.Since(start); took < 500*time.Millisecond {
		t.Errorf("--direct returned after %v, before its on_delay (300ms) and WoL repeats (2×100ms)", took)
	}
	if !pdu.Outlet(1) || machine.WakePackets() != 3 || machine.State() != sim.Running {
		t.Errorf("after power on --direct: outlet %v, %d magic packets, machine %v; want on, 3, running", pdu.Outlet(1), machine.WakePackets(), machine.State())
	}
	lock, err := daemon.LockStateDir(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatalf("--direct left the state_dir locked: %v", err)
	}
	lock.Unlock()

	d := startServe(t, path, data["HTTP"].(int))

	expect([]string{"power", "compute-0", "on", "--config", path, "--direct"}, 1, "",
		`a powerjockey daemon is running \(it holds .*/state\): drop --direct`)

	// The state --direct persisted is what the daemon reports.
	expect([]string{"status", "--config", path}, 0,
		`(?m)^NODE +POWER +SOURCE +WATTS +LAST ACTION +RESULT +MANUAL ACTION WAITING +BUSY\n`+
			`compute-0 +on +metering +120 +on via pdu\+wol at [0-9:]+ +ok \(\d+ms\) +- +-\n`+
			`manual-0 +unknown +recorded +- +- +- +- +-\n$`, "")

	expect([]string{"power", "compute-0", "off", "--url", url}, 0,
		`^compute-0: power off accepted via pdu\ncompute-0: power off \(source (outlet|metering), 0 W\)\n  last action: off via pdu at [0-9:]+: ok in \d+ms\n$`, "")
	if pdu.Outlet(1) {
		t.Errorf("outlet 1 still on after power off")
	}
	expect([]string{"power", "--config", path, "manual-0", "on"}, 0,
		`(?m)^manual-0: power on accepted via manual\n(.|\n)*  manual action waiting: power ON since [0-9:]+ \(a human must do it, then: powerjockey power manual-0 acknowledge\)$`, "")
	expect([]string{"status", "--config", path}, 0, `(?m)^manual-0 +on +recorded +- +on via manual at [0-9:]+ +ok \(\d+ms\) +power ON since [0-9:]+ +-$`, "")
	out := expect([]string{"power", "manual-0", "acknowledge", "--config", path}, 0, `^manual-0: manual action acknowledged\nmanual-0: power on \(source recorded\)\n`, "")
	if strings.Contains(out, "manual action waiting") {
		t.Errorf("acknowledge left the manual action:\n%s", out)
	}
	expect([]string{"status", "--config", path}, 0, `(?m)^manual-0 +on +recorded +- +on via manual at [0-9:]+ +ok \(\d+ms\) +- +-$`, "")
	expect([]string{"power", "compute-0", "status", "--config", path}, 0, `^compute-0: power off \(source (outlet|metering), 0 W\)\n`, "")
	expect([]string{"power", "nosuch", "status", "--config", path}, 1, "", `no node "nosuch" on the daemon at `+regexp.QuoteMeta(url))
	expect([]string{"power", "compute-0", "bogus", "--config", path}, 1, "", `unknown power action "bogus" \(want on, off, soft, cycle, reset or diag\) \(or status, acknowledge\)`)
	expect([]string{"power", "compute-0", "--config", path}, 1, "", `want a node name and an action`)

	// --json is the API's own document.
	raw := expect([]string{"status", "--url", url + "/", "--json"}, 0, "", "")
	var nodes []node.View
	if err := json.Unmarshal([]byte(raw), &nodes); err != nil || len(nodes) != 2 || nodes[0].Name != "compute-0" || nodes[1].LastAction == nil || nodes[1].LastAction.Means != "manual" || nodes[1].Manual != nil {
		t.Errorf("status --json: %v, %+v\n%s", err, nodes, raw)
	}

	// The actions went through the daemon: it logged them, once each.
	log := d.log.String()
	httpActions := 0
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, `"msg":"power action",`) && strings.Contains(line, `"channel":"http","source":"127.0.0.1:`) {
			httpActions++
		}
	}
	if httpActions != 2 {
		t.Errorf("daemon logged %d power actions requested over HTTP (with the source address), want 2:\n%s", httpActions, log)
	}
	for _, a := range []string{`"node":"compute-0","action":"off"`, `"node":"manual-0","action":"on"`} {
		if n := strings.Count(log, `"msg":"power action",`+a); n != 1 {
			t.Errorf("daemon logged power action %s %d times, want once:\n%s", a, n, log)
		}
	}
}

func TestPowerHelp(t *testing.T) {
	for _, cmd := range []string{"power", "status", "instackenv"} {
		_, errOut, code := runCmd(t, cmd, "--help")
		if code != 0 || !strings.Contains(errOut, "usage: powerjockey "+cmd) {
			t.Errorf("%s --help: exit %d:\n%s", cmd, code, errOut)
		}
	}
}

func TestParseInterspersed(t *testing.T) {
	for _, c := range []struct {
		args []string
		pos  string
		cfg  string
	}{
		{[]string{"n", "on", "--config", "f"}, "n on", "f"},
		{[]string{"--config", "f", "n", "on"}, "n on", "f"},
		{[]string{"n", "--config=f", "on"}, "n on", "f"},
		{[]string{"--config", "f", "--", "-n", "on"}, "-n on", "f"},
	} {
		fs := newFlagSet("x", "", &strings.Builder{})
		cfg := fs.String("config", "", "")
		pos, err := parseInterspersed(fs, c.args)
		if err != nil || strings.Join(pos, " ") != c.pos || *cfg != c.cfg {
			t.Errorf("%q: %q %q %v, want %q %q", c.args, pos, *cfg, err, c.pos, c.cfg)
		}
	}
}

func TestResolveTarget(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		yaml, want, err, ca string
	}{
		{"nodes: []\n", "http://127.0.0.1:9623", "", ""},
		// Beyond loopback the daemon serves HTTPS (a generated CA unless
		// tls_cert is given).
		{"http: {listen: \"0.0.0.0:9000\"}\n", "https://127.0.0.1:9000", "", "/var/lib/powerjockey/http/ca.crt"},
		{"http: {listen: \"[::]:9000\"}\n", "https://[::1]:9000", "", "/var/lib/powerjockey/http/ca.crt"},
		{"http: {listen: \"[fd00::1]:9000\", tls_cert: /etc/pj.crt}\n", "https://[fd00::1]:9000", "", "/etc/pj.crt"},
		{"http: {listen: \"127.0.0.1:9000\", tls: true}\n", "https://127.0.0.1:9000", "", "/var/lib/powerjockey/http/ca.crt"},
		{"http: {listen: \"off\"}\n", "", "http.listen is off", ""},
	} {
		path := filepath.Join(dir, "c.yaml")
		writeFile(t, path, c.yaml, 0o600)
		tf := targetFlags{config: path}
		tg, err := tf.resolve()
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: err %v, want %q", c.yaml, err, c.err)
			}
			continue
		}
		if err != nil || tg.base != c.want || tg.stateDir != "/var/lib/powerjockey" || tg.caFile != c.ca {
			t.Errorf("%q: %+v %v, want %s", c.yaml, tg, err, c.want)
		}
	}
}

// TestDirectRefusesForeignStateDir: --direct must not write files the
// daemon's user could not read back.
func TestDirectRefusesForeignStateDir(t *testing.T) {
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	if err := os.Mkdir(stateDir, 0o750); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(stateDir, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	} else {
		stateDir = "/" // root's, and not ours
	}
	path := filepath.Join(dir, "pj.yaml")
	writeFile(t, path, `state_dir: `+stateDir+`
http: {listen: "off"}
nodes:
  - name: n0
    ipmi: {listen: "127.0.0.1:1623", username: admin, password: pw}
`, 0o600)
	_, errOut, code := runCmd(t, "power", "n0", "on", "--direct", "--config", path)
	if code != 1 || !strings.Contains(errOut, "state_dir "+stateDir+" belongs to ") || !strings.Contains(errOut, "run --direct as that user") {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
	if entries, _ := os.ReadDir(stateDir); stateDir != "/" && len(entries) > 0 {
		t.Errorf("--direct wrote into the foreign state_dir: %v", entries)
	}
}
