package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

const enrollConfig = "testdata/instackenv/powerjockey.yaml"

// enrollPasswords are the configuration's passwords, by node.
var enrollPasswords = map[string]string{
	"compute-0": "c0mpute-pw", "controller-0": `c&<t>l "p" #1`, "wol-0": "w0l-pass",
	"hook-0": "hook-pass", "legacy-0": "legacy-pass",
}

var enrollUsers = map[string]string{"controller-0": "root"}

func enrollUser(name string) string {
	if u, ok := enrollUsers[name]; ok {
		return u
	}
	return "admin"
}

// wantEndpoints are where each node's IPMI endpoint is reached (wol-0
// listens on 0.0.0.0 and is enrolled at --address).
var wantEndpoints = map[string][2]string{
	"compute-0": {"192.168.24.1", "6230"}, "controller-0": {"192.168.24.1", "6231"},
	"wol-0": {"192.168.24.1", "6232"}, "hook-0": {"::1", "6233"}, "legacy-0": {"192.168.24.1", "6234"},
}

var enrollOrder = []string{"compute-0", "controller-0", "wol-0", "hook-0", "legacy-0"}

func TestInstackenvGolden(t *testing.T) {
	for _, c := range []struct {
		golden   string
		args     []string
		validate func(t *testing.T, out []byte)
	}{
		{"tripleo.json", nil, validateTripleO("manual-management")},
		{"tripleo-legacy.json", []string{"--legacy"}, validateTripleO("fake_pxe")},
		{"ironic.yaml", []string{"--format", "ironic"}, validateIronic(false, false)},
		{"ironic-redfish.yaml", []string{"--format", "ironic", "--redfish"}, validateIronic(true, false)},
		{"metal3.yaml", []string{"--format", "metal3"}, validateMetal3(false, false)},
		{"metal3-redfish.yaml", []string{"--format", "metal3", "--redfish"}, validateMetal3(true, false)},
		{"ironic-virtual-media.yaml", []string{"--format", "ironic", "--redfish", "--virtual-media"}, validateIronic(true, true)},
		{"metal3-virtual-media.yaml", []string{"--format", "metal3", "--redfish", "--virtual-media"}, validateMetal3(true, true)},
	} {
		t.Run(c.golden, func(t *testing.T) {
			args := append([]string{"instackenv", "--config", enrollConfig, "--address", "192.168.24.1"}, c.args...)
			out, errOut, code := runCmd(t, args...)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, errOut)
			}
			if !strings.Contains(errOut, "note: legacy-0 has no PDU, Wake-on-LAN or exec hook") {
				t.Errorf("no note about the manual node on stderr:\n%s", errOut)
			}
			for _, pw := range enrollPasswords {
				if strings.Contains(errOut, pw) {
					t.Errorf("stderr holds password %q:\n%s", pw, errOut)
				}
			}
			path := filepath.Join("testdata", "instackenv", c.golden)
			if *update {
				if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestInstackenvGolden -update to create it)", err)
			}
			if out != string(want) {
				t.Errorf("output differs from %s (go test -run TestInstackenvGolden -update rewrites it):\n%s", path, out)
			}
			c.validate(t, []byte(out))

			// The same with -o: a file only its owner can read.
			file := filepath.Join(t.TempDir(), "enroll")
			writeFile(t, file, "old content that is longer than nothing at all, and more", 0o644)
			if _, errOut, code := runCmd(t, append(args, "-o", file)...); code != 0 {
				t.Fatalf("-o: exit %d: %s", code, errOut)
			}
			got, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != out {
				t.Errorf("-o wrote something else than stdout:\n%s", got)
			}
			if st, _ := os.Stat(file); st.Mode().Perm() != 0o600 {
				t.Errorf("-o file has mode %04o, want 0600", st.Mode().Perm())
			}
		})
	}
}

