package config

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// node returns a valid node entry (6 lines, "- name" first) with extra
// lines appended at the node's indentation.
func node(name, listen string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "- name: %s\n  ipmi:\n    listen: %s\n    username: admin\n    password: secret\n", name, listen)
	for _, l := range extra {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}

func TestGlobalRules(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"relative state_dir", "state_dir: var/lib\n" + minimal,
			[]string{`x.yaml:1:1: state_dir: must be an absolute path, got "var/lib"`}},
		{"max_sessions too big", "ipmi:\n  max_sessions: 64\n" + minimal,
			[]string{`x.yaml:2:3: ipmi.max_sessions: must be between 1 and 63 (the IPMI session count field is 6 bits), got 64`}},
		{"max_sessions negative", "ipmi:\n  max_sessions: -1\n" + minimal,
			[]string{`x.yaml:2:3: ipmi.max_sessions: must be between 1 and 63 (the IPMI session count field is 6 bits), got -1`}},
		{"auth failures below -1", "ipmi:\n  auth_failures_per_minute: -2\n" + minimal,
			[]string{`x.yaml:2:3: ipmi.auth_failures_per_minute: must be -1 (unlimited) or positive`}},
		{"v15 none", "ipmi:\n  v15_auth_types: [md5, none]\n" + minimal,
			[]string{`x.yaml:2:25: ipmi.v15_auth_types[1]: authentication type none is never accepted`}},
		{"v15 unknown", "ipmi:\n  v15_auth_types:\n  - md2\n" + minimal,
			[]string{`x.yaml:3:5: ipmi.v15_auth_types[0]: unknown authentication type "md2" (want md5 or password)`}},
		{"http listen hostname", "http:\n  listen: localhost:9623\n" + minimal,
			[]string{`x.yaml:2:3: http.listen: want IP:port or "off", got "localhost:9623"`}},
		{"http listen no port", "http:\n  listen: 127.0.0.1\n" + minimal,
			[]string{`x.yaml:2:3: http.listen: want IP:port or "off", got "127.0.0.1"`}},
		{"redfish listen", "redfish:\n  listen: 8000\n" + minimal,
			[]string{`x.yaml:2:3: redfish.listen: want host:port, got "8000"`}},
		{"redfish cert without key", "redfish:\n  listen: :8000\n  tls_cert: /c.pem\n" + minimal,
			[]string{`x.yaml:1:1: redfish: tls_cert and tls_key go together`}},
		{"redfish key without cert", "redfish:\n  listen: :8000\n  tls_key: /k.pem\n" + minimal,
			[]string{`x.yaml:1:1: redfish: tls_cert and tls_key go together`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantExactly(t, tt.src, tt.want...)
		})
	}

	ok := []struct{ name, src string }{
		{"auth failures -1", "ipmi:\n  auth_failures_per_minute: -1\n" + minimal},
		{"max_sessions 63", "ipmi:\n  max_sessions: 63\n" + minimal},
		{"max_sessions 1", "ipmi:\n  max_sessions: 1\n" + minimal},
		{"http off", "http:\n  listen: \"off\"\n" + minimal},
		{"http ipv6", "http:\n  listen: \"[::1]:9623\"\n" + minimal},
		{"v15 both", "ipmi:\n  v15_auth_types: [md5, password]\n" + minimal},
		{"v15 disabled", "ipmi:\n  v15_auth_types: []\n" + minimal},
		{"redfish with cert and key", "redfish:\n  listen: 0.0.0.0:8000\n  tls_cert: /c.pem\n  tls_key: /k.pem\n" + minimal},
		{"redfish cert without listen", "redfish:\n  tls_cert: /c.pem\n" + minimal},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) { parseOK(t, tt.src) })
	}
}

func TestCipherSuites(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // nil: valid
		eff  []int    // effective global list when valid
	}{
		{"default", minimal, nil, []int{3, 17}},
		{"suite 0 when listed", "ipmi:\n  cipher_suites: [0, 3]\n" + minimal, nil, []int{0, 3}},
		{"every supported suite", "ipmi:\n  cipher_suites: [0, 1, 2, 3, 15, 16, 17]\n" + minimal, nil, []int{0, 1, 2, 3, 15, 16, 17}},
		{"unknown suite", "ipmi:\n  cipher_suites: [3, 4, 18]\n" + minimal, []string{
			`x.yaml:2:22: ipmi.cipher_suites[1]: cipher suite 4 is not supported (supported: 0, 1, 2, 3, 15, 16, 17)`,
			`x.yaml:2:25: ipmi.cipher_suites[2]: cipher suite 18 is not supported (supported: 0, 1, 2, 3, 15, 16, 17)`,
		}, nil},
		{"negative suite", "ipmi:\n  cipher_suites: [-1]\n" + minimal, []string{
			`x.yaml:2:19: ipmi.cipher_suites[0]: cipher suite -1 is not supported (supported: 0, 1, 2, 3, 15, 16, 17)`,
		}, nil},
		{"duplicate", "ipmi:\n  cipher_suites: [3, 17, 3]\n" + minimal, []string{
			`x.yaml:2:26: ipmi.cipher_suites[2]: cipher suite 3 listed twice`,
		}, nil},
		{"empty list", "ipmi:\n  cipher_suites: []\n" + minimal, []string{
			`x.yaml:2:3: ipmi.cipher_suites: at least one cipher suite is required`,
		}, nil},
		{"node override", minimal + "    cipher_suites: [17, 5, 17]\n", []string{
			`x.yaml:7:25: nodes[0].ipmi.cipher_suites[1]: cipher suite 5 is not supported (supported: 0, 1, 2, 3, 15, 16, 17)`,
			`x.yaml:7:28: nodes[0].ipmi.cipher_suites[2]: cipher suite 17 listed twice`,
		}, nil},
		{"node override empty", minimal + "    cipher_suites: []\n", []string{
			`x.yaml:7:5: nodes[0].ipmi.cipher_suites: at least one cipher suite is required`,
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want != nil {
				wantExactly(t, tt.src, tt.want...)
				return
			}
			cfg := parseOK(t, tt.src)
			if !slices.Equal(cfg.IPMI.CipherSuites, tt.eff) {
				t.Errorf("cipher_suites = %v, want %v", cfg.IPMI.CipherSuites, tt.eff)
			}
		})
	}
	for _, weak := range []int{0, 1, 2, 15, 16} {
		if slices.Contains(DefaultCipherSuites, weak) {
			t.Errorf("suite %d (no authentication, integrity or confidentiality) must not be a default", weak)
		}
	}
	// The default list is a copy: changing one config does not change the next.
	cfg := parseOK(t, minimal)
	cfg.IPMI.CipherSuites[0] = 99
	if DefaultCipherSuites[0] == 99 {
		t.Error("applyDefaults aliased DefaultCipherSuites")
	}
	cfg = parseOK(t, minimal)
	(*cfg.IPMI.V15AuthTypes)[0] = "changed"
	if DefaultV15AuthTypes[0] == "changed" {
		t.Error("applyDefaults aliased DefaultV15AuthTypes")
	}
}

