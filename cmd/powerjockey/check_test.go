package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/powerjockey/powerjockey/pkg/daemon"
	"github.com/powerjockey/powerjockey/pkg/sim"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "n0.pw"), "secret-0\n", 0o600)
	writeFile(t, filepath.Join(dir, "open.pw"), "secret-1\n", 0o644)

	// held is a UDP socket this test keeps bound: a node configured on it
	// cannot start.
	held, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	heldPort := held.LocalAddr().(*net.UDPAddr).Port

	type tc struct {
		name string
		yaml string
		args []string
		// setup runs before check (e.g. takes the state_dir lock).
		setup func(t *testing.T, stateDir string)
		code  int
		// want are regular expressions each matching a whole output line;
		// {file} stands for the configuration's path.
		want []string
		// not are substrings that must not appear.
		not []string
	}
	header := "state_dir: {{.Dir}}/state\nhttp: {listen: \"127.0.0.1:{{.HTTP}}\"}\n"
	cases := []tc{
		{
			name: "clean",
			yaml: header + `nodes:
  - name: n0
    ipmi: {listen: "127.0.0.1:{{.P0}}", username: admin, password_file: n0.pw}
    mac: "52:54:00:00:00:01"
    exec: {on: "/bin/true", off: "FOO=1 exec true", status: "test -e /tmp"}
`,
			want: []string{
				`^{file}:1:1: state_dir: note: .*/state does not exist yet; serve creates it$`,
				`^{file}: 1 node, 0 PDUs: OK$`,
			},
		},
		{
			name: "decoding errors with file:line:col",
			yaml: header + `nodes:
  - name: n0
    ipmi: {listn: "127.0.0.1:{{.P0}}", username: admin, password: pw}
    mac: "not-a-mac"
`,
			code: 1,
			want: []string{
				`^{file}:5:12: nodes\[0\].ipmi.listn: unknown key "listn" \(did you mean "listen"\?\)$`,
				`^{file}:6:10: nodes\[0\].mac: invalid value "not-a-mac": .*$`,
				`^{file}: 2 errors$`,
			},
		},
		{
			name: "validation errors with file:line:col",
			yaml: header + `nodes:
  - name: n0
    ipmi: {listen: "127.0.0.1:{{.P0}}", username: admin, password: pw}
    pdu: {name: nosuch, outlets: [1]}
  - name: n0
    ipmi: {listen: "127.0.0.1:{{.P0}}", username: admin, password: pw}
`,
			code: 1,
			want: []string{
				`^{file}:6:11: nodes\[0\].pdu.name: unknown PDU "nosuch" \(defined: \)$`,
				`^{file}:7:5: nodes\[1\].name: duplicate node name "n0" \(also nodes\[0\]\)$`,
				`^{file}:8:12: nodes\[1\].ipmi.listen: 127.0.0.1:\d+ conflicts with 127.0.0.1:\d+ \(nodes\[0\].ipmi.listen\): each node needs its own port or address$`,
				`^{file}: 3 errors$`,
			},
		},
		{
			name: "listen address held by another process",
			yaml: header + `nodes:
  - name: n0
    ipmi: {listen: "127.0.0.1:{{.P0}}", username: admin, password: pw}
  - name: n1
    ipmi:
      listen: "127.0.0.1:{{.Held}}"
      username: admin
      password: pw
`,
			code: 1,
			want: []string{
				`^{file}:8:7: nodes\[1\].ipmi.listen: cannot bind udp 127.0.0.1:{{.Held}}: address already in use \(by another process\)$`,
				`^{file}: 2 nodes, 0 PDUs: 1 error, 0 warnings$`,
			},
		},
		{
			name: "address not on this host",
			yaml: header + `nodes:
  - name: n0
    ipmi: {listen: "192.0.2.77:6230", username: admin, password: pw}
`,
			code: 1,
			want: []string{`^{file}:5:12: nodes\[0\].ipmi.listen: cannot bind udp 192.0.2.77:6230: no interface of this host has address 192.0.2.77$`},
		},
		{
			name: "daemon running: bind checks skipped",
			yaml: header + `nodes:
  - name: n1
    ipmi: {listen: "127.0.0.1:{{.Held}}", username: admin, password: pw}
`,
			setup: func(t *testing.T, stateDir string) {
				lock, err := daemon.LockStateDir(stateDir)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { lock.Unlock() })
			},
			want: []string{
				`^{file}:1:1: state_dir: note: a powerjockey daemon holds .*/state: listen addresses were not test-bound \(they are the daemon's\)$`,
				`^{file}: 1 node, 0 PDUs: OK$`,
			},
			not: []string{"cannot bind"},
		},
		{
			name: "wol interface and exec commands",
			yaml: header + `nodes:
  - name: n0
    ipmi: {listen: "127.0.0.1:{{.P0}}", username: admin, password: pw}
    mac: "52:54:00:00:00:01"
    wol: {interface: pjnosuch0}
    exec:
      on: "pj-no-such-command --now"
      off: "/nonexistent/bin/off"
      soft_off: "ssh-or-not $HOST poweroff"
      status: "lo=1 /etc/passwd"
`,
			code: 1,
			want: []string{
				`^{file}:7:11: nodes\[0\].wol.interface: no network interface "pjnosuch0" on this host$`,
				`^{file}:9:7: nodes\[0\].exec.on: command "pj-no-such-command" not found in PATH$`,
				`^{file}:10:7: nodes\[0\].exec.off: command /nonexistent/bin/off: no such file or directory$`,
				`^{file}:11:7: nodes\[0\].exec.soft_off: command "ssh-or-not" not found in PATH$`,
				`^{file}:12:7: nodes\[0\].exec.status: command /etc/passwd is not executable$`,
				`^{file}: 1 node, 0 PDUs: 5 errors, 0 warnings$`,
			},
		},
		{
			name: "world-readable secret is a warning",
			yaml: header + `nodes:
  - name: n0
    ipmi: {listen: "127.0.0.1:{{.P0}}", username: admin, password_file: open.pw}
`,
			want: []string{
				`^{file}:5:\d+: nodes\[0\].ipmi.password_file: warning: secret file .*/open.pw is world-readable \(mode 0644\); chmod 0640 it$`,
				`^{file}: 1 node, 0 PDUs: 0 errors, 1 warning$`,
			},
		},
		{
			name: "weak cipher suites and v1.5 straight password are warnings",
			yaml: header + `ipmi:
  cipher_suites: [0, 1, 3, 15, 17]
  v15_auth_types: [md5, password]
nodes:
  - name: n0
    ipmi: {listen: "127.0.0.1:{{.P0}}", username: admin, password: pw}
`,
			want: []string{
				`^{file}:4:19: ipmi.cipher_suites\[0\]: warning: cipher suite 0 has no authentication: .*CVE-2013-4782.*$`,
				`^{file}:4:22: ipmi.cipher_suites\[1\]: warning: cipher suite 1 has no integrity protection: .*$`,
				`^{file}:4:28: ipmi.cipher_suites\[3\]: warning: cipher suite 15 has no integrity protection: .*$`,
				`^{file}:5:25: ipmi.v15_auth_types\[1\]: warning: IPMI v1.5 straight-password authentication sends the password in clear text.*$`,
				`^{file}: 1 node, 0 PDUs: 0 errors, 4 warnings$`,
			},
		},
		{
			name: "world-readable secret with --strict",
			yaml: header + `nodes:
  - name: n0
    ipmi: {listen: "127.0.0.1:{{.P0}}", username: admin, password_file: open.pw}
`,
			args: []string{"--strict"},
			code: 1,
			want: []string{`warning: secret file .*open.pw is world-readable`},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sub := t.TempDir()
			for _, f := range []string{"n0.pw", "open.pw"} {
				b, _ := os.ReadFile(filepath.Join(dir, f))
				st, _ := os.Stat(filepath.Join(dir, f))
				writeFile(t, filepath.Join(sub, f), string(b), st.Mode().Perm())
			}
			data := ports(t, "P0", "P1")
			data["Held"] = heldPort
			path := writeConfig(t, sub, c.yaml, data)
			if c.setup != nil {
				c.setup(t, filepath.Join(sub, "state"))
			}
			out, errOut, code := runCmd(t, append([]string{"check", "--config", path}, c.args...)...)
			if code != c.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.code, out, errOut)
			}
			lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
			for _, w := range c.want {
				w = strings.ReplaceAll(w, "{file}", regexp.QuoteMeta(path))
				w = strings.ReplaceAll(w, "{{.Held}}", fmt.Sprint(heldPort))
				re := regexp.MustCompile(w)
				found := false
				for _, l := range lines {
					found = found || re.MatchString(l)
				}
				if !found {
					t.Errorf("no output line matches %s\nstdout:\n%s", w, out)
				}
			}
			for _, n := range c.not {
				if strings.Contains(out, n) {
					t.Errorf("output contains %q:\n%s", n, out)
				}
			}
			// check never leaves a lock or a state directory behind.
			if c.setup == nil {
				if _, err := os.Stat(filepath.Join(sub, "state")); err == nil {
					t.Errorf("check created the state directory")
				}
			}
		})
	}
}

