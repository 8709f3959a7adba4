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

// TestSecretsNotEchoed: an invalid secret value is reported without its value.
func TestSecretsNotEchoed(t *testing.T) {
	_, err := Parse("x.yaml", []byte(`
nodes:
  - name: n0
    ipmi: {listen: "127.0.0.1:6230", username: admin, password: pw}
    mac: "52:54:00:00:00:01"
    wol: {password: "s3cr3t-secure-on"}
`))
	if err == nil || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "nodes[0].wol.password: invalid value (not shown") {
		t.Fatalf("err = %v", err)
	}
}