// TestWeakAuthWarnings: suites without authentication or integrity, and
// v1.5 straight password, are accepted when listed but warned about at the
// key that lists them (check prints warnings; serve logs them at start).
func TestWeakAuthWarnings(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"defaults", minimal, nil},
		{"strong suites", "ipmi:\n  cipher_suites: [3, 17, 2, 16]\n" + minimal, nil},
		{"suites 0, 1, 15", "ipmi:\n  cipher_suites: [0, 1, 3, 15, 17]\n" + minimal, []string{
			`x.yaml:2:19: ipmi.cipher_suites[0]: cipher suite 0 has no authentication: any password (or none) opens a session for a known user name (CVE-2013-4782); offer it only for a client that cannot do 3 or 17`,
			`x.yaml:2:22: ipmi.cipher_suites[1]: cipher suite 1 has no integrity protection: commands in its sessions can be forged or altered on the wire (and no confidentiality); offer it only for a client that cannot do 3 or 17`,
			`x.yaml:2:28: ipmi.cipher_suites[3]: cipher suite 15 has no integrity protection: commands in its sessions can be forged or altered on the wire (and no confidentiality); offer it only for a client that cannot do 3 or 17`,
		}},
		{"node override", minimal + "    cipher_suites: [17, 1]\n", []string{
			`x.yaml:7:25: nodes[0].ipmi.cipher_suites[1]: cipher suite 1 has no integrity protection: commands in its sessions can be forged or altered on the wire (and no confidentiality); offer it only for a client that cannot do 3 or 17`,
		}},
		{"v1.5 md5", "ipmi:\n  v15_auth_types: [md5]\n" + minimal, nil},
		{"v1.5 password", "ipmi:\n  v15_auth_types: [md5, password]\n" + minimal, []string{
			`x.yaml:2:25: ipmi.v15_auth_types[1]: IPMI v1.5 straight-password authentication sends the password in clear text in every request: anyone on the provisioning network reads it; use md5, or RMCP+ (ipmitool -I lanplus) and [] here`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parseOK(t, tt.src)
			if got := errStrings(cfg.Warnings); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("warnings:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

func TestNodeRules(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"duplicate node name", "nodes:\n" + node("n1", "127.0.0.1:6230") + node("n1", "127.0.0.1:6231"),
			[]string{`x.yaml:7:3: nodes[1].name: duplicate node name "n1" (also nodes[0])`}},
		{"bad node name", "nodes:\n" + node("n 1", "127.0.0.1:6230"),
			[]string{`x.yaml:2:3: nodes[0].name: want a name of letters, digits, '.', '_' or '-', got "n 1"`}},
		{"name starts with dot", "nodes:\n" + node(".n1", "127.0.0.1:6230"),
			[]string{`x.yaml:2:3: nodes[0].name: want a name of letters, digits, '.', '_' or '-', got ".n1"`}},
		{"missing name", "nodes:\n- ipmi:\n    listen: 127.0.0.1:6230\n    username: admin\n    password: secret\n",
			[]string{`x.yaml:2:3: nodes[0].name: want a name of letters, digits, '.', '_' or '-', got ""`}},
		{"name too long", "nodes:\n" + node(strings.Repeat("a", 64), "127.0.0.1:6230"),
			[]string{`x.yaml:2:3: nodes[0].name: want a name of letters, digits, '.', '_' or '-', got "` + strings.Repeat("a", 64) + `"`}},
		{"missing listen", "nodes:\n- name: n1\n  ipmi:\n    username: admin\n    password: secret\n",
			[]string{`x.yaml:3:3: nodes[0].ipmi.listen: required: the UDP address of this node's BMC, e.g. "192.168.24.1:6230"`}},
		{"missing ipmi", "nodes:\n- name: n1\n", []string{
			`x.yaml:2:3: nodes[0].ipmi.listen: required: the UDP address of this node's BMC, e.g. "192.168.24.1:6230"`,
			`x.yaml:2:3: nodes[0].ipmi.username: required (anonymous logins are not accepted)`,
			`x.yaml:2:3: nodes[0].ipmi.password: required (or password_file)`,
		}},
		{"listen hostname", "nodes:\n" + node("n1", "bmc1:623"),
			[]string{`x.yaml:4:5: nodes[0].ipmi.listen: want IP:port with a non-zero port, got "bmc1:623"`}},
		{"listen port 0", "nodes:\n" + node("n1", "127.0.0.1:0"),
			[]string{`x.yaml:4:5: nodes[0].ipmi.listen: want IP:port with a non-zero port, got "127.0.0.1:0"`}},
		{"listen without port", "nodes:\n" + node("n1", "127.0.0.1"),
			[]string{`x.yaml:4:5: nodes[0].ipmi.listen: want IP:port with a non-zero port, got "127.0.0.1"`}},
		{"missing username", "nodes:\n- name: n1\n  ipmi:\n    listen: 127.0.0.1:6230\n    password: secret\n",
			[]string{`x.yaml:3:3: nodes[0].ipmi.username: required (anonymous logins are not accepted)`}},
		{"username 17 bytes", "nodes:\n- name: n1\n  ipmi:\n    listen: 127.0.0.1:6230\n    username: " + strings.Repeat("u", 17) + "\n    password: secret\n",
			[]string{`x.yaml:5:5: nodes[0].ipmi.username: at most 16 bytes (IPMI limit), got 17`}},
		{"username 17 bytes multibyte", "nodes:\n- name: n1\n  ipmi:\n    listen: 127.0.0.1:6230\n    username: " + strings.Repeat("é", 8) + "u\n    password: secret\n",
			[]string{`x.yaml:5:5: nodes[0].ipmi.username: at most 16 bytes (IPMI limit), got 17`}},
		{"password 21 bytes", "nodes:\n- name: n1\n  ipmi:\n    listen: 127.0.0.1:6230\n    username: admin\n    password: " + strings.Repeat("p", 21) + "\n",
			[]string{`x.yaml:6:5: nodes[0].ipmi.password: at most 20 bytes (IPMI v2.0 limit), got 21`}},
		{"missing password", "nodes:\n- name: n1\n  ipmi:\n    listen: 127.0.0.1:6230\n    username: admin\n",
			[]string{`x.yaml:3:3: nodes[0].ipmi.password: required (or password_file)`}},
		{"password and password_file", minimal + "    password_file: /etc/pw\n",
			[]string{`x.yaml:7:5: nodes[0].ipmi.password_file: give either password or password_file, not both`}},
		{"privilege", minimal + "    privilege: admin\n",
			[]string{`x.yaml:7:5: nodes[0].ipmi.privilege: want callback, user, operator or administrator, got "admin"`}},
		{"privilege case", minimal + "    privilege: Operator\n",
			[]string{`x.yaml:7:5: nodes[0].ipmi.privilege: want callback, user, operator or administrator, got "Operator"`}},
		{"guid short", minimal + "  guid: 4c4c4544-0042-3010-8052\n",
			[]string{`x.yaml:7:3: nodes[0].guid: want a UUID like 4c4c4544-0042-3010-8052-b7c04f4b4d31, got "4c4c4544-0042-3010-8052"`}},
		{"guid not hex", minimal + "  guid: 4c4c4544-0042-3010-8052-b7c04f4b4dzz\n",
			[]string{`x.yaml:7:3: nodes[0].guid: want a UUID of hex digits, got "4c4c4544-0042-3010-8052-b7c04f4b4dzz"`}},
		{"fallback", minimal + "  fallback: ignore\n",
			[]string{`x.yaml:7:3: nodes[0].fallback: want manual or error, got "ignore"`}},
		{"exec timeout", minimal + "  exec:\n    on: \"true\"\n    timeout: 11m\n",
			[]string{`x.yaml:9:5: nodes[0].exec.timeout: must be at most 10m`}},
		{"wol without mac", minimal + "  wol:\n    repeat: 2\n",
			[]string{`x.yaml:2:3: nodes[0].mac: required for Wake-on-LAN`}},
		{"wol target and interface", minimal + "  mac: 52:54:00:00:00:01\n  wol:\n    target: 10.0.0.255:9\n    interface: eth0\n",
			[]string{`x.yaml:10:5: nodes[0].wol.interface: give either target (UDP) or interface (raw Ethernet), not both`}},
		{"wol target no port", minimal + "  mac: 52:54:00:00:00:01\n  wol:\n    target: 10.0.0.255\n",
			[]string{`x.yaml:9:5: nodes[0].wol.target: want host:port, got "10.0.0.255"`}},
		{"wol target bad port", minimal + "  mac: 52:54:00:00:00:01\n  wol:\n    target: 10.0.0.255:70000\n",
			[]string{`x.yaml:9:5: nodes[0].wol.target: invalid port "70000"`}},
		{"wol repeat", minimal + "  mac: 52:54:00:00:00:01\n  wol:\n    repeat: 21\n",
			[]string{`x.yaml:9:5: nodes[0].wol.repeat: must be between 1 and 20`}},
		{"wol repeat negative", minimal + "  mac: 52:54:00:00:00:01\n  wol:\n    repeat: -1\n",
			[]string{`x.yaml:9:5: nodes[0].wol.repeat: must be between 1 and 20`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantExactly(t, tt.src, tt.want...)
		})
	}

	ok := []struct{ name, src string }{
		{"username 16 bytes", "nodes:\n- name: n1\n  ipmi:\n    listen: 127.0.0.1:6230\n    username: " + strings.Repeat("u", 16) + "\n    password: secret\n"},
		{"password 20 bytes", "nodes:\n- name: n1\n  ipmi:\n    listen: 127.0.0.1:6230\n    username: admin\n    password: " + strings.Repeat("p", 20) + "\n"},
		{"name 63 chars with punctuation", "nodes:\n" + node("a."+strings.Repeat("b", 58)+"_-c", "127.0.0.1:6230")},
		{"ipv6 listen", "nodes:\n" + node("n1", `"[fd00::1]:623"`)},
		{"wol interface only", minimal + "  mac: 52:54:00:00:00:01\n  wol:\n    interface: eth0\n"},
		{"wol hostname target", minimal + "  mac: 52:54:00:00:00:01\n  wol:\n    target: bcast.lan:9\n"},
		{"exec timeout 10m", minimal + "  exec:\n    timeout: 10m\n"},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) { parseOK(t, tt.src) })
	}
	for _, p := range []string{"callback", "user", "operator", "administrator"} {
		t.Run("privilege "+p, func(t *testing.T) {
			cfg := parseOK(t, minimal+"    privilege: "+p+"\n")
			if string(cfg.Nodes[0].IPMI.Privilege) != p {
				t.Errorf("privilege = %q, want %q", cfg.Nodes[0].IPMI.Privilege, p)
			}
		})
	}
}

