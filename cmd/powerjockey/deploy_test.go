package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/test/testkit"
)

const deployDir = "../../deploy"

// TestKubernetesManifest decodes every document of the Metal3 manifest and
// checks that the pieces fit: the configuration parses, its secret files are
// in the Secret, the probes reach its HTTP listener, the state directory is
// the mounted volume.
func TestKubernetesManifest(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(deployDir, "kubernetes", "powerjockey.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	type container struct {
		Image           string   `yaml:"image"`
		Command         []string `yaml:"command"`
		SecurityContext struct {
			AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
			ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
			Capabilities             struct {
				Drop []string `yaml:"drop"`
				Add  []string `yaml:"add"`
			} `yaml:"capabilities"`
		} `yaml:"securityContext"`
		ReadinessProbe struct {
			HTTPGet struct {
				Host string `yaml:"host"`
				Path string `yaml:"path"`
				Port int    `yaml:"port"`
			} `yaml:"httpGet"`
		} `yaml:"readinessProbe"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
		} `yaml:"volumeMounts"`
	}
	type doc struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct {
			Name      string `yaml:"name"`
			Namespace string `yaml:"namespace"`
		} `yaml:"metadata"`
		Data       map[string]string `yaml:"data"`
		StringData map[string]string `yaml:"stringData"`
		Spec       struct {
			Replicas *int `yaml:"replicas"`
			Strategy struct {
				Type string `yaml:"type"`
			} `yaml:"strategy"`
			Template struct {
				Spec struct {
					HostNetwork     bool `yaml:"hostNetwork"`
					SecurityContext struct {
						RunAsNonRoot *bool `yaml:"runAsNonRoot"`
						RunAsUser    *int  `yaml:"runAsUser"`
					} `yaml:"securityContext"`
					Containers []container `yaml:"containers"`
					Volumes    []struct {
						Name      string         `yaml:"name"`
						ConfigMap map[string]any `yaml:"configMap"`
						Secret    map[string]any `yaml:"secret"`
						PVC       map[string]any `yaml:"persistentVolumeClaim"`
					} `yaml:"volumes"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	byKind := map[string]doc{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for i := 0; ; i++ {
		var d doc
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		if d.APIVersion == "" || d.Kind == "" || d.Metadata.Name == "" {
			t.Errorf("document %d lacks apiVersion, kind or metadata.name", i)
		}
		if d.Kind != "Namespace" && d.Metadata.Namespace != "powerjockey" {
			t.Errorf("%s %s is not in namespace powerjockey", d.Kind, d.Metadata.Name)
		}
		byKind[d.Kind] = d
	}
	for _, k := range []string{"Namespace", "ConfigMap", "Secret", "PersistentVolumeClaim", "Deployment"} {
		if _, ok := byKind[k]; !ok {
			t.Errorf("no %s", k)
		}
	}
	dep := byKind["Deployment"]
	ps := dep.Spec.Template.Spec
	if !ps.HostNetwork {
		t.Error("hostNetwork must be true: Ironic reaches the endpoints on the host's provisioning address")
	}
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 1 || dep.Spec.Strategy.Type != "Recreate" {
		t.Error("want exactly one replica and the Recreate strategy")
	}
	if ps.SecurityContext.RunAsNonRoot == nil || !*ps.SecurityContext.RunAsNonRoot || ps.SecurityContext.RunAsUser == nil || *ps.SecurityContext.RunAsUser == 0 {
		t.Error("want runAsNonRoot with a non-zero runAsUser")
	}
	if len(ps.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(ps.Containers))
	}
	c := ps.Containers[0]
	sc := c.SecurityContext
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || !sc.ReadOnlyRootFilesystem ||
		!slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) || !slices.Equal(sc.Capabilities.Add, []string{"NET_BIND_SERVICE", "NET_RAW"}) {
		t.Errorf("container securityContext %+v", sc)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	// The command's configuration is the ConfigMap's key in its mount.
	cm := byKind["ConfigMap"]
	i := slices.Index(c.Command, "--config")
	if i < 0 || i+1 >= len(c.Command) || c.Command[1] != "serve" {
		t.Fatalf("command %v: want /powerjockey serve --config FILE", c.Command)
	}
	cfgFile := c.Command[i+1]
	text, ok := cm.Data[filepath.Base(cfgFile)]
	if !ok || filepath.Dir(cfgFile) != mounts["config"] {
		t.Fatalf("--config %s is not the ConfigMap's key in its mount %s", cfgFile, mounts["config"])
	}
	// Materialize the Secret where the configuration expects it.
	secretDir := mounts["secrets"]
	tmp := t.TempDir()
	for k, v := range byKind["Secret"].StringData {
		writeFile(t, filepath.Join(tmp, k), v, 0o440)
	}
	text = strings.ReplaceAll(text, secretDir+"/", tmp+"/")
	// As shipped, every secret is a placeholder the daemon refuses.
	_, err = config.Parse(filepath.Join(tmp, "powerjockey.yaml"), []byte(text))
	for k := range byKind["Secret"].StringData {
		if err == nil || !strings.Contains(err.Error(), "secret file "+filepath.Join(tmp, k)+" holds a placeholder (CHANGE-ME)") {
			t.Errorf("the Secret's placeholder %s is not refused: %v", k, err)
		}
		writeFile(t, filepath.Join(tmp, k), fmt.Sprintf("Real-secret-%d", len(k)), 0o440)
	}
	cfg, err := config.Parse(filepath.Join(tmp, "powerjockey.yaml"), []byte(text))
	if err != nil {
		t.Fatalf("the ConfigMap's configuration (with the Secret's files):\n%v", err)
	}
	if strings.Contains(text, secretDir) {
		t.Errorf("the configuration refers to files under %s that the Secret lacks", secretDir)
	}
	if cfg.StateDir != mounts["state"] {
		t.Errorf("state_dir %s is not the state volume's mount %s", cfg.StateDir, mounts["state"])
	}
	for _, n := range cfg.Nodes {
		if ap := netip.MustParseAddrPort(n.IPMI.Listen); ap.Port() < 1024 {
			t.Errorf("node %s listens on port %d: a non-root container cannot bind it", n.Name, ap.Port())
		}
	}
	ap := netip.MustParseAddrPort(cfg.HTTP.Listen)
	probe := c.ReadinessProbe.HTTPGet
	if probe.Path != "/healthz" || probe.Port != int(ap.Port()) || probe.Host != ap.Addr().String() {
		t.Errorf("readiness probe %+v does not reach http.listen %s/healthz", probe, cfg.HTTP.Listen)
	}
	for _, v := range ps.Volumes {
		switch v.Name {
		case "config":
			if v.ConfigMap["name"] != cm.Metadata.Name {
				t.Errorf("config volume names ConfigMap %v", v.ConfigMap["name"])
			}
		case "secrets":
			if v.Secret["secretName"] != byKind["Secret"].Metadata.Name {
				t.Errorf("secrets volume names Secret %v", v.Secret["secretName"])
			}
		case "state":
			if v.PVC["claimName"] != byKind["PersistentVolumeClaim"].Metadata.Name {
				t.Errorf("state volume names claim %v", v.PVC["claimName"])
			}
		}
	}
}

// TestSampleEtc: check refuses the sample /etc/powerjockey as shipped,
// naming every placeholder secret's file and key; with the placeholders
// replaced it loads and enrolls.
func TestSampleEtc(t *testing.T) {
	etc := filepath.Join(t.TempDir(), "powerjockey")
	if err := os.CopyFS(etc, os.DirFS(filepath.Join(deployDir, "etc", "powerjockey"))); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(etc, "powerjockey.yaml")
	secrets, _ := filepath.Glob(filepath.Join(etc, "*", "*.pw"))
	more, _ := filepath.Glob(filepath.Join(etc, "*", "*.secret"))
	secrets = append(secrets, more...)
	if len(secrets) < 2 {
		t.Fatalf("secret files in the sample: %v", secrets)
	}
	out, _, code := runCmd(t, "check", "--config", path)
	if code != 1 {
		t.Errorf("check accepts the sample's placeholder secrets: exit %d\n%s", code, out)
	}
	for _, f := range secrets {
		key := `nodes\[\d\]\.ipmi\.password_file`
		if strings.HasSuffix(f, ".secret") {
			key = `pdus\[0\]\.snmp\.(auth|priv)_passphrase_file`
		}
		re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(path) + `:\d+:\d+: ` + key + `: secret file ` + regexp.QuoteMeta(f) +
			` holds a placeholder \(CHANGE-ME\), not a secret: replace its content`)
		if !re.MatchString(out) {
			t.Errorf("check does not name %s and its key:\n%s", f, out)
		}
		if err := os.WriteFile(f, []byte(fmt.Sprintf("Real-secret-%d\n", len(f))), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Nodes) == 0 || cfg.StateDir != "/var/lib/powerjockey" {
		t.Errorf("%d nodes, state_dir %s", len(cfg.Nodes), cfg.StateDir)
	}
	for _, n := range cfg.Nodes {
		if ap := netip.MustParseAddrPort(n.IPMI.Listen); ap.Addr() != netip.MustParseAddr("192.168.24.1") || ap.Port() < 6230 {
			t.Errorf("node %s listens on %s, want 192.168.24.1:6230+", n.Name, n.IPMI.Listen)
		}
	}
	out, errOut, code := runCmd(t, "instackenv", "--config", path)
	var env struct {
		Nodes []struct {
			Name   string `json:"name"`
			PMType string `json:"pm_type"`
		} `json:"nodes"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &env) != nil || len(env.Nodes) != len(cfg.Nodes) {
		t.Fatalf("instackenv on the sample: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, n := range env.Nodes {
		if n.PMType != "ipmi" {
			t.Errorf("%s enrolled as %s, want ipmi (every sample node has a PDU or WoL)", n.Name, n.PMType)
		}
	}
}

// unitDirectives reads a systemd unit's [Service] directives.
func unitDirectives(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Errorf("%s: not a directive: %q", path, line)
				continue
			}
			if _, dup := out[section+"."+k]; dup {
				t.Errorf("%s: %s given twice", path, k)
			}
			out[section+"."+k] = v
		}
	}
	return out
}

func TestSystemdUnit(t *testing.T) {
	path := filepath.Join(deployDir, "powerjockey.service")
	d := unitDirectives(t, path)
	for k, want := range map[string]string{
		"Service.Type":                    "notify",
		"Service.ExecStart":               "/usr/bin/powerjockey serve --config /etc/powerjockey/powerjockey.yaml",
		"Service.ExecReload":              "/bin/kill -HUP $MAINPID",
		"Service.Restart":                 "on-failure",
		"Service.User":                    "powerjockey",
		"Service.StateDirectory":          "powerjockey",
		"Service.ConfigurationDirectory":  "powerjockey",
		"Service.ProtectSystem":           "strict",
		"Service.ProtectHome":             "yes",
		"Service.PrivateTmp":              "yes",
		"Service.NoNewPrivileges":         "yes",
		"Service.AmbientCapabilities":     "CAP_NET_BIND_SERVICE CAP_NET_RAW",
		"Service.CapabilityBoundingSet":   "CAP_NET_BIND_SERVICE CAP_NET_RAW",
		"Service.RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX AF_PACKET AF_NETLINK",
		"Service.SystemCallFilter":        "@system-service",
		"Service.LimitNOFILE":             "65536",
		"Install.WantedBy":                "multi-user.target",
	} {
		if d[k] != want {
			t.Errorf("%s: %s=%q, want %q", path, k, d[k], want)
		}
	}
	// The sysusers.d entry creates the unit's user.
	b, err := os.ReadFile(filepath.Join(deployDir, "sysusers.d", "powerjockey.conf"))
	if err != nil || !strings.Contains(string(b), "\nu powerjockey - ") {
		t.Errorf("sysusers.d/powerjockey.conf does not create user powerjockey: %v\n%s", err, b)
	}
}

// TestSystemdUnitVerify runs systemd-analyze verify on the unit, with
// ExecStart pointing at an executable that exists here.
func TestSystemdUnitVerify(t *testing.T) {
	testkit.RequireTool(t, "systemd-analyze")
	data, err := os.ReadFile(filepath.Join(deployDir, "powerjockey.service"))
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(t.TempDir(), "powerjockey.service")
	writeFile(t, unit, strings.ReplaceAll(string(data), "/usr/bin/powerjockey", exe), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "systemd-analyze", "verify", "--man=no", unit).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
