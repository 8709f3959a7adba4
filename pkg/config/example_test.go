package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExampleConfigLoads keeps configs/powerjockey.example.yaml valid.
func TestExampleConfigLoads(t *testing.T) {
	data, err := os.ReadFile("../../configs/powerjockey.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "powerjockey.yaml")
	if err := os.WriteFile(path, data, 0o640); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"compute-0.pw", "compute-1.pw", "legacy-0.pw", "rack2-auth.secret", "rack2-priv.secret"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("a-long-secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings: %v", cfg.Warnings)
	}
	if len(cfg.Nodes) != 3 || cfg.Nodes[0].IPMI.Password != "a-long-secret" {
		t.Errorf("nodes: %+v", cfg.Nodes)
	}
}

// TestSecretsNotEchoed: no error names a secret's value, wherever the
// secret was written: an invalid value of a secret key, a scalar where the
// mapping holding secrets belongs ("snmp: public"), a bare word where its
// keys belong, a secret of the wrong type. Each error still names the file,
// line and key.
func TestSecretsNotEchoed(t *testing.T) {
	const node = `
nodes:
  - name: n0
    ipmi: {listen: "127.0.0.1:6230", username: admin, password: pw}
    mac: "52:54:00:00:00:01"
`
	const pdu = "pdus:\n  - name: p\n    address: 10.0.0.1\n"
	for _, c := range []struct{ name, src, want string }{
		{"SecureOn password", `
nodes:
  - name: n0
    ipmi: {listen: "127.0.0.1:6230", username: admin, password: pw}
    mac: "52:54:00:00:00:01"
    wol: {password: "s3cr3t-secure-on"}
`, "x.yaml:6:21: nodes[0].wol.password: invalid value (not shown: it is a secret)"},
		{"scalar snmp", pdu + "    snmp: s3cr3t-community\n" + node,
			"x.yaml:4:11: pdus[0].snmp: want a mapping of keys, got a scalar (not shown: it may be a misplaced secret)"},
		{"bare word in snmp", pdu + "    snmp: {s3cr3t-community}\n" + node,
			"x.yaml:4:12: pdus[0].snmp: a key without a value (not shown: it may be a misplaced secret)"},
		{"scalar ipmi", `
nodes:
  - name: n0
    ipmi: s3cr3t-password
`, "x.yaml:4:11: nodes[0].ipmi: want a mapping of keys, got a scalar (not shown: it may be a misplaced secret)"},
		{"scalar wol", `
nodes:
  - name: n0
    ipmi: {listen: "127.0.0.1:6230", username: admin, password: pw}
    wol: s3cr3t
`, "x.yaml:5:10: nodes[0].wol: want a mapping of keys, got a scalar (not shown: it may be a misplaced secret)"},
		{"scalar node list", "nodes: s3cr3t\n", "x.yaml:1:8: nodes: want a list, got a scalar (not shown: it may be a misplaced secret)"},
		{"community list", pdu + "    snmp: {community: [s3cr3t]}\n" + node,
			"x.yaml:4:23: pdus[0].snmp.community: want a string, got a list"},
		{"community mapping", pdu + "    snmp: {community: {s3cr3t: x}}\n" + node,
			"x.yaml:4:23: pdus[0].snmp.community: want a string, got a mapping"},
		{"passphrase as a key", pdu + "    snmp:\n      version: \"3\"\n      s3cr3t-passphrase:\n" + node,
			"x.yaml:6:7: pdus[0].snmp: a key without a value (not shown: it may be a misplaced secret)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(c.src))
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("the secret is echoed: %v", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v\nwant a line %q", err, c.want)
			}
		})
	}
	// A typo of a key is still named (it has a value: not a bare secret).
	_, err := Parse("x.yaml", []byte(pdu+"    snmp: {comunity: s3cr3t}\n"+node))
	if err == nil || strings.Contains(err.Error(), "s3cr3t") ||
		!strings.Contains(err.Error(), `pdus[0].snmp.comunity: unknown key "comunity" (did you mean "community"?)`) {
		t.Errorf("err = %v", err)
	}
}