func TestListenConflicts(t *testing.T) {
	tests := []struct {
		name    string
		listens []string
		want    []string // nil: no conflict
	}{
		{"different ports", []string{"127.0.0.1:6230", "127.0.0.1:6231"}, nil},
		{"different addresses", []string{"192.168.24.1:623", "192.168.24.2:623"}, nil},
		{"same address", []string{"127.0.0.1:6230", "127.0.0.1:6230"}, []string{
			`x.yaml:9:5: nodes[1].ipmi.listen: 127.0.0.1:6230 conflicts with 127.0.0.1:6230 (nodes[0].ipmi.listen): each node needs its own port or address`}},
		{"same address, other spelling", []string{"127.0.0.1:6230", "127.0.0.1:06230"}, []string{
			`x.yaml:9:5: nodes[1].ipmi.listen: 127.0.0.1:6230 conflicts with 127.0.0.1:6230 (nodes[0].ipmi.listen): each node needs its own port or address`}},
		{"wildcard first", []string{"0.0.0.0:623", "192.168.24.1:623"}, []string{
			`x.yaml:9:5: nodes[1].ipmi.listen: 192.168.24.1:623 conflicts with 0.0.0.0:623 (nodes[0].ipmi.listen): each node needs its own port or address`}},
		{"wildcard second", []string{"192.168.24.1:623", "0.0.0.0:623"}, []string{
			`x.yaml:9:5: nodes[1].ipmi.listen: 0.0.0.0:623 conflicts with 192.168.24.1:623 (nodes[0].ipmi.listen): each node needs its own port or address`}},
		{"wildcard other port", []string{"0.0.0.0:623", "192.168.24.1:624"}, nil},
		{"ipv6 wildcard", []string{`"[::]:623"`, "192.168.24.1:623"}, []string{
			`x.yaml:9:5: nodes[1].ipmi.listen: 192.168.24.1:623 conflicts with [::]:623 (nodes[0].ipmi.listen): each node needs its own port or address`}},
		{"two wildcards", []string{"0.0.0.0:623", `"[::]:623"`}, []string{
			`x.yaml:9:5: nodes[1].ipmi.listen: [::]:623 conflicts with 0.0.0.0:623 (nodes[0].ipmi.listen): each node needs its own port or address`}},
		// The first node a wildcard conflicts with is named, every time.
		{"wildcard after two specific", []string{"192.168.24.1:623", "192.168.24.2:623", "0.0.0.0:623"}, []string{
			`x.yaml:14:5: nodes[2].ipmi.listen: 0.0.0.0:623 conflicts with 192.168.24.1:623 (nodes[0].ipmi.listen): each node needs its own port or address`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "nodes:\n"
			for i, l := range tt.listens {
				src += node(fmt.Sprintf("n%d", i), l)
			}
			if tt.want == nil {
				parseOK(t, src)
				return
			}
			// Repeat: the message must not depend on map iteration order.
			for range 20 {
				wantExactly(t, src, tt.want...)
			}
		})
	}
}