func TestCheckHelp(t *testing.T) {
	_, errOut, code := runCmd(t, "check", "--help")
	if code != 0 || !strings.Contains(errOut, "usage: powerjockey check --config FILE [--probe] [--strict]") || !strings.Contains(errOut, "-probe") {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
}

const probeConfig = `state_dir: {{.Dir}}/state
http: {listen: "127.0.0.1:{{.HTTP}}"}
pdus:
  - name: rack1
    address: "127.0.0.1:{{.PDU1}}"
    model: auto
    snmp: {version: 2c, community: private, timeout: 200ms, retries: 1}
  - name: rack2
    address: "127.0.0.1:{{.PDU2}}"
    model: eatonpower
    snmp: {version: "3", user: pj, auth_protocol: SHA256, auth_passphrase: auth-pass-123, priv_protocol: AES, priv_passphrase: priv-pass-456, timeout: 200ms, retries: 1}
  - name: dead
    address: "127.0.0.1:{{.Dead}}"
    model: apc_rpdu2
    snmp: {version: 2c, community: private, timeout: 200ms, retries: 1}
nodes:
  - name: n0
    ipmi: {listen: "127.0.0.1:{{.P0}}", username: admin, password: pw}
    pdu: {name: rack1, outlets: [3, 4]}
  - name: n1
    ipmi: {listen: "127.0.0.1:{{.P1}}", username: admin, password: pw}
    pdu: {name: rack2, outlets: [2]}
  - name: n2
    ipmi: {listen: "127.0.0.1:{{.P2}}", username: admin, password: pw}
    pdu: {name: dead, outlets: [1]}
`

func TestCheckProbe(t *testing.T) {
	dir := t.TempDir()
	data := ports(t, "PDU1", "PDU2", "Dead", "P0", "P1", "P2")
	path := writeConfig(t, dir, probeConfig, data)
	rack := startRack(t, path, nil)
	rack.PDU("dead").Agent().SetDropAll(true)
	rack.PDU("rack1").SetOutlet(3, true)

	out, errOut, code := runCmd(t, "check", "--config", path, "--probe")
	if code != 1 {
		t.Errorf("exit %d, want 1 (the dead PDU)\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, re := range []string{
		`(?m)^` + regexp.QuoteMeta(path) + `:13:5: pdus\[2\].address: probe failed: pdu dead: 127.0.0.1:\d+: device did not answer in time`,
		`(?m)^PDU +ADDRESS +MODEL +SYSOBJECTID +DESCRIPTION$`,
		`(?m)^rack1 +127.0.0.1:\d+ +apc_rpdu2 \(detected\) +1\.3\.6\.1\.4\.1\.318\.1\.3\.4\.6\S* +powerjockey simulated`,
		`(?m)^rack2 +127.0.0.1:\d+ +eatonpower +1\.3\.6\.1\.4\.1\.534\S* +`,
		`(?m)^dead +127.0.0.1:\d+ +- +- +no answer$`,
		`(?m)^PDU +OUTLET +NODE +STATE +WATTS$`,
		`(?m)^rack1 +3 +n0 +on +\d+$`,
		`(?m)^rack1 +4 +n0 +off +0$`,
		`(?m)^rack2 +2 +n1 +off +\S+$`,
		`(?m)^.*: 3 nodes, 3 PDUs: 1 error, 0 warnings$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output does not match %s:\n%s", re, out)
		}
	}

	// Without the dead PDU the probe passes.
	cfg := strings.Replace(probeConfig, "  - name: n2\n    ipmi: {listen: \"127.0.0.1:{{.P2}}\", username: admin, password: pw}\n    pdu: {name: dead, outlets: [1]}\n", "", 1)
	cfg = strings.Replace(cfg, "  - name: dead\n    address: \"127.0.0.1:{{.Dead}}\"\n    model: apc_rpdu2\n    snmp: {version: 2c, community: private, timeout: 200ms, retries: 1}\n", "", 1)
	sub := t.TempDir()
	data["Dir"] = sub
	path = writeConfig(t, sub, cfg, data)
	out, _, code = runCmd(t, "check", "--config", path, "--probe")
	if code != 0 || !strings.Contains(out, ": 2 nodes, 2 PDUs: OK") {
		t.Errorf("exit %d, want 0:\n%s", code, out)
	}
}

// TestCheckProbeSimulatedModel checks the warning for a PDU whose
// sysObjectID names another model than the configured one.
func TestCheckProbeModelMismatch(t *testing.T) {
	dir := t.TempDir()
	data := ports(t, "PDU1", "P0")
	path := writeConfig(t, dir, `state_dir: {{.Dir}}/state
http: {listen: "127.0.0.1:{{.HTTP}}"}
pdus:
  - name: rack1
    address: "127.0.0.1:{{.PDU1}}"
    model: apc_rpdu2
    snmp: {version: 2c, community: private, timeout: 200ms, retries: 1}
nodes:
  - name: n0
    ipmi: {listen: "127.0.0.1:{{.P0}}", username: admin, password: pw}
`, data)
	startRack(t, path, func(c *sim.Config) { c.PDUs[0].Model = "cyberpower" })
	out, _, code := runCmd(t, "check", "--config", path, "--probe")
	want := regexp.QuoteMeta(path) + `:6:5: pdus\[0\].model: warning: PDU rack1 is configured as apc_rpdu2, but no outlet status table at 1\.3\.6\.1\.4\.1\.318\.1\.1\.26\.9\.2\.3\.1\.5; its outlet table is that of model cyberpower`
	if code != 0 || !regexp.MustCompile(want).MatchString(out) {
		t.Errorf("exit %d, want 0 and a line matching %s:\n%s", code, want, out)
	}
}

func TestHookProgram(t *testing.T) {
	for _, c := range []struct{ cmd, want string }{
		{"ssh -o BatchMode=yes root@h poweroff", "ssh"},
		{"  /usr/bin/ipmitool -H x", "/usr/bin/ipmitool"},
		{"FOO=1 BAR=2 exec snmpset -v2c", "snmpset"},
		{"command -v x", ""},
		{"'/opt/my tools/x' --y", ""},
		{"\"fence_apc\" -a x", "fence_apc"},
		{"test -e /run/x", ""},
		{"$HOOK on", ""},
		{"if true; then x; fi", ""},
		{"(cd /tmp && x)", ""},
		{"", ""},
	} {
		if got := hookProgram(c.cmd); got != c.want {
			t.Errorf("hookProgram(%q) = %q, want %q", c.cmd, got, c.want)
		}
	}
}

// TestCheckCreatesNoLockFile: a state_dir where no daemon ever ran gets no
// lock file from check (one created by root would lock the daemon out).
func TestCheckCreatesNoLockFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "state"), 0o750); err != nil {
		t.Fatal(err)
	}
	path := writeConfig(t, dir, `state_dir: {{.Dir}}/state
http: {listen: "127.0.0.1:{{.HTTP}}"}
nodes:
  - name: n0
    ipmi: {listen: "127.0.0.1:{{.P0}}", username: admin, password: pw}
`, ports(t, "P0"))
	if out, _, code := runCmd(t, "check", "--config", path); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "state", "lock")); err == nil {
		t.Error("check created the state_dir's lock file")
	}
}
