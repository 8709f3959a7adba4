package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	cfg := parseOK(t, minimal)
	if cfg.Path != testFile {
		t.Errorf("Path = %q, want %q", cfg.Path, testFile)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("Warnings = %v, want none", cfg.Warnings)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"state_dir", cfg.StateDir, DefaultStateDir},
		{"ipmi.cipher_suites", cfg.IPMI.CipherSuites, []int{3, 17}},
		{"ipmi.v15_auth_types", *cfg.IPMI.V15AuthTypes, []string{"md5"}},
		{"ipmi.max_sessions", cfg.IPMI.MaxSessions, 32},
		{"ipmi.session_timeout", cfg.IPMI.SessionTimeout.D(), 60 * time.Second},
		{"ipmi.auth_failures_per_minute", cfg.IPMI.AuthFailuresPerMinute, 30},
		{"http.listen", cfg.HTTP.Listen, "127.0.0.1:9623"},
		{"redfish.listen", cfg.Redfish.Listen, ""},
		{"redfish.insecure_http", cfg.Redfish.InsecureHTTP, false},
		{"nodes[0].ipmi.privilege", cfg.Nodes[0].IPMI.Privilege, PrivilegeAdministrator},
		{"nodes[0].ipmi.cipher_suites", cfg.Nodes[0].IPMI.CipherSuites, []int(nil)},
		{"nodes[0].fallback", cfg.Nodes[0].Fallback, "manual"},
		{"nodes[0].on_delay", cfg.Nodes[0].OnDelay.D(), time.Duration(0)},
		{"nodes[0].cycle_delay", cfg.Nodes[0].CycleDelay.D(), 5 * time.Second},
		{"nodes[0].status.source", cfg.Nodes[0].Status.Source, "auto"},
		{"nodes[0].status.watts_on", *cfg.Nodes[0].Status.WattsOn, 15.0},
		{"nodes[0].status.max_age", cfg.Nodes[0].Status.MaxAge.D(), 2 * time.Second},
		{"nodes[0].wol", cfg.Nodes[0].WoL == nil, true},
		{"nodes[0].pdu", cfg.Nodes[0].PDU == nil, true},
		{"nodes[0].exec", cfg.Nodes[0].Exec == nil, true},
		{"nodes[0].status.probe", cfg.Nodes[0].Status.Probe == nil, true},
		{"nodes[0].guid", cfg.Nodes[0].GUID, ""},
	}
	for _, c := range checks {
		if !equal(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}

	// The constants themselves are the documented values.
	constants := []struct {
		what      string
		got, want any
	}{
		{"DefaultStateDir", DefaultStateDir, "/var/lib/powerjockey"},
		{"DefaultHTTPListen", DefaultHTTPListen, "127.0.0.1:9623"},
		{"DefaultMaxSessions", DefaultMaxSessions, 32},
		{"DefaultSessionTimeout", DefaultSessionTimeout, 60 * time.Second},
		{"DefaultAuthFailures", DefaultAuthFailures, 30},
		{"DefaultSNMPPort", DefaultSNMPPort, 161},
		{"DefaultSNMPTimeout", DefaultSNMPTimeout, time.Second},
		{"DefaultSNMPRetries", DefaultSNMPRetries, 2},
		{"DefaultCacheTTL", DefaultCacheTTL, 2 * time.Second},
		{"DefaultStagger", DefaultStagger, time.Second},
		{"DefaultVerifyTimeout", DefaultVerifyTimeout, 5 * time.Second},
		{"DefaultWoLTarget", DefaultWoLTarget, "255.255.255.255:9"},
		{"DefaultWoLRepeat", DefaultWoLRepeat, 3},
		{"DefaultWoLInterval", DefaultWoLInterval, time.Second},
		{"DefaultOnDelayPDUAndWoL", DefaultOnDelayPDUAndWoL, 5 * time.Second},
		{"DefaultCycleDelay", DefaultCycleDelay, 5 * time.Second},
		{"DefaultExecTimeout", DefaultExecTimeout, 30 * time.Second},
		{"DefaultWattsOn", DefaultWattsOn, 15.0},
		{"DefaultStatusMaxAge", DefaultStatusMaxAge, 2 * time.Second},
		{"DefaultProbeTimeout", DefaultProbeTimeout, time.Second},
	}
	for _, c := range constants {
		if !equal(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
}

func equal(a, b any) bool {
	switch a := a.(type) {
	case []int:
		return slices.Equal(a, b.([]int)) && (a == nil) == (b.([]int) == nil)
	case []string:
		return slices.Equal(a, b.([]string))
	}
	return a == b
}

func TestDefaultsOfOptionalSections(t *testing.T) {
	cfg := parseOK(t, pdu1+"nodes:\n"+
		// n1: PDU and WoL, so the WoL waits for the outlets.
		node("n1", "127.0.0.1:6230", "mac: 52:54:00:00:00:01", "wol: {}", "pdu: {name: p1, outlets: [1]}", "exec: {status: \"true\"}", "status: {probe: {tcp: \"10.0.0.1:22\"}}")+
		// n2: WoL only.
		node("n2", "127.0.0.1:6231", "mac: 52:54:00:00:00:02", "wol: {interface: eth0}")+
		// n3: PDU only.
		node("n3", "127.0.0.1:6232", "pdu: {name: p1, outlets: [2]}")+
		// n4: explicit on_delay wins.
		node("n4", "127.0.0.1:6233", "mac: 52:54:00:00:00:04", "wol: {}", "pdu: {name: p1, outlets: [4]}", "on_delay: 0s"))

	p := cfg.PDUs[0]
	pduChecks := []struct {
		what      string
		got, want any
	}{
		{"pdus[0].model", p.Model, "auto"},
		{"pdus[0].address", p.Address, "10.0.0.1:161"},
		{"pdus[0].outlets", p.Outlets, 0},
		{"pdus[0].snmp.version", p.SNMP.Version, "2c"},
		{"pdus[0].snmp.timeout", p.SNMP.Timeout.D(), time.Second},
		{"pdus[0].snmp.retries", *p.SNMP.Retries, 2},
		{"pdus[0].cache_ttl", p.CacheTTL.D(), 2 * time.Second},
		{"pdus[0].stagger", p.Stagger.D(), time.Second},
		{"pdus[0].verify_timeout", p.VerifyTimeout.D(), 5 * time.Second},
	}
	for _, c := range pduChecks {
		if !equal(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}

	n1, n2, n3, n4 := cfg.Nodes[0], cfg.Nodes[1], cfg.Nodes[2], cfg.Nodes[3]
	nodeChecks := []struct {
		what      string
		got, want any
	}{
		{"n1.wol.target", n1.WoL.Target, "255.255.255.255:9"},
		{"n1.wol.interface", n1.WoL.Interface, ""},
		{"n1.wol.repeat", n1.WoL.Repeat, 3},
		{"n1.wol.interval", n1.WoL.Interval.D(), time.Second},
		{"n1.on_delay (pdu+wol)", n1.OnDelay.D(), 5 * time.Second},
		{"n1.exec.timeout", n1.Exec.Timeout.D(), 30 * time.Second},
		{"n1.status.probe.timeout", n1.Status.Probe.Timeout.D(), time.Second},
		{"n2.wol.target (interface given)", n2.WoL.Target, ""},
		{"n2.on_delay (wol only)", n2.OnDelay.D(), time.Duration(0)},
		{"n3.on_delay (pdu only)", n3.OnDelay.D(), time.Duration(0)},
		{"n3.cycle_delay", n3.CycleDelay.D(), 5 * time.Second},
		{"n4.on_delay (explicit)", n4.OnDelay.D(), time.Duration(0)},
	}
	for _, c := range nodeChecks {
		if !equal(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if got := n1.MAC.String(); got != "52:54:00:00:00:01" {
		t.Errorf("n1.mac = %q", got)
	}
}

func TestZeroMeansDefault(t *testing.T) {
	// Where the documentation says so, an explicit 0 keeps the default.
	cfg := parseOK(t, `ipmi:
  max_sessions: 0
  session_timeout: 0s
  auth_failures_per_minute: 0
`+minimal+`  status:
    max_age: 0s
`)
	if cfg.IPMI.MaxSessions != DefaultMaxSessions || cfg.IPMI.SessionTimeout.D() != DefaultSessionTimeout ||
		cfg.IPMI.AuthFailuresPerMinute != DefaultAuthFailures || cfg.Nodes[0].Status.MaxAge.D() != DefaultStatusMaxAge {
		t.Errorf("explicit zeros did not keep defaults: %+v, max_age %v", cfg.IPMI, cfg.Nodes[0].Status.MaxAge.D())
	}
}

func TestOverridesKept(t *testing.T) {
	cfg := parseOK(t, `state_dir: /srv/pj
ipmi:
  cipher_suites: [17]
  v15_auth_types: [password]
  max_sessions: 4
  session_timeout: 30s
  auth_failures_per_minute: -1
http:
  listen: 0.0.0.0:80
  accounts: true
nodes:
- name: n1
  ipmi:
    listen: 127.0.0.1:6230
    username: admin
    password: secret
    privilege: operator
  fallback: error
  cycle_delay: 10s
  guid: 4C4C4544-0042-3010-8052-B7C04F4B4D31
  cpu: 4
  memory: 8192
  disk: 40
  arch: x86_64
  capabilities: boot_mode:uefi
  status:
    source: recorded
    watts_on: 40.5
    max_age: 1s
`)
	n := cfg.Nodes[0]
	if cfg.StateDir != "/srv/pj" || !slices.Equal(cfg.IPMI.CipherSuites, []int{17}) ||
		!slices.Equal(*cfg.IPMI.V15AuthTypes, []string{"password"}) || cfg.IPMI.MaxSessions != 4 ||
		cfg.IPMI.SessionTimeout.D() != 30*time.Second || cfg.IPMI.AuthFailuresPerMinute != -1 ||
		cfg.HTTP.Listen != "0.0.0.0:80" {
		t.Errorf("globals not kept: %+v", cfg)
	}
	if n.IPMI.Privilege != "operator" || n.Fallback != "error" || n.CycleDelay.D() != 10*time.Second ||
		n.GUID != "4C4C4544-0042-3010-8052-B7C04F4B4D31" || n.CPU != 4 || n.Memory != 8192 || n.Disk != 40 ||
		n.Arch != "x86_64" || n.Capabilities != "boot_mode:uefi" || n.Status.Source != "recorded" ||
		*n.Status.WattsOn != 40.5 || n.Status.MaxAge.D() != time.Second {
		t.Errorf("node settings not kept: %+v", n)
	}
}

// loadFile writes a config file and loads it.
func loadFile(t *testing.T, dir, content string, mode os.FileMode) (*Config, error) {
	t.Helper()
	return Load(writeFile(t, dir, "powerjockey.yaml", content, mode))
}

func TestPasswordFile(t *testing.T) {
	const head = "nodes:\n- name: n1\n  ipmi:\n    listen: 127.0.0.1:6230\n    username: admin\n"
	tests := []struct {
		name     string
		content  *string // secret file content; nil: no file
		mode     os.FileMode
		ref      string // value of password_file; "{abs}" is replaced by the absolute path
		want     string // resolved password
		errs     []string
		warnings []string
	}{
		{name: "trailing newline stripped", content: ptr("hunter2\n"), mode: 0o600, ref: "pw", want: "hunter2"},
		{name: "CRLF stripped", content: ptr("hunter2\r\n"), mode: 0o600, ref: "pw", want: "hunter2"},
		{name: "only one newline stripped", content: ptr("hunter2\n\n"), mode: 0o600, ref: "pw", want: "hunter2\n"},
		{name: "no newline", content: ptr("hunter2"), mode: 0o600, ref: "pw", want: "hunter2"},
		{name: "inner spaces kept", content: ptr(" a b \n"), mode: 0o600, ref: "pw", want: " a b "},
		{name: "absolute path", content: ptr("abs\n"), mode: 0o640, ref: "{abs}", want: "abs"},
		{name: "relative to the config directory", content: ptr("rel\n"), mode: 0o600, ref: "./pw", want: "rel"},
		{name: "empty file", content: ptr(""), mode: 0o600, ref: "pw",
			errs: []string{`:6:5: nodes[0].ipmi.password_file: secret file {abs} is empty`}},
		{name: "only a newline", content: ptr("\n"), mode: 0o600, ref: "pw",
			errs: []string{`:6:5: nodes[0].ipmi.password_file: secret file {abs} is empty`}},
		{name: "missing file", ref: "pw",
			errs: []string{`:6:5: nodes[0].ipmi.password_file: cannot read secret file: stat {abs}: no such file or directory`}},
		{name: "directory", ref: ".",
			errs: []string{`:6:5: nodes[0].ipmi.password_file: cannot read secret file: not a regular file`}},
		{name: "too long", content: ptr(strings.Repeat("p", 21) + "\n"), mode: 0o600, ref: "pw",
			errs: []string{`:6:5: nodes[0].ipmi.password_file: at most 20 bytes (IPMI v2.0 limit), got 21`}},
		{name: "world-readable is a warning", content: ptr("hunter2\n"), mode: 0o644, ref: "pw", want: "hunter2",
			warnings: []string{`:6:5: nodes[0].ipmi.password_file: secret file {abs} is world-readable (mode 0644); chmod 0640 it`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			abs := filepath.Join(dir, "pw")
			if tt.content != nil {
				writeFile(t, dir, "pw", *tt.content, tt.mode)
			}
			ref := strings.ReplaceAll(tt.ref, "{abs}", abs)
			cfgPath := filepath.Join(dir, "powerjockey.yaml")
			expand := func(s string) string {
				return cfgPath + strings.ReplaceAll(s, "{abs}", abs)
			}
			// Run from elsewhere: relative paths must not depend on the cwd.
			t.Chdir(t.TempDir())
			cfg, err := loadFile(t, dir, head+"    password_file: "+ref+"\n", 0o600)
			if tt.errs != nil {
				var errs Errors
				if !errors.As(err, &errs) {
					t.Fatalf("Load error = %v, want Errors", err)
				}
				want := make([]string, len(tt.errs))
				for i, e := range tt.errs {
					want[i] = expand(e)
				}
				if got := errStrings(errs); !slices.Equal(got, want) {
					t.Errorf("errors:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := cfg.Nodes[0].IPMI.Password; got != tt.want {
				t.Errorf("password = %q, want %q", got, tt.want)
			}
			var want []string
			for _, w := range tt.warnings {
				want = append(want, expand(w))
			}
			if got := errStrings(cfg.Warnings); !slices.Equal(got, want) {
				t.Errorf("warnings:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
		})
	}
}

func TestPasswordFileUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any file")
	}
	dir := t.TempDir()
	writeFile(t, dir, "pw", "secret\n", 0o000)
	_, err := loadFile(t, dir, "nodes:\n- name: n1\n  ipmi:\n    listen: 127.0.0.1:6230\n    username: admin\n    password_file: pw\n", 0o600)
	if err == nil || !strings.Contains(err.Error(), ":6:5: nodes[0].ipmi.password_file: cannot read secret file: open ") {
		t.Errorf("Load error = %v, want a permission error at the password_file key", err)
	}
}

func TestParseResolvesAgainstFileDir(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "pw", "fromdir\n", 0o600)
	src := "nodes:\n- name: n1\n  ipmi:\n    listen: 127.0.0.1:6230\n    username: admin\n    password_file: pw\n"
	cfg, err := Parse(filepath.Join(dir, "sub", "..", "c.yaml"), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Nodes[0].IPMI.Password != "fromdir" {
		t.Errorf("password = %q, want fromdir", cfg.Nodes[0].IPMI.Password)
	}
}

func TestSNMPPassphraseFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "auth", "authpass1\n", 0o600)
	writeFile(t, dir, "priv", "privpass1\n", 0o644)
	writeFile(t, dir, "short", "short\n", 0o600)
	src := `pdus:
- name: p1
  address: 10.0.0.1
  snmp:
    version: "3"
    user: u
    auth_protocol: SHA
    auth_passphrase_file: auth
    priv_protocol: AES
    priv_passphrase_file: priv
` + minimal
	cfg, err := loadFile(t, dir, src, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.PDUs[0].SNMP
	if s.AuthPassphrase != "authpass1" || s.PrivPassphrase != "privpass1" {
		t.Errorf("passphrases = %q/%q", s.AuthPassphrase, s.PrivPassphrase)
	}
	cfgPath := filepath.Join(dir, "powerjockey.yaml")
	wantWarn := cfgPath + ":10:5: pdus[0].snmp.priv_passphrase_file: secret file " + filepath.Join(dir, "priv") + " is world-readable (mode 0644); chmod 0640 it"
	// minimal has an inline IPMI password, but the file is 0600: no file warning.
	if got := errStrings(cfg.Warnings); !slices.Equal(got, []string{wantWarn}) {
		t.Errorf("warnings = %q, want [%q]", got, wantWarn)
	}

	_, err = loadFile(t, dir, strings.Replace(src, "auth_passphrase_file: auth", "auth_passphrase_file: short", 1), 0o600)
	want := cfgPath + ":8:5: pdus[0].snmp.auth_passphrase_file: required with auth_protocol, at least 8 characters (RFC 3414)"
	if err == nil || err.Error() != want {
		t.Errorf("short passphrase file: error = %v, want %q", err, want)
	}
}

func TestWorldReadableConfig(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "pw", "secret\n", 0o600)
	withFile := "nodes:\n- name: n1\n  ipmi:\n    listen: 127.0.0.1:6230\n    username: admin\n    password_file: pw\n"
	v3Files := "pdus:\n- name: p1\n  address: 10.0.0.1\n  snmp:\n    version: \"3\"\n    user: u\n    auth_protocol: SHA\n    auth_passphrase_file: pw8\n" + withFile
	writeFile(t, dir, "pw8", "12345678\n", 0o600)
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		warn    bool
	}{
		{"inline password, world-readable", minimal, 0o644, true},
		{"inline password, 0640", minimal, 0o640, false},
		{"inline password, 0600", minimal, 0o600, false},
		{"password file, world-readable", withFile, 0o644, false},
		{"community, world-readable", pdu1 + minimal, 0o604, true},
		{"v3 passphrase files, world-readable", v3Files, 0o644, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadFile(t, dir, tt.content, tt.mode)
			if err != nil {
				t.Fatalf("a world-readable config must load (warning only): %v", err)
			}
			var want []string
			if tt.warn {
				want = []string{filepath.Join(dir, "powerjockey.yaml") + ": file is world-readable (mode 0" + octal(tt.mode) +
					") and holds passwords; chmod 0640 it or move secrets to *_file keys"}
			}
			if got := errStrings(cfg.Warnings); !slices.Equal(got, want) {
				t.Errorf("warnings = %q, want %q", got, want)
			}
		})
	}
}

func octal(m os.FileMode) string {
	const digits = "01234567"
	p := m.Perm()
	return string([]byte{digits[p>>6&7], digits[p>>3&7], digits[p&7]})
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(filepath.Join(dir, "missing.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: error = %v, want fs.ErrNotExist", err)
	}
	// Every problem in the file, each naming the file.
	cfg, err := loadFile(t, dir, "nodes:\n"+node("n1", "127.0.0.1:6230", "fallback: maybe")+node("n1", "127.0.0.1:6230"), 0o600)
	if cfg != nil {
		t.Error("Load returned a config with errors")
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %T is not Errors: %v", err, err)
	}
	p := filepath.Join(dir, "powerjockey.yaml")
	want := []string{
		p + `:7:3: nodes[0].fallback: want manual or error, got "maybe"`,
		p + `:8:3: nodes[1].name: duplicate node name "n1" (also nodes[0])`,
		p + `:10:5: nodes[1].ipmi.listen: 127.0.0.1:6230 conflicts with 127.0.0.1:6230 (nodes[0].ipmi.listen): each node needs its own port or address`,
	}
	if got := errStrings(errs); !slices.Equal(got, want) {
		t.Errorf("errors:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	// Syntax errors come back as Errors too.
	_, err = loadFile(t, dir, "nodes:\n\t- a\n", 0o600)
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Line != 2 || errs[0].File != p {
		t.Errorf("syntax error = %#v, want one Error at %s line 2", err, p)
	}
}

func TestGUIDConfig(t *testing.T) {
	cfg := parseOK(t, minimal+"  guid: 4c4c4544-0042-3010-8052-b7c04f4b4d31\n")
	g, err := ParseGUID(cfg.Nodes[0].GUID)
	if err != nil {
		t.Fatal(err)
	}
	if g[0] != 0x4c || g[15] != 0x31 {
		t.Errorf("GUID bytes = %x", g)
	}
}

func TestParseGUID(t *testing.T) {
	tests := []struct {
		in   string
		want string // hex of the 16 bytes, "" for an error
		err  string
	}{
		{"4c4c4544-0042-3010-8052-b7c04f4b4d31", "4c4c454400423010" + "8052b7c04f4b4d31", ""},
		{"4C4C4544-0042-3010-8052-B7C04F4B4D31", "4c4c454400423010" + "8052b7c04f4b4d31", ""},
		{"00000000-0000-0000-0000-000000000000", "00000000000000000000000000000000", ""},
		{"", "", `want a UUID like 4c4c4544-0042-3010-8052-b7c04f4b4d31, got ""`},
		{"4c4c454400423010 8052b7c04f4b4d31", "", `want a UUID like`},
		{"4c4c45440042301080 52b7c04f4b4d31", "", `want a UUID like`},
		{"4c4c4544004230108052b7c04f4b4d31", "", `want a UUID like`},
		{"{4c4c4544-0042-3010-8052-b7c04f4b4d31}", "", `want a UUID like`},
		{"4c4c4544-0042-3010-8052-b7c04f4b4d3", "", `want a UUID like`},
		{"4c4c4544-0042-3010-8052-b7c04f4b4d311", "", `want a UUID like`},
		{"4c4c454-40042-3010-8052-b7c04f4b4d31", "", `want a UUID like`},
		{"4c4c4544-0042-3010-8052-b7c04f4b4d3g", "", `want a UUID of hex digits, got "4c4c4544-0042-3010-8052-b7c04f4b4d3g"`},
		{"4c4c4544-+042-3010-8052-b7c04f4b4d31", "", `want a UUID of hex digits`},
	}
	for _, tt := range tests {
		g, err := ParseGUID(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseGUID(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseGUID(%q): %v", tt.in, err)
			continue
		}
		if got := hexOf(g[:]); got != tt.want {
			t.Errorf("ParseGUID(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func ptr[T any](v T) *T { return &v }