const pdu1 = `pdus:
- name: p1
  address: 10.0.0.1
  snmp:
    community: private
`

func TestNodePDURules(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"unknown pdu", pdu1 + "nodes:\n" + node("n1", "127.0.0.1:6230", "pdu:", "  name: p2", "  outlets: [1]"),
			[]string{`x.yaml:13:5: nodes[0].pdu.name: unknown PDU "p2" (defined: p1)`}},
		{"unknown pdu, none defined", "nodes:\n" + node("n1", "127.0.0.1:6230", "pdu:", "  name: p1", "  outlets: [1]"),
			[]string{`x.yaml:8:5: nodes[0].pdu.name: unknown PDU "p1" (defined: )`}},
		{"missing pdu name", pdu1 + "nodes:\n" + node("n1", "127.0.0.1:6230", "pdu:", "  outlets: [1]"),
			[]string{`x.yaml:12:3: nodes[0].pdu.name: unknown PDU "" (defined: p1)`}},
		{"no outlets", pdu1 + "nodes:\n" + node("n1", "127.0.0.1:6230", "pdu:", "  name: p1"),
			[]string{`x.yaml:12:3: nodes[0].pdu.outlets: at least one outlet is required`}},
		{"empty outlets", pdu1 + "nodes:\n" + node("n1", "127.0.0.1:6230", "pdu:", "  name: p1", "  outlets: []"),
			[]string{`x.yaml:14:5: nodes[0].pdu.outlets: at least one outlet is required`}},
		{"outlet 0", pdu1 + "nodes:\n" + node("n1", "127.0.0.1:6230", "pdu:", "  name: p1", "  outlets: [0]"),
			[]string{`x.yaml:14:15: nodes[0].pdu.outlets[0]: outlet 0 out of range 1..1024`}},
		{"outlet above 1024 without pdus[].outlets", pdu1 + "nodes:\n" + node("n1", "127.0.0.1:6230", "pdu:", "  name: p1", "  outlets: [1024, 1025]"),
			[]string{`x.yaml:14:21: nodes[0].pdu.outlets[1]: outlet 1025 out of range 1..1024`}},
		{"outlet above pdus[].outlets", pdu1 + "  outlets: 8\nnodes:\n" + node("n1", "127.0.0.1:6230", "pdu:", "  name: p1", "  outlets: [8, 9]"),
			[]string{`x.yaml:15:18: nodes[0].pdu.outlets[1]: outlet 9 out of range 1..8`}},
		{"outlet listed twice", pdu1 + "nodes:\n" + node("n1", "127.0.0.1:6230", "pdu:", "  name: p1", "  outlets: [3, 3]"),
			[]string{`x.yaml:14:18: nodes[0].pdu.outlets[1]: outlet 3 listed twice`}},
		{"same outlet on two nodes", pdu1 + "nodes:\n" +
			node("n1", "127.0.0.1:6230", "pdu:", "  name: p1", "  outlets: [1, 3]") +
			node("n2", "127.0.0.1:6231", "pdu:", "  name: p1", "  outlets:", "  - 3"),
			[]string{`x.yaml:23:7: nodes[1].pdu.outlets[0]: outlet 3 of PDU p1 already feeds node n1`}},
		{"metering without pdu", minimal + "  status:\n    source: metering\n",
			[]string{`x.yaml:8:5: nodes[0].status.source: metering needs a pdu on this node`}},
		{"outlet source without pdu", minimal + "  status:\n    source: outlet\n",
			[]string{`x.yaml:8:5: nodes[0].status.source: outlet needs a pdu on this node`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantExactly(t, tt.src, tt.want...)
		})
	}
	ok := []struct{ name, src string }{
		{"outlet at pdus[].outlets", pdu1 + "  outlets: 8\nnodes:\n" + node("n1", "127.0.0.1:6230", "pdu:", "  name: p1", "  outlets: [1, 8]")},
		{"same outlet number on two PDUs", pdu1 + "- name: p2\n  address: 10.0.0.2\n  snmp: {community: c}\nnodes:\n" +
			node("n1", "127.0.0.1:6230", "pdu:", "  name: p1", "  outlets: [3]") +
			node("n2", "127.0.0.1:6231", "pdu:", "  name: p2", "  outlets: [3]")},
		{"metering with pdu", pdu1 + "nodes:\n" + node("n1", "127.0.0.1:6230", "pdu: {name: p1, outlets: [1]}", "status: {source: metering}")},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) { parseOK(t, tt.src) })
	}
}

