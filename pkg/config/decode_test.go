package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestUnknownKeys(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"top level", `state_dri: /srv
` + minimal,
			`x.yaml:1:1: state_dri: unknown key "state_dri" (did you mean "state_dir"?)`},
		{"ipmi defaults", `ipmi:
  cipher_suite: [3]
` + minimal,
			`x.yaml:2:3: ipmi.cipher_suite: unknown key "cipher_suite" (did you mean "cipher_suites"?)`},
		{"http", `http:
  lisen: 127.0.0.1:1
` + minimal,
			`x.yaml:2:3: http.lisen: unknown key "lisen" (did you mean "listen"?)`},
		{"redfish", `redfish:
  listen: 127.0.0.1:8000
  tls_crt: /c.pem
` + minimal,
			`x.yaml:3:3: redfish.tls_crt: unknown key "tls_crt" (did you mean "tls_cert"?)`},
		{"pdu", `pdus:
- name: p1
  adress: 10.0.0.1
` + minimal,
			`x.yaml:3:3: pdus[0].adress: unknown key "adress" (did you mean "address"?)`},
		{"pdu snmp", `pdus:
- name: p1
  address: 10.0.0.1
  snmp:
    comunity: private
` + minimal,
			`x.yaml:5:5: pdus[0].snmp.comunity: unknown key "comunity" (did you mean "community"?)`},
		{"node ipmi (documented example)", `nodes:
- name: n1
  ipmi:
    listn: 127.0.0.1:6230
`,
			`x.yaml:4:5: nodes[0].ipmi.listn: unknown key "listn" (did you mean "listen"?)`},
		{"node", minimal + `  cycle_dealy: 1s
`,
			`x.yaml:7:3: nodes[0].cycle_dealy: unknown key "cycle_dealy" (did you mean "cycle_delay"?)`},
		{"second node", minimal + `- name: n2
  ipmi:
    listen: 127.0.0.1:6231
    usernme: admin
`,
			`x.yaml:10:5: nodes[1].ipmi.usernme: unknown key "usernme" (did you mean "username"?)`},
		{"node wol", minimal + `  mac: 52:54:00:00:00:01
  wol:
    targte: 10.0.0.255:9
`,
			`x.yaml:9:5: nodes[0].wol.targte: unknown key "targte" (did you mean "target"?)`},
		{"node pdu", minimal + `  pdu:
    name: p1
    outlet: [1]
`,
			`x.yaml:9:5: nodes[0].pdu.outlet: unknown key "outlet" (did you mean "outlets"?)`},
		{"node exec", minimal + `  exec:
    stauts: "true"
`,
			`x.yaml:8:5: nodes[0].exec.stauts: unknown key "stauts" (did you mean "status"?)`},
		{"node status", minimal + `  status:
    sorce: probe
`,
			`x.yaml:8:5: nodes[0].status.sorce: unknown key "sorce" (did you mean "source"?)`},
		{"node status probe", minimal + `  status:
    probe:
      tpc: 10.0.0.1:22
`,
			`x.yaml:9:7: nodes[0].status.probe.tpc: unknown key "tpc" (did you mean "tcp"?)`},
		{"no close key: no suggestion", minimal + `  frobnicate: true
`,
			`x.yaml:7:3: nodes[0].frobnicate: unknown key "frobnicate"`},
		{"flow mapping", `http: {listen: 127.0.0.1:1, lsiten: x}
` + minimal,
			`x.yaml:1:29: http.lsiten: unknown key "lsiten" (did you mean "listen"?)`},
		{"yaml-only key is not a key", `path: /etc/x.yaml
` + minimal,
			`x.yaml:1:1: path: unknown key "path"`},
		{"warnings is not a key", `warnings: []
` + minimal,
			`x.yaml:1:1: warnings: unknown key "warnings"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantExactly(t, tt.src, tt.want)
		})
	}
}

func TestEveryProblemIsReported(t *testing.T) {
	src := `state_dri: /srv
ipmi:
  max_sessions: many
nodes:
- name: n1
  ipmi:
    listn: 127.0.0.1:6230
  cycle_delay: 5
`
	wantExactly(t, src,
		`x.yaml:1:1: state_dri: unknown key "state_dri" (did you mean "state_dir"?)`,
		`x.yaml:3:17: ipmi.max_sessions: want an integer, got "many"`,
		`x.yaml:7:5: nodes[0].ipmi.listn: unknown key "listn" (did you mean "listen"?)`,
		`x.yaml:8:16: nodes[0].cycle_delay: invalid value "5": time: missing unit in duration "5"`,
	)
	// The joined message lists one problem per line.
	_, err := Parse(testFile, []byte(src))
	if n := strings.Count(err.Error(), "\n"); n != 3 {
		t.Errorf("Errors.Error() has %d newlines, want 3:\n%v", n, err)
	}
}

func TestDuplicateKey(t *testing.T) {
	wantExactly(t, minimal+`  name: n2
`, `x.yaml:7:3: nodes[0].name: duplicate key "name"`)
}

func TestWrongTypes(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"string for int", `ipmi:
  max_sessions: many
` + minimal, `x.yaml:2:17: ipmi.max_sessions: want an integer, got "many"`},
		{"quoted int", `ipmi:
  max_sessions: "32"
` + minimal, `x.yaml:2:17: ipmi.max_sessions: want an integer, got "32"`},
		{"float for int", `ipmi:
  max_sessions: 3.5
` + minimal, `x.yaml:2:17: ipmi.max_sessions: want an integer, got "3.5"`},
		{"bool for int", `ipmi:
  max_sessions: true
` + minimal, `x.yaml:2:17: ipmi.max_sessions: want an integer, got "true"`},
		{"list for mapping", `ipmi: [1, 2]
` + minimal, `x.yaml:1:7: ipmi: want a mapping of keys, got a list`},
		{"scalar for mapping", `http: 127.0.0.1:9623
` + minimal, `x.yaml:1:7: http: want a mapping of keys, got a scalar (not shown: it may be a misplaced secret)`},
		{"scalar for optional mapping", minimal + `  wol: yes
`, `x.yaml:7:8: nodes[0].wol: want a mapping of keys, got a scalar (not shown: it may be a misplaced secret)`},
		{"mapping for list", `nodes:
  name: n1
`, `x.yaml:2:3: nodes: want a list, got a mapping`},
		{"scalar for list", `ipmi:
  cipher_suites: 3
` + minimal, `x.yaml:2:18: ipmi.cipher_suites: want a list, got a scalar "3"`},
		{"bad list element", `ipmi:
  cipher_suites: [3, x]
` + minimal, `x.yaml:2:22: ipmi.cipher_suites[1]: want an integer, got "x"`},
		{"list for string", `nodes:
- name: n1
  ipmi:
    listen: [127.0.0.1:6230]
`, `x.yaml:4:13: nodes[0].ipmi.listen: want a string, got a list`},
		{"mapping for string", `state_dir: {a: b}
` + minimal, `x.yaml:1:12: state_dir: want a string, got a mapping`},
		{"bad bool yes", `redfish:
  insecure_http: yes
` + minimal, `x.yaml:2:18: redfish.insecure_http: want true or false, got "yes"`},
		{"quoted bool", `redfish:
  insecure_http: "true"
` + minimal, `x.yaml:2:18: redfish.insecure_http: want true or false, got "true"`},
		{"number for bool", `redfish:
  insecure_http: 1
` + minimal, `x.yaml:2:18: redfish.insecure_http: want true or false, got "1"`},
		{"string for float", minimal + `  status:
    watts_on: lots
`, `x.yaml:8:15: nodes[0].status.watts_on: want a number, got "lots"`},
		{"mapping for int in list", minimal + `  pdu:
    name: p1
    outlets: [1, {a: 1}]
`, `x.yaml:9:18: nodes[0].pdu.outlets[1]: want a int, got a mapping`},
		{"list for duration", `pdus:
- name: p1
  address: 10.0.0.1
  cache_ttl: [1s]
` + minimal, `x.yaml:4:14: pdus[0].cache_ttl: want a scalar value, got a list`},
		{"list for pointer int", `pdus:
- name: p1
  address: 10.0.0.1
  snmp:
    retries: [1]
` + minimal, `x.yaml:5:14: pdus[0].snmp.retries: want a int, got a list`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantExactly(t, tt.src, tt.want)
		})
	}
}

func TestScalarForms(t *testing.T) {
	// Forms YAML 1.2 resolves to the wanted type are accepted.
	cfg := parseOK(t, `ipmi:
  max_sessions: 0x10
  auth_failures_per_minute: 1_000
redfish:
  listen: 127.0.0.1:8000
  insecure_http: True
`+minimal+`  status:
    watts_on: 20
`)
	if cfg.IPMI.MaxSessions != 16 {
		t.Errorf("max_sessions 0x10 = %d, want 16", cfg.IPMI.MaxSessions)
	}
	if cfg.IPMI.AuthFailuresPerMinute != 1000 {
		t.Errorf("auth_failures_per_minute 1_000 = %d, want 1000", cfg.IPMI.AuthFailuresPerMinute)
	}
	if !cfg.Redfish.InsecureHTTP {
		t.Error("insecure_http True not parsed as true")
	}
	if *cfg.Nodes[0].Status.WattsOn != 20 {
		t.Errorf("watts_on 20 = %v, want 20", *cfg.Nodes[0].Status.WattsOn)
	}
	// A string field takes any scalar verbatim.
	cfg = parseOK(t, `nodes:
- name: n1
  ipmi:
    listen: 127.0.0.1:6230
    username: 1234
    password: 0x10
`)
	if cfg.Nodes[0].IPMI.Username != "1234" || cfg.Nodes[0].IPMI.Password != "0x10" {
		t.Errorf("username/password = %q/%q, want the literal text", cfg.Nodes[0].IPMI.Username, cfg.Nodes[0].IPMI.Password)
	}
}

func TestExplicitNullKeepsDefault(t *testing.T) {
	cfg := parseOK(t, `ipmi:
  max_sessions: null
  cipher_suites: ~
http:
`+minimal+`  wol:
  on_delay: null
`)
	if cfg.IPMI.MaxSessions != DefaultMaxSessions {
		t.Errorf("max_sessions = %d, want default %d", cfg.IPMI.MaxSessions, DefaultMaxSessions)
	}
	if len(cfg.IPMI.CipherSuites) != len(DefaultCipherSuites) {
		t.Errorf("cipher_suites = %v, want default", cfg.IPMI.CipherSuites)
	}
	if cfg.HTTP.Listen != DefaultHTTPListen {
		t.Errorf("http.listen = %q, want default", cfg.HTTP.Listen)
	}
	if cfg.Nodes[0].WoL != nil {
		t.Errorf("an empty wol: key enabled Wake-on-LAN: %+v", cfg.Nodes[0].WoL)
	}
	if cfg.Nodes[0].OnDelay.D() != 0 {
		t.Errorf("on_delay = %v, want 0", cfg.Nodes[0].OnDelay.D())
	}
}

func TestBadDurations(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"no unit", `ipmi:
  session_timeout: 5
` + minimal, `x.yaml:2:20: ipmi.session_timeout: invalid value "5": time: missing unit in duration "5"`},
		{"words", minimal + `  on_delay: soon
`, `x.yaml:7:13: nodes[0].on_delay: invalid value "soon": time: invalid duration "soon"`},
		{"negative", minimal + `  cycle_delay: -1s
`, `x.yaml:7:16: nodes[0].cycle_delay: invalid value "-1s": duration must not be negative`},
		{"negative pointer", `pdus:
- name: p1
  address: 10.0.0.1
  stagger: -5ms
` + minimal, `x.yaml:4:12: pdus[0].stagger: invalid value "-5ms": duration must not be negative`},
		{"bad unit", minimal + `  status:
    max_age: 2 sec
`, `x.yaml:8:14: nodes[0].status.max_age: invalid value "2 sec": time: unknown unit " sec" in duration "2 sec"`},
		{"exec timeout", minimal + `  exec:
    timeout: 1y
`, `x.yaml:8:14: nodes[0].exec.timeout: invalid value "1y": time: unknown unit "y" in duration "1y"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantExactly(t, tt.src, tt.want)
		})
	}
}