func validateTripleO(manualType string) func(t *testing.T, out []byte) {
	return func(t *testing.T, out []byte) {
		var env struct {
			Nodes []map[string]any `json:"nodes"`
		}
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&env); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		if len(env.Nodes) != len(enrollOrder) {
			t.Fatalf("%d nodes, want %d", len(env.Nodes), len(enrollOrder))
		}
		for i, n := range env.Nodes {
			name := enrollOrder[i]
			if n["name"] != name {
				t.Errorf("node %d is %v, want %s (configuration order)", i, n["name"], name)
			}
			for k, v := range n {
				switch v.(type) {
				case string:
				case []any:
					if k != "mac" {
						t.Errorf("%s.%s is a list", name, k)
					}
				default:
					t.Errorf("%s.%s is %T, want a string (TripleO reads strings)", name, k, v)
				}
			}
			if macs, _ := n["mac"].([]any); len(macs) != 1 {
				t.Errorf("%s.mac = %v, want a list of one MAC", name, n["mac"])
			}
			if name == "legacy-0" {
				if n["pm_type"] != manualType {
					t.Errorf("legacy-0.pm_type = %v, want %s", n["pm_type"], manualType)
				}
				for k := range n {
					if strings.HasPrefix(k, "pm_") && k != "pm_type" {
						t.Errorf("manual node has %s", k)
					}
				}
				continue
			}
			ep := wantEndpoints[name]
			want := map[string]string{"pm_type": "ipmi", "pm_addr": ep[0], "pm_port": ep[1], "pm_user": enrollUser(name), "pm_password": enrollPasswords[name]}
			for k, v := range want {
				if n[k] != v {
					t.Errorf("%s.%s = %v, want %q", name, k, n[k], v)
				}
			}
		}
		c0 := env.Nodes[0]
		for k, v := range map[string]string{"cpu": "8", "memory": "32768", "disk": "100", "arch": "x86_64", "capabilities": "boot_mode:uefi,profile:compute"} {
			if c0[k] != v {
				t.Errorf("compute-0.%s = %v, want %q", k, c0[k], v)
			}
		}
		if _, ok := env.Nodes[2]["cpu"]; ok {
			t.Errorf("wol-0 has a cpu though the configuration gives none")
		}
	}
}

func validateIronic(redfish, virtualMedia bool) func(t *testing.T, out []byte) {
	return func(t *testing.T, out []byte) {
		var file struct {
			Nodes []struct {
				Name          string         `yaml:"name"`
				Driver        string         `yaml:"driver"`
				BootInterface string         `yaml:"boot_interface"`
				DriverInfo    map[string]any `yaml:"driver_info"`
				Properties    map[string]any `yaml:"properties"`
				Ports         []struct {
					Address string `yaml:"address"`
				} `yaml:"ports"`
			} `yaml:"nodes"`
		}
		dec := yaml.NewDecoder(bytes.NewReader(out))
		dec.KnownFields(true)
		if err := dec.Decode(&file); err != nil {
			t.Fatalf("not the expected YAML: %v", err)
		}
		if len(file.Nodes) != len(enrollOrder) {
			t.Fatalf("%d nodes, want %d", len(file.Nodes), len(enrollOrder))
		}
		for i, n := range file.Nodes {
			name := enrollOrder[i]
			if n.Name != name {
				t.Errorf("node %d is %s, want %s", i, n.Name, name)
			}
			if len(n.Ports) != 1 || !strings.HasPrefix(n.Ports[0].Address, "52:54:00:aa:00:0") {
				t.Errorf("%s ports = %+v", name, n.Ports)
			}
			if name == "legacy-0" {
				if n.Driver != "manual-management" || n.DriverInfo != nil {
					t.Errorf("legacy-0: driver %s, driver_info %v; want manual-management and none", n.Driver, n.DriverInfo)
				}
				continue
			}
			ep := wantEndpoints[name]
			var want map[string]any
			if redfish {
				want = map[string]any{
					"redfish_address": "https://192.168.24.1:8443", "redfish_system_id": "/redfish/v1/Systems/" + name,
					"redfish_username": enrollUser(name), "redfish_password": enrollPasswords[name], "redfish_verify_ca": false,
				}
				if n.Driver != "redfish" {
					t.Errorf("%s: driver %s, want redfish", name, n.Driver)
				}
				if want := map[bool]string{true: "redfish-virtual-media"}[virtualMedia]; n.BootInterface != want {
					t.Errorf("%s: boot_interface %q, want %q", name, n.BootInterface, want)
				}
			} else {
				port := map[string]int{"6230": 6230, "6231": 6231, "6232": 6232, "6233": 6233}[ep[1]]
				want = map[string]any{"ipmi_address": ep[0], "ipmi_port": port, "ipmi_username": enrollUser(name), "ipmi_password": enrollPasswords[name]}
				if n.Driver != "ipmi" {
					t.Errorf("%s: driver %s, want ipmi", name, n.Driver)
				}
			}
			if len(n.DriverInfo) != len(want) {
				t.Errorf("%s driver_info = %v, want %v", name, n.DriverInfo, want)
			}
			for k, v := range want {
				if n.DriverInfo[k] != v {
					t.Errorf("%s driver_info.%s = %#v, want %#v", name, k, n.DriverInfo[k], v)
				}
			}
		}
		p := file.Nodes[0].Properties
		for k, v := range map[string]any{"cpus": 8, "memory_mb": 32768, "local_gb": 100, "cpu_arch": "x86_64", "capabilities": "boot_mode:uefi,profile:compute"} {
			if p[k] != v {
				t.Errorf("compute-0 properties.%s = %#v, want %#v", k, p[k], v)
			}
		}
		if file.Nodes[2].Properties != nil {
			t.Errorf("wol-0 has properties %v though the configuration gives none", file.Nodes[2].Properties)
		}
	}
}