func TestPDURules(t *testing.T) {
	// pduDoc is one PDU with the given body lines (after "- name: p1"), plus a node.
	pduDoc := func(lines ...string) string {
		return "pdus:\n- name: p1\n" + strings.Join(lines, "\n") + "\n" + minimal
	}
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"duplicate name", pdu1 + "- name: p1\n  address: 10.0.0.2\n  snmp: {community: c}\n" + minimal,
			[]string{`x.yaml:6:3: pdus[1].name: duplicate PDU name "p1"`}},
		{"bad name", "pdus:\n- name: p/1\n  address: 10.0.0.1\n  snmp: {community: c}\n" + minimal,
			[]string{`x.yaml:2:3: pdus[0].name: want a name of letters, digits, '.', '_' or '-', got "p/1"`}},
		{"missing address", pduDoc("  snmp: {community: c}"),
			[]string{`x.yaml:2:3: pdus[0].address: required (host or host:port)`}},
		{"bad port", pduDoc("  address: 10.0.0.1:snmp", "  snmp: {community: c}"),
			[]string{`x.yaml:3:3: pdus[0].address: invalid port "snmp"`}},
		{"port out of range", pduDoc("  address: 10.0.0.1:0", "  snmp: {community: c}"),
			[]string{`x.yaml:3:3: pdus[0].address: invalid port "0"`}},
		{"unknown model", pduDoc("  address: 10.0.0.1", "  model: acme", "  snmp: {community: c}"),
			[]string{`x.yaml:4:3: pdus[0].model: unknown PDU model "acme" (known: auto, aten, apc, apc_masterswitch, apc_masterswitchplus, apc_rackpdu, apc_rpdu2, apc_epdu, apc_cpdu, cyberpower, cyberpower_epdu2, eatonpower, teltronix, baytech_mrp27, raritan_pdu2, servertech_sentry3, servertech_sentry4, vertivgeist_pdu)`}},
		{"negative outlets", pduDoc("  address: 10.0.0.1", "  outlets: -1", "  snmp: {community: c}"),
			[]string{`x.yaml:4:3: pdus[0].outlets: must be positive`}},
		{"v2c without community", pduDoc("  address: 10.0.0.1"),
			[]string{`x.yaml:2:3: pdus[0].snmp.community: required for SNMP v2c (or community_read and community_write)`}},
		{"v1 without community", pduDoc("  address: 10.0.0.1", "  snmp:", "    version: \"1\""),
			[]string{`x.yaml:4:3: pdus[0].snmp.community: required for SNMP v1 (or community_read and community_write)`}},
		{"v2c read community only", pduDoc("  address: 10.0.0.1", "  snmp:", "    community_read: public"),
			[]string{`x.yaml:4:3: pdus[0].snmp.community: required for SNMP v2c (or community_read and community_write)`}},
		{"v2c with v3 user", pduDoc("  address: 10.0.0.1", "  snmp:", "    community: c", "    user: admin"),
			[]string{`x.yaml:6:5: pdus[0].snmp.user: v3 settings given but version is "2c"`}},
		{"v2c with auth protocol", pduDoc("  address: 10.0.0.1", "  snmp:", "    community: c", "    auth_protocol: SHA"),
			[]string{`x.yaml:4:3: pdus[0].snmp.user: v3 settings given but version is "2c"`}},
		{"unquoted version 2", pduDoc("  address: 10.0.0.1", "  snmp:", "    version: 2", "    community: c"),
			[]string{`x.yaml:5:5: pdus[0].snmp.version: want 1, 2c or 3, got "2"`}},
		{"v3 with community", pduDoc("  address: 10.0.0.1", "  snmp:", "    version: \"3\"", "    user: u", "    community: c"),
			[]string{`x.yaml:7:5: pdus[0].snmp.community: communities are for SNMP v1/v2c; version is 3`}},
		{"v3 with write community", pduDoc("  address: 10.0.0.1", "  snmp:", "    version: \"3\"", "    user: u", "    community_write: c"),
			[]string{`x.yaml:4:3: pdus[0].snmp.community: communities are for SNMP v1/v2c; version is 3`}},
		{"v3 without user", pduDoc("  address: 10.0.0.1", "  snmp:", "    version: \"3\""),
			[]string{`x.yaml:4:3: pdus[0].snmp.user: required for SNMP v3`}},
		{"v3 bad auth protocol", pduDoc("  address: 10.0.0.1", "  snmp:", "    version: \"3\"", "    user: u", "    auth_protocol: sha", "    auth_passphrase: 12345678"),
			[]string{`x.yaml:7:5: pdus[0].snmp.auth_protocol: want MD5, SHA, SHA224, SHA256, SHA384 or SHA512, got "sha"`}},
		{"v3 auth passphrase 7 chars", pduDoc("  address: 10.0.0.1", "  snmp:", "    version: \"3\"", "    user: u", "    auth_protocol: SHA", "    auth_passphrase: \"1234567\""),
			[]string{`x.yaml:8:5: pdus[0].snmp.auth_passphrase: required with auth_protocol, at least 8 characters (RFC 3414)`}},
		{"v3 auth protocol without passphrase", pduDoc("  address: 10.0.0.1", "  snmp:", "    version: \"3\"", "    user: u", "    auth_protocol: SHA256"),
			[]string{`x.yaml:4:3: pdus[0].snmp.auth_passphrase: required with auth_protocol, at least 8 characters (RFC 3414)`}},
		{"v3 auth passphrase without protocol", pduDoc("  address: 10.0.0.1", "  snmp:", "    version: \"3\"", "    user: u", "    auth_passphrase: 12345678"),
			[]string{`x.yaml:4:3: pdus[0].snmp.auth_protocol: required with auth_passphrase`}},
		{"v3 priv without auth", pduDoc("  address: 10.0.0.1", "  snmp:", "    version: \"3\"", "    user: u", "    priv_protocol: AES", "    priv_passphrase: 12345678"),
			[]string{`x.yaml:7:5: pdus[0].snmp.priv_protocol: privacy needs authentication: set auth_protocol too`}},
		{"v3 bad priv protocol", pduDoc("  address: 10.0.0.1", "  snmp:", "    version: \"3\"", "    user: u", "    auth_protocol: SHA", "    auth_passphrase: 12345678", "    priv_protocol: 3DES", "    priv_passphrase: 12345678"),
			[]string{`x.yaml:9:5: pdus[0].snmp.priv_protocol: want DES, AES, AES192, AES256, AES192C or AES256C, got "3DES"`}},
		{"v3 priv passphrase 7 chars", pduDoc("  address: 10.0.0.1", "  snmp:", "    version: \"3\"", "    user: u", "    auth_protocol: SHA", "    auth_passphrase: 12345678", "    priv_protocol: AES", "    priv_passphrase: abcdefg"),
			[]string{`x.yaml:10:5: pdus[0].snmp.priv_passphrase: required with priv_protocol, at least 8 characters (RFC 3414)`}},
		{"v3 priv passphrase without protocol", pduDoc("  address: 10.0.0.1", "  snmp:", "    version: \"3\"", "    user: u", "    auth_protocol: SHA", "    auth_passphrase: 12345678", "    priv_passphrase: 12345678"),
			[]string{`x.yaml:4:3: pdus[0].snmp.priv_protocol: required with priv_passphrase`}},
		{"v3 passphrase and file", pduDoc("  address: 10.0.0.1", "  snmp:", "    version: \"3\"", "    user: u", "    auth_protocol: SHA", "    auth_passphrase: 12345678", "    auth_passphrase_file: /etc/a"),
			[]string{`x.yaml:9:5: pdus[0].snmp.auth_passphrase_file: give either auth_passphrase or auth_passphrase_file, not both`}},
		{"retries 11", pduDoc("  address: 10.0.0.1", "  snmp:", "    community: c", "    retries: 11"),
			[]string{`x.yaml:6:5: pdus[0].snmp.retries: must be between 0 and 10`}},
		{"retries negative", pduDoc("  address: 10.0.0.1", "  snmp:", "    community: c", "    retries: -1"),
			[]string{`x.yaml:6:5: pdus[0].snmp.retries: must be between 0 and 10`}},
		{"timeout 31s", pduDoc("  address: 10.0.0.1", "  snmp:", "    community: c", "    timeout: 31s"),
			[]string{`x.yaml:6:5: pdus[0].snmp.timeout: must be at most 30s: a power command waits for it`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantExactly(t, tt.src, tt.want...)
		})
	}

	valid := []struct {
		name  string
		src   string
		check func(t *testing.T, p PDU)
	}{
		{"v2c default port and communities", pduDoc("  address: 10.0.0.1", "  snmp: {community: private}"), func(t *testing.T, p PDU) {
			if p.Address != "10.0.0.1:161" {
				t.Errorf("address = %q, want 10.0.0.1:161", p.Address)
			}
			if p.SNMP.Version != "2c" || p.SNMP.CommunityRead != "private" || p.SNMP.CommunityWrite != "private" {
				t.Errorf("snmp = %+v, want v2c with both communities private", p.SNMP)
			}
		}},
		{"ipv6 address gets the default port", pduDoc("  address: \"fd00::10\"", "  snmp: {community: c}"), func(t *testing.T, p PDU) {
			if p.Address != "[fd00::10]:161" {
				t.Errorf("address = %q, want [fd00::10]:161", p.Address)
			}
		}},
		{"bracketed ipv6 address", pduDoc("  address: \"[fd00::10]\"", "  snmp: {community: c}"), func(t *testing.T, p PDU) {
			if p.Address != "[fd00::10]:161" {
				t.Errorf("address = %q, want [fd00::10]:161", p.Address)
			}
		}},
		{"explicit port kept", pduDoc("  address: pdu.lan:1161", "  snmp: {community: c}"), func(t *testing.T, p PDU) {
			if p.Address != "pdu.lan:1161" {
				t.Errorf("address = %q, want pdu.lan:1161", p.Address)
			}
		}},
		{"v1 split communities", pduDoc("  address: 10.0.0.1", "  snmp:", "    version: \"1\"", "    community_read: public", "    community_write: private"), func(t *testing.T, p PDU) {
			if p.SNMP.CommunityRead != "public" || p.SNMP.CommunityWrite != "private" {
				t.Errorf("communities = %q/%q", p.SNMP.CommunityRead, p.SNMP.CommunityWrite)
			}
		}},
		{"community with write override", pduDoc("  address: 10.0.0.1", "  snmp:", "    community: public", "    community_write: private"), func(t *testing.T, p PDU) {
			if p.SNMP.CommunityRead != "public" || p.SNMP.CommunityWrite != "private" {
				t.Errorf("communities = %q/%q", p.SNMP.CommunityRead, p.SNMP.CommunityWrite)
			}
		}},
		{"v3 noAuthNoPriv", pduDoc("  address: 10.0.0.1", "  snmp:", "    version: \"3\"", "    user: u"), nil},
		{"v3 authPriv with 8-char passphrases", pduDoc("  address: 10.0.0.1", "  snmp:", "    version: \"3\"", "    user: u", "    auth_protocol: SHA512", "    auth_passphrase: 12345678", "    priv_protocol: AES256C", "    priv_passphrase: abcdefgh", "    context_name: ctx"), nil},
		{"known model", pduDoc("  address: 10.0.0.1", "  model: apc_rpdu2", "  snmp: {community: c}"), nil},
		{"retries 0 and 10, timeout 30s", pduDoc("  address: 10.0.0.1", "  snmp: {community: c, retries: 0, timeout: 30s}"), func(t *testing.T, p PDU) {
			if *p.SNMP.Retries != 0 {
				t.Errorf("retries = %d, want explicit 0 kept", *p.SNMP.Retries)
			}
		}},
		{"stagger 0 kept", pduDoc("  address: 10.0.0.1", "  stagger: 0s", "  snmp: {community: c}"), func(t *testing.T, p PDU) {
			if p.Stagger.D() != 0 {
				t.Errorf("stagger = %v, want explicit 0 kept", p.Stagger.D())
			}
		}},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parseOK(t, tt.src)
			if tt.check != nil {
				tt.check(t, cfg.PDUs[0])
			}
		})
	}
	for _, proto := range []string{"MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512"} {
		parseOK(t, pduDoc("  address: 10.0.0.1", "  snmp:", "    version: \"3\"", "    user: u", "    auth_protocol: "+proto, "    auth_passphrase: 12345678"))
	}
	for _, proto := range []string{"DES", "AES", "AES192", "AES256", "AES192C", "AES256C"} {
		parseOK(t, pduDoc("  address: 10.0.0.1", "  snmp:", "    version: \"3\"", "    user: u", "    auth_protocol: SHA", "    auth_passphrase: 12345678", "    priv_protocol: "+proto, "    priv_passphrase: 12345678"))
	}
}