func TestDurationValues(t *testing.T) {
	cfg := parseOK(t, minimal+`  on_delay: 1m30s
  cycle_delay: 0s
  status:
    max_age: 250ms
`)
	n := cfg.Nodes[0]
	if n.OnDelay.D() != 90*time.Second {
		t.Errorf("on_delay = %v, want 1m30s", n.OnDelay.D())
	}
	if n.CycleDelay.D() != 0 {
		t.Errorf("cycle_delay 0s = %v, want 0 (explicit zero is kept)", n.CycleDelay.D())
	}
	if n.Status.MaxAge.D() != 250*time.Millisecond {
		t.Errorf("max_age = %v, want 250ms", n.Status.MaxAge.D())
	}
}

func TestMAC(t *testing.T) {
	tests := []struct {
		name, mac string
		want      string // normalized form, or "" for an error
		err       string
	}{
		{"colons", "52:54:00:AB:cd:01", "52:54:00:ab:cd:01", ""},
		{"dashes", "52-54-00-ab-cd-01", "52:54:00:ab:cd:01", ""},
		{"dots", "5254.00ab.cd01", "52:54:00:ab:cd:01", ""},
		{"too short", "52:54:00:ab:cd", "", `x.yaml:7:8: nodes[0].mac: invalid value "52:54:00:ab:cd": address 52:54:00:ab:cd: invalid MAC address`},
		{"not hex", "52:54:00:ab:cd:zz", "", `x.yaml:7:8: nodes[0].mac: invalid value "52:54:00:ab:cd:zz": address 52:54:00:ab:cd:zz: invalid MAC address`},
		{"EUI-64", "52:54:00:ab:cd:01:02:03", "", `x.yaml:7:8: nodes[0].mac: invalid value "52:54:00:ab:cd:01:02:03": want a 6-byte address like aa:bb:cc:dd:ee:ff`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := minimal + "  mac: " + tt.mac + "\n"
			if tt.err != "" {
				wantExactly(t, src, tt.err)
				return
			}
			cfg := parseOK(t, src)
			if got := cfg.Nodes[0].MAC.String(); got != tt.want {
				t.Errorf("mac = %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("wol password", func(t *testing.T) {
		wantExactly(t, minimal+`  mac: 52:54:00:00:00:01
  wol:
    password: secret
`, `x.yaml:9:15: nodes[0].wol.password: invalid value (not shown: it is a secret)`)
	})
	if s := (HardwareAddr(nil)).String(); s != "" {
		t.Errorf("unset HardwareAddr.String() = %q, want empty", s)
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"tab indentation", "nodes:\n\t- name: n1\n",
			`x.yaml:2: YAML syntax: found character that cannot start any token`},
		{"bad indentation", "state_dir: /srv\nnodes:\n- name: n1\n   ipmi: {}\n",
			`x.yaml:4: YAML syntax: mapping values are not allowed in this context`},
		{"unterminated quote", "state_dir: /srv\nnodes:\n- name: \"n1\n",
			`x.yaml:3: YAML syntax: found unexpected end of stream`},
		// Parser (rather than scanner) errors: yaml.v3 reports a 0-based line.
		{"unclosed flow list", "state_dir: /srv\nipmi:\n  cipher_suites: [1, 2\nnodes: []\n",
			`x.yaml:3: YAML syntax: did not find expected ',' or ']'`},
		{"unclosed flow mapping", "state_dir: /srv\nhttp: {listen: x\n",
			`x.yaml:2: YAML syntax: did not find expected ',' or '}'`},
		{"list item in a mapping", "state_dir: /srv\nhttp:\n  listen: x\n- a\n",
			`x.yaml:4: YAML syntax: did not find expected key`},
		{"mapping after a list", "- a\nb: c\n",
			`x.yaml:2: YAML syntax: did not find expected '-' indicator`},
		{"parser error on line 1", "]\n",
			`x.yaml:1: YAML syntax: did not find expected node content`},
		{"undefined tag handle", "state_dir: /srv\nnodes: !x!y z\n",
			`x.yaml:2: YAML syntax: found undefined tag handle`},
		{"scanner error sharing the parser's wording", "state_dir: /srv\nnodes: & x\n",
			`x.yaml:2: YAML syntax: did not find expected alphabetic or numeric character`},
		// yaml.v3 drops the line of a scanner error on line 1.
		{"scanner error on line 1", "a: b: c\n",
			`x.yaml: YAML syntax: mapping values are not allowed in this context`},
		{"unknown anchor", "state_dir: /srv\nnodes: *nope\n",
			`x.yaml: YAML syntax: unknown anchor 'nope' referenced`},
		{"outdented key", "nodes:\n  - name: a\n    ipmi:\n      listen: x\n     bad: 1\n",
			`x.yaml:2: YAML syntax: did not find expected key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantExactly(t, tt.src, tt.want)
		})
	}
}

func TestDocumentShape(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"empty", "", []string{`x.yaml: file is empty`}},
		{"comments only", "# nothing here\n\n", []string{`x.yaml: file is empty`}},
		{"list", "- a\n- b\n", []string{`x.yaml:1:1: want a mapping of keys, got a list`}},
		{"scalar", "hello\n", []string{`x.yaml:1:1: want a mapping of keys, got a scalar (not shown: it may be a misplaced secret)`}},
		{"null document", "~\n", []string{`x.yaml: nodes: at least one node is required`}},
		{"no nodes key", "state_dir: /srv\n", []string{`x.yaml: nodes: at least one node is required`}},
		{"empty nodes", "nodes: []\n", []string{`x.yaml:1:1: nodes: at least one node is required`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantExactly(t, tt.src, tt.want...)
		})
	}
}

func TestAliases(t *testing.T) {
	cfg := parseOK(t, `nodes:
- name: n1
  ipmi:
    listen: 127.0.0.1:6230
    username: &user admin
    password: secret
  cycle_delay: &d 2s
- name: n2
  ipmi:
    listen: 127.0.0.1:6231
    username: *user
    password: secret
  cycle_delay: *d
`)
	if got := cfg.Nodes[1].CycleDelay.D(); got != 2*time.Second {
		t.Errorf("aliased cycle_delay = %v, want 2s", got)
	}
	if got := cfg.Nodes[1].IPMI.Username; got != "admin" {
		t.Errorf("aliased username = %q, want admin", got)
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "f.yaml", Line: 3, Col: 5, Key: "a.b", Msg: "bad"}, "f.yaml:3:5: a.b: bad"},
		{Error{File: "f.yaml", Line: 3, Key: "a.b", Msg: "bad"}, "f.yaml:3: a.b: bad"},
		{Error{File: "f.yaml", Col: 5, Key: "a", Msg: "bad"}, "f.yaml: a: bad"},
		{Error{File: "f.yaml", Msg: "bad"}, "f.yaml: bad"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("%+v.Error() = %q, want %q", tt.e, got, tt.want)
		}
	}
	errs := Errors{&tests[0].e, &tests[3].e}
	if got, want := errs.Error(), "f.yaml:3:5: a.b: bad\nf.yaml: bad"; got != want {
		t.Errorf("Errors.Error() = %q, want %q", got, want)
	}
	var target Errors
	if !errors.As(error(errs), &target) || len(target) != 2 {
		t.Error("errors.As(Errors) failed")
	}
}

func TestSuggest(t *testing.T) {
	fields := map[string]int{"listen": 0, "username": 1, "password": 2, "privilege": 3, "cipher_suites": 4}
	tests := []struct{ key, want string }{
		{"listn", ` (did you mean "listen"?)`},
		{"LISTEN", ""}, // keys are case-sensitive and too far apart
		{"pasword", ` (did you mean "password"?)`},
		{"privilage", ` (did you mean "privilege"?)`},
		{"xyz", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.key, fields); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
	// Ties go to the alphabetically first key, so the hint is stable.
	for range 20 {
		if got := suggest("ab", map[string]int{"ac": 0, "aa": 1, "ad": 2}); got != ` (did you mean "aa"?)` {
			t.Fatalf("tie suggestion = %q, want aa", got)
		}
	}
}

func TestLevenshtein(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "abc", 3}, {"kitten", "sitting", 3},
		{"listen", "listn", 1}, {"target", "targte", 2}, {"same", "same", 0},
	}
	for _, tt := range tests {
		if got := levenshtein(tt.a, tt.b); got != tt.want {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