func validateMetal3(redfish, virtualMedia bool) func(t *testing.T, out []byte) {
	return func(t *testing.T, out []byte) {
		type doc struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
			Metadata   struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
			Type string            `yaml:"type"`
			Data map[string]string `yaml:"data"`
			Spec struct {
				Online         *bool  `yaml:"online"`
				BootMACAddress string `yaml:"bootMACAddress"`
				BootMode       string `yaml:"bootMode"`
				BMC            struct {
					Address                        string `yaml:"address"`
					CredentialsName                string `yaml:"credentialsName"`
					DisableCertificateVerification bool   `yaml:"disableCertificateVerification"`
				} `yaml:"bmc"`
			} `yaml:"spec"`
		}
		dec := yaml.NewDecoder(bytes.NewReader(out))
		dec.KnownFields(true)
		var docs []doc
		for {
			var d doc
			err := dec.Decode(&d)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("document %d: %v", len(docs), err)
			}
			docs = append(docs, d)
		}
		if len(docs) != 2*len(enrollOrder) {
			t.Fatalf("%d documents, want a Secret and a BareMetalHost per node (%d)", len(docs), 2*len(enrollOrder))
		}
		secrets := map[string]doc{}
		for i, name := range enrollOrder {
			s, h := docs[2*i], docs[2*i+1]
			if s.APIVersion != "v1" || s.Kind != "Secret" || s.Type != "Opaque" {
				t.Errorf("document %d: %s %s type %s, want a v1 Secret of type Opaque", 2*i, s.APIVersion, s.Kind, s.Type)
			}
			secrets[s.Metadata.Name] = s
			if h.APIVersion != "metal3.io/v1alpha1" || h.Kind != "BareMetalHost" || h.Metadata.Name != name {
				t.Errorf("document %d: %s %s %s, want metal3.io/v1alpha1 BareMetalHost %s", 2*i+1, h.APIVersion, h.Kind, h.Metadata.Name, name)
			}
			if h.Spec.Online == nil || *h.Spec.Online {
				t.Errorf("%s: online must be false (Ironic powers it when it needs to)", name)
			}
			if !strings.HasPrefix(h.Spec.BootMACAddress, "52:54:00:aa:00:0") {
				t.Errorf("%s: bootMACAddress %q", name, h.Spec.BootMACAddress)
			}
			ep := wantEndpoints[name]
			wantAddr := "ipmi://" + map[bool]string{true: "[" + ep[0] + "]", false: ep[0]}[strings.Contains(ep[0], ":")] + ":" + ep[1]
			if redfish {
				wantAddr = "redfish://192.168.24.1:8443/redfish/v1/Systems/" + name
			}
			if virtualMedia {
				wantAddr = "redfish-virtualmedia://192.168.24.1:8443/redfish/v1/Systems/" + name
			}
			if h.Spec.BMC.Address != wantAddr {
				t.Errorf("%s: bmc.address %q, want %q", name, h.Spec.BMC.Address, wantAddr)
			}
			if h.Spec.BMC.DisableCertificateVerification != redfish {
				t.Errorf("%s: disableCertificateVerification %v, want %v (self-signed Redfish certificate)", name, h.Spec.BMC.DisableCertificateVerification, redfish)
			}
			sec, ok := secrets[h.Spec.BMC.CredentialsName]
			if !ok {
				t.Errorf("%s: credentialsName %q names no Secret before it", name, h.Spec.BMC.CredentialsName)
				continue
			}
			for k, want := range map[string]string{"username": enrollUser(name), "password": enrollPasswords[name]} {
				got, err := base64.StdEncoding.DecodeString(sec.Data[k])
				if err != nil || string(got) != want {
					t.Errorf("%s: secret %s = %q (%v), want %q", name, k, got, err, want)
				}
			}
		}
		if docs[1].Spec.BootMode != "UEFI" || docs[3].Spec.BootMode != "legacy" || docs[5].Spec.BootMode != "" {
			t.Errorf("bootMode from capabilities: %q %q %q, want UEFI legacy and none", docs[1].Spec.BootMode, docs[3].Spec.BootMode, docs[5].Spec.BootMode)
		}
	}
}

func TestInstackenvErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeConfig(t, dir, `state_dir: /var/lib/powerjockey
nodes:
  - name: Compute_0
    ipmi: {listen: "127.0.0.1:6230", username: admin, password: pw}
    mac: "52:54:00:aa:00:01"
`, nil)
	noMAC := filepath.Join(dir, "nomac.yaml")
	writeFile(t, noMAC, `state_dir: /var/lib/powerjockey
nodes:
  - name: compute-0
    ipmi: {listen: "127.0.0.1:6230", username: admin, password: pw}
`, 0o600)
	noBoot := filepath.Join(dir, "noboot.yaml")
	writeFile(t, noBoot, `state_dir: /var/lib/powerjockey
redfish: {listen: "127.0.0.1:8443"}
nodes:
  - name: compute-0
    ipmi: {listen: "127.0.0.1:6230", username: admin, password: pw}
    mac: "52:54:00:aa:00:01"
`, 0o600)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", enrollConfig}, "node wol-0: ipmi.listen: 0.0.0.0:6232 listens on every address: give --address HOST"},
		{[]string{"--config", enrollConfig, "--address", "h", "--redfish"}, "--redfish: instackenv.json enrolls with pm_type ipmi; use --format ironic or metal3"},
		{[]string{"--config", enrollConfig, "--address", "h", "--format", "metal3", "--legacy"}, "--legacy: Metal3 has no fake_pxe"},
		{[]string{"--config", enrollConfig, "--format", "xml"}, "--format: want tripleo, ironic or metal3, got \"xml\""},
		{[]string{"--config", bad, "--format", "metal3"}, "node Compute_0: not a valid Kubernetes name"},
		{[]string{"--config", bad, "--format", "ironic", "--redfish"}, "--redfish: redfish is not configured in " + bad + " (set redfish.listen)"},
		{[]string{"--config", noMAC, "--format", "metal3"}, "node compute-0: Metal3 needs the boot NIC's MAC (bootMACAddress): set mac"},
		{[]string{"--config", enrollConfig, "extra"}, "unexpected argument \"extra\""},
		{[]string{"--config", enrollConfig, "--format", "ironic", "--virtual-media"}, "--virtual-media: virtual media is Redfish's: add --redfish"},
		{[]string{"--config", noBoot, "--format", "metal3", "--redfish", "--virtual-media"}, "--virtual-media: the boot endpoint is off in " + noBoot + " (set boot.listen)"},
	} {
		out, errOut, code := runCmd(t, append([]string{"instackenv"}, c.args...)...)
		if code != 1 || !strings.Contains(errOut, c.want) || out != "" {
			t.Errorf("instackenv %v: exit %d, stdout %q, stderr:\n%s\nwant exit 1 and %q", c.args, code, out, errOut, c.want)
		}
	}
}