func TestStatusRules(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"unknown source", minimal + "  status:\n    source: bmc\n",
			[]string{`x.yaml:8:5: nodes[0].status.source: want auto, metering, outlet, probe, exec or recorded, got "bmc"`}},
		{"probe source without probe", minimal + "  status:\n    source: probe\n",
			[]string{`x.yaml:7:3: nodes[0].status.probe: required when source is probe`}},
		{"exec source without exec", minimal + "  status:\n    source: exec\n",
			[]string{`x.yaml:8:5: nodes[0].status.source: exec needs exec.status on this node`}},
		{"exec source without exec.status", minimal + "  exec:\n    on: \"true\"\n  status:\n    source: exec\n",
			[]string{`x.yaml:10:5: nodes[0].status.source: exec needs exec.status on this node`}},
		{"watts_on zero", minimal + "  status:\n    watts_on: 0\n",
			[]string{`x.yaml:8:5: nodes[0].status.watts_on: must be positive`}},
		{"watts_on negative", minimal + "  status:\n    watts_on: -2.5\n",
			[]string{`x.yaml:8:5: nodes[0].status.watts_on: must be positive`}},
		{"empty probe", minimal + "  status:\n    probe:\n      timeout: 2s\n",
			[]string{`x.yaml:8:5: nodes[0].status.probe: give tcp (host:port) or icmp (host)`}},
		{"probe tcp and icmp", minimal + "  status:\n    probe:\n      tcp: 10.0.0.5:22\n      icmp: 10.0.0.5\n",
			[]string{`x.yaml:8:5: nodes[0].status.probe: give either tcp or icmp, not both`}},
		{"probe tcp without port", minimal + "  status:\n    probe:\n      tcp: 10.0.0.5\n",
			[]string{`x.yaml:9:7: nodes[0].status.probe.tcp: want host:port, got "10.0.0.5"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantExactly(t, tt.src, tt.want...)
		})
	}
	ok := []string{
		minimal + "  status:\n    source: recorded\n",
		minimal + "  status:\n    source: auto\n",
		minimal + "  status:\n    source: probe\n    probe: {icmp: 10.0.0.5}\n",
		minimal + "  status:\n    source: probe\n    probe: {tcp: \"10.0.0.5:22\"}\n",
		minimal + "  exec:\n    status: test -e /run/on\n  status:\n    source: exec\n",
		minimal + "  status:\n    watts_on: 0.5\n",
	}
	for i, src := range ok {
		t.Run(fmt.Sprint("ok", i), func(t *testing.T) { parseOK(t, src) })
	}
}

func TestProblemPosition(t *testing.T) {
	// A problem with a key that is absent is reported at the closest
	// enclosing key that is present.
	v := &validator{decoder: &decoder{file: "f.yaml", pos: map[string]position{
		"nodes":         {1, 1},
		"nodes[0]":      {2, 3},
		"nodes[0].ipmi": {3, 3},
	}}}
	tests := []struct {
		path       string
		line, col  int
		wantString string
	}{
		{"nodes[0].ipmi.listen", 3, 3, "f.yaml:3:3: nodes[0].ipmi.listen: m"},
		{"nodes[0].pdu.outlets[2]", 2, 3, "f.yaml:2:3: nodes[0].pdu.outlets[2]: m"},
		{"nodes[1].name", 1, 1, "f.yaml:1:1: nodes[1].name: m"},
		{"http.listen", 0, 0, "f.yaml: http.listen: m"},
	}
	for _, tt := range tests {
		e := v.problem(tt.path, "m")
		if e.Line != tt.line || e.Col != tt.col || e.Error() != tt.wantString {
			t.Errorf("problem(%q) = %d:%d %q, want %d:%d %q", tt.path, e.Line, e.Col, e.Error(), tt.line, tt.col, tt.wantString)
		}
	}
	for path, want := range map[string]string{
		"a.b[2].c": "a.b[2]", "a.b[2]": "a.b", "a.b": "a", "a": "",
	} {
		if got := parent(path); got != want {
			t.Errorf("parent(%q) = %q, want %q", path, got, want)
		}
	}
}

// TestPlaceholderSecrets: a secret still holding the sample's placeholder
// is an error naming the file, line and key (and the secret's file), never
// the value.
func TestPlaceholderSecrets(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "n.pw", "CHANGE-ME-ctl-0\n", 0o600)
	writeFile(t, dir, "auth.secret", "change_me auth passphrase\n", 0o600)
	writeFile(t, dir, "good.pw", "Zx9-qL2m-88aa\n", 0o600)
	nodeWith := func(ipmi string) string {
		return "nodes:\n  - name: n0\n    ipmi: {listen: \"127.0.0.1:6230\", username: admin, " + ipmi + "}\n"
	}
	for _, c := range []struct{ name, src, want string }{
		{"password file", nodeWith("password_file: n.pw"),
			`{dir}/x.yaml:3:55: nodes[0].ipmi.password_file: secret file {dir}/n.pw holds a placeholder (CHANGE-ME), not a secret: replace its content, e.g. openssl rand -base64 12 > {dir}/n.pw`},
		{"inline password", nodeWith("password: ChangeMe"),
			`{dir}/x.yaml:3:55: nodes[0].ipmi.password: the value is a placeholder (CHANGE-ME), not a secret: set a real one (or keep it in a file named by password_file)`},
		{"angle brackets", nodeWith("password: <password>"),
			`{dir}/x.yaml:3:55: nodes[0].ipmi.password: the value is a placeholder (<...>), not a secret: set a real one (or keep it in a file named by password_file)`},
		{"community", "pdus:\n  - name: p\n    address: 10.0.0.1\n    snmp: {community: REPLACE_ME}\n" + nodeWith("password_file: good.pw"),
			`{dir}/x.yaml:4:12: pdus[0].snmp.community: the value is a placeholder (REPLACE-ME), not a secret: set a real one`},
		{"community_write", "pdus:\n  - name: p\n    address: 10.0.0.1\n    snmp: {community_read: public, community_write: placeholder}\n" + nodeWith("password_file: good.pw"),
			`{dir}/x.yaml:4:36: pdus[0].snmp.community_write: the value is a placeholder (placeholder), not a secret: set a real one`},
		{"v3 passphrase file", "pdus:\n  - name: p\n    address: 10.0.0.1\n    snmp: {version: \"3\", user: u, auth_protocol: SHA, auth_passphrase_file: auth.secret}\n" + nodeWith("password_file: good.pw"),
			`{dir}/x.yaml:4:55: pdus[0].snmp.auth_passphrase_file: secret file {dir}/auth.secret holds a placeholder (CHANGE-ME)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, "x.yaml")
			_, err := Parse(path, []byte(c.src))
			want := strings.ReplaceAll(c.want, "{dir}", dir)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v\nwant %q", err, want)
			}
			for _, secret := range []string{"ctl-0", "ChangeMe", "<password>", "REPLACE_ME", "auth passphrase"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the value %q is echoed: %v", secret, err)
				}
			}
		})
	}
	if _, err := Parse(filepath.Join(dir, "x.yaml"), []byte(nodeWith("password_file: good.pw"))); err != nil {
		t.Errorf("a real password is refused: %v", err)
	}
}