// TestInstackenvRedfishTLS: the certificate decides redfish_verify_ca, and
// insecure_http enrolls over plain HTTP.
func TestInstackenvRedfishTLS(t *testing.T) {
	dir := t.TempDir()
	caCert, caKey := makeCert(t, nil, nil, "powerjockey test CA", true)
	leaf, leafKey := makeCert(t, caCert, caKey, "undercloud", false)
	self, selfKey := makeCert(t, nil, nil, "undercloud", false)
	writePEM := func(name string, c *x509.Certificate, k *ecdsa.PrivateKey) (string, string) {
		cp, kp := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
		writeFile(t, cp, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})), 0o644)
		kb, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, kp, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})), 0o600)
		return cp, kp
	}
	leafCrt, leafKeyFile := writePEM("leaf", leaf, leafKey)
	selfCrt, selfKeyFile := writePEM("self", self, selfKey)

	for _, c := range []struct {
		name, redfish        string
		ironicAddr, metal3   string
		verifyCA, disableTLS string
	}{
		{"CA-signed", `{listen: "192.168.24.1:8443", tls_cert: ` + leafCrt + `, tls_key: ` + leafKeyFile + `}`,
			"redfish_address: https://192.168.24.1:8443", "address: redfish://192.168.24.1:8443/redfish/v1/Systems/n-0", "", ""},
		{"self-signed file", `{listen: "192.168.24.1:8443", tls_cert: ` + selfCrt + `, tls_key: ` + selfKeyFile + `}`,
			"redfish_address: https://192.168.24.1:8443", "address: redfish://192.168.24.1:8443/redfish/v1/Systems/n-0", "redfish_verify_ca: false", "disableCertificateVerification: true"},
		{"plain HTTP", `{listen: "[2001:db8::1]:8000", insecure_http: true}`,
			"redfish_address: http://[2001:db8::1]:8000", "address: redfish+http://[2001:db8::1]:8000/redfish/v1/Systems/n-0", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "pj.yaml")
			writeFile(t, path, `state_dir: /var/lib/powerjockey
redfish: `+c.redfish+`
nodes:
  - name: n-0
    ipmi: {listen: "127.0.0.1:6230", username: admin, password: pw}
    mac: "52:54:00:aa:00:01"
    wol: {}
`, 0o600)
			ironic, errOut, code := runCmd(t, "instackenv", "--config", path, "--format", "ironic", "--redfish")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			metal3, errOut, code := runCmd(t, "instackenv", "--config", path, "--format", "metal3", "--redfish")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			check := func(out, want, label string) {
				if want == "" {
					return
				}
				if !strings.Contains(out, want) {
					t.Errorf("%s output lacks %q:\n%s", label, want, out)
				}
			}
			check(ironic, c.ironicAddr, "ironic")
			check(ironic, "redfish_system_id: /redfish/v1/Systems/n-0", "ironic")
			check(metal3, c.metal3, "metal3")
			check(ironic, c.verifyCA, "ironic")
			check(metal3, c.disableTLS, "metal3")
			if c.verifyCA == "" && strings.Contains(ironic, "redfish_verify_ca") {
				t.Errorf("redfish_verify_ca set for a certificate a CA signed:\n%s", ironic)
			}
			if c.disableTLS == "" && strings.Contains(metal3, "disableCertificateVerification") {
				t.Errorf("disableCertificateVerification set:\n%s", metal3)
			}
		})
	}
}

func makeCert(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, cn string, ca bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  ca,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}