func TestConnectionCaps(t *testing.T) {
	cfg := parseOK(t, minimal)
	if cfg.HTTP.MaxConnections != 64 || cfg.HTTP.MaxConnectionsPerSource != 16 ||
		cfg.Redfish.MaxConnections != 256 || cfg.Redfish.MaxConnectionsPerSource != 32 {
		t.Errorf("defaults: http %d/%d, redfish %d/%d", cfg.HTTP.MaxConnections, cfg.HTTP.MaxConnectionsPerSource,
			cfg.Redfish.MaxConnections, cfg.Redfish.MaxConnectionsPerSource)
	}
	cfg = parseOK(t, "http: {max_connections: 8}\nredfish: {listen: \"127.0.0.1:8000\", max_connections: 1000, max_connections_per_source: 100}\n"+minimal)
	if cfg.HTTP.MaxConnections != 8 || cfg.HTTP.MaxConnectionsPerSource != 8 ||
		cfg.Redfish.MaxConnections != 1000 || cfg.Redfish.MaxConnectionsPerSource != 100 {
		t.Errorf("configured: http %d/%d, redfish %d/%d", cfg.HTTP.MaxConnections, cfg.HTTP.MaxConnectionsPerSource,
			cfg.Redfish.MaxConnections, cfg.Redfish.MaxConnectionsPerSource)
	}
	wantExactly(t, "http:\n  max_connections: -1\n  max_connections_per_source: 0\n"+minimal,
		`x.yaml:2:3: http.max_connections: must be between 1 and 100000, got -1`)
	wantExactly(t, "http:\n  max_connections_per_source: -3\n"+minimal,
		`x.yaml:2:3: http.max_connections_per_source: must be positive, got -3`)
	wantExactly(t, "redfish:\n  max_connections: 10\n  max_connections_per_source: 11\n"+minimal,
		`x.yaml:3:3: redfish.max_connections_per_source: 11 is more than max_connections (10)`)
	wantExactly(t, "redfish:\n  max_connections: 100001\n"+minimal,
		`x.yaml:2:3: redfish.max_connections: must be between 1 and 100000, got 100001`)
	wantExactly(t, "http:\n  max_connections: many\n"+minimal,
		`x.yaml:2:20: http.max_connections: want an integer, got "many"`)
}

// TestHTTPAccess: a listener beyond loopback is refused without HTTPS and
// credentials, with the file, line and key; tokens are checked like every
// secret.
func TestHTTPAccess(t *testing.T) {
	const tok = "    token: 0123456789abcdefXYZ\n"
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"no auth beyond loopback", "http:\n  listen: 192.0.2.1:9623\n" + minimal,
			[]string{`x.yaml:2:3: http.listen: 192.0.2.1:9623 is not a loopback address: the page and API switch power, so they need authentication there: add http.tokens (bearer tokens from files, role ReadOnly or Operator) or http.accounts: true (the nodes' BMC users log in), or listen on 127.0.0.1`}},
		{"wildcard is not loopback", "http:\n  listen: 0.0.0.0:9623\n" + minimal,
			[]string{`x.yaml:2:3: http.listen: 0.0.0.0:9623 is not a loopback address: the page and API switch power, so they need authentication there: add http.tokens (bearer tokens from files, role ReadOnly or Operator) or http.accounts: true (the nodes' BMC users log in), or listen on 127.0.0.1`}},
		{"no TLS beyond loopback", "http:\n  listen: \"[2001:db8::1]:9623\"\n  accounts: true\n  tls: false\n" + minimal,
			[]string{`x.yaml:4:3: http.tls: cannot be false: http.listen [2001:db8::1]:9623 is not a loopback address, and the page's logins and tokens must not cross the network in clear text (leave tls out for a generated certificate, or give tls_cert and tls_key)`}},
		{"neither", "http:\n  listen: 192.0.2.1:9623\n  tls: false\n" + minimal,
			[]string{`x.yaml:3:3: http.tls: cannot be false: http.listen 192.0.2.1:9623 is not a loopback address, and the page's logins and tokens must not cross the network in clear text (leave tls out for a generated certificate, or give tls_cert and tls_key)`,
				`x.yaml:2:3: http.listen: 192.0.2.1:9623 is not a loopback address: the page and API switch power, so they need authentication there: add http.tokens (bearer tokens from files, role ReadOnly or Operator) or http.accounts: true (the nodes' BMC users log in), or listen on 127.0.0.1`}},
		{"cert without key", "http:\n  tls_cert: /c.pem\n" + minimal,
			[]string{`x.yaml:2:3: http.tls_cert: tls_cert and tls_key go together`}},
		{"bad role", "http:\n  tokens:\n  - name: noc\n    role: admin\n" + tok + minimal,
			[]string{`x.yaml:4:5: http.tokens[0].role: want ReadOnly or Operator, got "admin"`}},
		{"short token", "http:\n  tokens:\n  - name: noc\n    role: ReadOnly\n    token: short\n" + minimal,
			[]string{`x.yaml:5:5: http.tokens[0].token: at least 16 characters (e.g. openssl rand -base64 24), got 5`}},
		{"placeholder token", "http:\n  tokens:\n  - name: noc\n    role: ReadOnly\n    token: CHANGE-ME-0123456789\n" + minimal,
			[]string{`x.yaml:5:5: http.tokens[0].token: the value is a placeholder (CHANGE-ME), not a secret: set a real one (or keep it in a file named by token_file)`}},
		{"no token", "http:\n  tokens:\n  - name: noc\n    role: ReadOnly\n" + minimal,
			[]string{`x.yaml:3:5: http.tokens[0].token: required (or token_file)`}},
		{"duplicate name", "http:\n  tokens:\n  - name: noc\n    role: ReadOnly\n" + tok + "  - name: noc\n    role: Operator\n" + tok + minimal,
			[]string{`x.yaml:6:5: http.tokens[1].name: duplicate token name "noc"`}},
		{"short metrics token", "http:\n  metrics_token: abc\n" + minimal,
			[]string{`x.yaml:2:3: http.metrics_token: at least 16 characters, got 3`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantExactly(t, tt.src, tt.want...) })
	}

	c := parseOK(t, "http:\n  listen: 192.0.2.1:9623\n  tokens:\n  - name: noc\n    role: readonly\n"+tok+"  - name: ops\n    role: administrator\n"+tok+minimal)
	if !c.HTTP.TLSEnabled() || !c.HTTP.AuthEnabled() || c.HTTP.Tokens[0].Role != "ReadOnly" || c.HTTP.Tokens[1].Role != "Operator" {
		t.Errorf("%+v", c.HTTP)
	}
	c = parseOK(t, "http:\n  listen: 0.0.0.0:9623\n  accounts: true\n"+minimal)
	if !c.HTTP.TLSEnabled() {
		t.Error("no TLS by default beyond loopback")
	}
	c = parseOK(t, minimal)
	if c.HTTP.TLSEnabled() || c.HTTP.AuthEnabled() {
		t.Errorf("loopback default: %+v", c.HTTP)
	}
	c = parseOK(t, "http:\n  tls: true\n  accounts: true\n"+minimal)
	if !c.HTTP.TLSEnabled() || !c.HTTP.AuthEnabled() {
		t.Errorf("loopback with tls and accounts: %+v", c.HTTP)
	}
}
