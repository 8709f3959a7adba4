package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/pkg/redfish"
)

// enrollment is what the enrollment formats need to know about one node.
type enrollment struct {
	cfg config.Node
	// manual is true for a node with no power means: no PDU, no Wake-on-LAN
	// and no exec hook for any action.
	manual bool
	// host and port reach the node's BMC (IPMI, or Redfish with --redfish).
	host string
	port int
	// Redfish only.
	redfishScheme   string // https or http
	redfishSystem   string // /redfish/v1/Systems/NAME
	redfishInsecure bool   // the certificate is self-signed
}

type instackenvOptions struct {
	format  string
	legacy  bool
	address string
	redfish bool
	// virtualMedia enrolls Redfish nodes for virtual media boot (Ironic's
	// redfish-virtual-media boot interface, Metal3's redfish-virtualmedia://).
	virtualMedia bool
}

func runInstackenv(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("instackenv", "--config FILE [--format tripleo|ironic|metal3] [--legacy] [--address HOST] [--redfish [--virtual-media]] [-o FILE]", stderr)
	cfgPath := fs.String("config", defaultConfigPath, "configuration file")
	var opt instackenvOptions
	fs.StringVar(&opt.format, "format", "tripleo", "tripleo (instackenv.json), ironic (baremetal create YAML) or metal3 (BareMetalHost manifests)")
	fs.BoolVar(&opt.legacy, "legacy", false, "enroll nodes with no power means as fake_pxe instead of manual-management (Ironic with classic drivers)")
	fs.StringVar(&opt.address, "address", "", "host Ironic reaches this machine at, for listen addresses 0.0.0.0 or ::")
	fs.BoolVar(&opt.redfish, "redfish", false, "enroll with the Redfish driver (redfish.listen) instead of IPMI (ironic and metal3 formats)")
	fs.BoolVar(&opt.virtualMedia, "virtual-media", false, "with --redfish: boot from Redfish virtual media (Ironic's redfish-virtual-media boot interface, Metal3's redfish-virtualmedia://), served by the boot endpoint (boot.listen)")
	output := fs.String("o", "", "write to this file (mode 0600: it holds passwords) instead of standard output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch opt.format {
	case "tripleo", "ironic", "metal3":
	default:
		return fmt.Errorf("--format: want tripleo, ironic or metal3, got %q", opt.format)
	}
	if opt.redfish && opt.format == "tripleo" {
		return errors.New("--redfish: instackenv.json enrolls with pm_type ipmi; use --format ironic or metal3 for Redfish")
	}
	if opt.virtualMedia && !opt.redfish {
		return errors.New("--virtual-media: virtual media is Redfish's: add --redfish")
	}
	if opt.legacy && opt.format == "metal3" {
		return errors.New("--legacy: Metal3 has no fake_pxe; it applies to the tripleo and ironic formats")
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(stderr, "powerjockey instackenv: warning: %v\n", w)
	}
	nodes, err := enrollments(cfg, opt)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if n.manual {
			fmt.Fprintf(stderr, "powerjockey instackenv: note: %s has no PDU, Wake-on-LAN or exec hook: %s\n", n.cfg.Name, manualNote(opt))
		}
	}
	var out []byte
	switch opt.format {
	case "tripleo":
		out, err = tripleoEnv(nodes, opt)
	case "ironic":
		out, err = ironicFile(nodes, opt)
	case "metal3":
		out, err = metal3Manifests(nodes, opt)
	}
	if err != nil {
		return err
	}
	if *output == "" {
		_, err = stdout.Write(out)
		return err
	}
	return writeSecretFile(*output, out)
}

func manualNote(opt instackenvOptions) string {
	switch {
	case opt.format == "metal3":
		return "enrolled with its endpoint; powerjockey announces each of its power actions for a human"
	case opt.legacy:
		return "enrolled as fake_pxe"
	default:
		return "enrolled as manual-management"
	}
}

// writeSecretFile writes data to path readable by its owner only.
func writeSecretFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// enrollments resolves every node's endpoint, in configuration order.
func enrollments(cfg *config.Config, opt instackenvOptions) ([]enrollment, error) {
	var (
		rfHost, rfScheme string
		rfPort           int
		rfInsecure       bool
	)
	if opt.redfish {
		if cfg.Redfish.Listen == "" {
			return nil, fmt.Errorf("--redfish: redfish is not configured in %s (set redfish.listen)", cfg.Path)
		}
		var err error
		rfHost, rfPort, err = endpointHost(cfg.Redfish.Listen, opt.address)
		if err != nil {
			return nil, fmt.Errorf("redfish.listen: %w", err)
		}
		rfScheme = "https"
		if cfg.Redfish.InsecureHTTP {
			rfScheme = "http"
		} else if rfInsecure, err = selfSigned(cfg.Redfish.TLSCert); err != nil {
			return nil, fmt.Errorf("redfish.tls_cert: %w", err)
		}
	}
	if opt.virtualMedia && cfg.Boot.Listen == "" {
		return nil, fmt.Errorf("--virtual-media: the boot endpoint is off in %s (set boot.listen): nothing would serve the image to the machines", cfg.Path)
	}
	out := make([]enrollment, 0, len(cfg.Nodes))
	for _, n := range cfg.Nodes {
		e := enrollment{cfg: n, manual: isManualOnly(n)}
		if opt.virtualMedia && !cfg.FetchesBootScript(n) {
			return nil, fmt.Errorf("node %s: --virtual-media: its machine must fetch its boot script from the boot endpoint to boot the virtual CD (set mac; boot.script must not be false)", n.Name)
		}
		if opt.redfish {
			e.host, e.port = rfHost, rfPort
			e.redfishScheme, e.redfishInsecure = rfScheme, rfInsecure
			e.redfishSystem = redfish.SystemPath(n.Name)
		} else {
			var err error
			e.host, e.port, err = endpointHost(n.IPMI.Listen, opt.address)
			if err != nil {
				return nil, fmt.Errorf("node %s: ipmi.listen: %w", n.Name, err)
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// isManualOnly reports a node whose every power action is a manual action.
func isManualOnly(n config.Node) bool {
	if n.PDU != nil || n.WoL != nil {
		return false
	}
	if e := n.Exec; e != nil {
		for _, c := range []string{e.On, e.Off, e.SoftOff, e.Cycle, e.Reset, e.Diag} {
			if c != "" {
				return false
			}
		}
	}
	return true
}

// endpointHost is the host and port a listen address is reached at: its
// own host, or address when it listens on every address.
func endpointHost(listen, address string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", portStr, err)
	}
	wildcard := host == ""
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		wildcard = true
	}
	if !wildcard {
		return host, port, nil
	}
	if address == "" {
		return "", 0, fmt.Errorf("%s listens on every address: give --address HOST, the address Ironic reaches this machine at", listen)
	}
	return strings.Trim(address, "[]"), port, nil
}

// selfSigned reports whether the Redfish certificate is one no client
// trusts by default: the one the daemon generates when no tls_cert is
// configured (signed by its own CA, state_dir/redfish/ca.crt, which Ironic
// does not know unless given it), or a configured one that signed itself.
func selfSigned(certFile string) (bool, error) {
	if certFile == "" {
		return true, nil
	}
	data, err := os.ReadFile(certFile)
	if err != nil {
		return false, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return false, fmt.Errorf("%s: no PEM certificate", certFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return false, fmt.Errorf("%s: %w", certFile, err)
	}
	// CheckSignatureFrom would insist on a CA; a generated server
	// certificate that signed itself is usually not one.
	return bytes.Equal(cert.RawIssuer, cert.RawSubject) &&
		cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature) == nil, nil
}

// manualType is the Ironic hardware type of a node with no power means.
func manualType(opt instackenvOptions) string {
	if opt.legacy {
		return "fake_pxe"
	}
	return "manual-management"
}

// tripleoNode is one node of instackenv.json. TripleO reads the hardware
// properties and the port as strings.
type tripleoNode struct {
	Name         string   `json:"name"`
	PMType       string   `json:"pm_type"`
	PMAddr       string   `json:"pm_addr,omitempty"`
	PMPort       string   `json:"pm_port,omitempty"`
	PMUser       string   `json:"pm_user,omitempty"`
	PMPassword   string   `json:"pm_password,omitempty"`
	MAC          []string `json:"mac,omitempty"`
	CPU          string   `json:"cpu,omitempty"`
	Memory       string   `json:"memory,omitempty"`
	Disk         string   `json:"disk,omitempty"`
	Arch         string   `json:"arch,omitempty"`
	Capabilities string   `json:"capabilities,omitempty"`
}

func tripleoEnv(nodes []enrollment, opt instackenvOptions) ([]byte, error) {
	env := struct {
		Nodes []tripleoNode `json:"nodes"`
	}{Nodes: []tripleoNode{}}
	for _, e := range nodes {
		n := e.cfg
		t := tripleoNode{Name: n.Name, PMType: "ipmi", Arch: n.Arch, Capabilities: n.Capabilities}
		if e.manual {
			t.PMType = manualType(opt)
		} else {
			t.PMAddr, t.PMPort = e.host, strconv.Itoa(e.port)
			t.PMUser, t.PMPassword = n.IPMI.Username, n.IPMI.Password
		}
		if len(n.MAC) > 0 {
			t.MAC = []string{n.MAC.String()}
		}
		t.CPU, t.Memory, t.Disk = itoa(n.CPU), itoa(n.Memory), itoa(n.Disk)
		env.Nodes = append(env.Nodes, t)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(env); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func itoa(v int) string {
	if v == 0 {
		return ""
	}
	return strconv.Itoa(v)
}

// Ironic's `baremetal create` file.
type ironicNode struct {
	Name   string `yaml:"name"`
	Driver string `yaml:"driver"`
	// BootInterface is redfish-virtual-media with --virtual-media.
	BootInterface string            `yaml:"boot_interface,omitempty"`
	DriverInfo    *ironicDriverInfo `yaml:"driver_info,omitempty"`
	Properties    *ironicProperties `yaml:"properties,omitempty"`
	Ports         []ironicPort      `yaml:"ports,omitempty"`
}

type ironicDriverInfo struct {
	IPMIAddress     string `yaml:"ipmi_address,omitempty"`
	IPMIPort        int    `yaml:"ipmi_port,omitempty"`
	IPMIUsername    string `yaml:"ipmi_username,omitempty"`
	IPMIPassword    string `yaml:"ipmi_password,omitempty"`
	RedfishAddress  string `yaml:"redfish_address,omitempty"`
	RedfishSystemID string `yaml:"redfish_system_id,omitempty"`
	RedfishUsername string `yaml:"redfish_username,omitempty"`
	RedfishPassword string `yaml:"redfish_password,omitempty"`
	RedfishVerifyCA *bool  `yaml:"redfish_verify_ca,omitempty"`
}

type ironicProperties struct {
	CPUs         int    `yaml:"cpus,omitempty"`
	MemoryMB     int    `yaml:"memory_mb,omitempty"`
	LocalGB      int    `yaml:"local_gb,omitempty"`
	CPUArch      string `yaml:"cpu_arch,omitempty"`
	Capabilities string `yaml:"capabilities,omitempty"`
}

type ironicPort struct {
	Address string `yaml:"address"`
}

func ironicFile(nodes []enrollment, opt instackenvOptions) ([]byte, error) {
	file := struct {
		Nodes []ironicNode `yaml:"nodes"`
	}{Nodes: []ironicNode{}}
	for _, e := range nodes {
		n := e.cfg
		in := ironicNode{Name: n.Name}
		switch {
		case e.manual:
			in.Driver = manualType(opt)
		case opt.redfish:
			in.Driver = "redfish"
			if opt.virtualMedia {
				in.BootInterface = "redfish-virtual-media"
			}
			in.DriverInfo = &ironicDriverInfo{
				RedfishAddress:  e.redfishScheme + "://" + net.JoinHostPort(e.host, strconv.Itoa(e.port)),
				RedfishSystemID: e.redfishSystem,
				RedfishUsername: n.IPMI.Username,
				RedfishPassword: n.IPMI.Password,
			}
			if e.redfishInsecure {
				verify := false
				in.DriverInfo.RedfishVerifyCA = &verify
			}
		default:
			in.Driver = "ipmi"
			in.DriverInfo = &ironicDriverInfo{
				IPMIAddress: e.host, IPMIPort: e.port,
				IPMIUsername: n.IPMI.Username, IPMIPassword: n.IPMI.Password,
			}
		}
		p := ironicProperties{CPUs: n.CPU, MemoryMB: n.Memory, LocalGB: n.Disk, CPUArch: n.Arch, Capabilities: n.Capabilities}
		if p != (ironicProperties{}) {
			in.Properties = &p
		}
		if len(n.MAC) > 0 {
			in.Ports = []ironicPort{{Address: n.MAC.String()}}
		}
		file.Nodes = append(file.Nodes, in)
	}
	return encodeYAML(file)
}

func encodeYAML(docs ...any) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			return nil, err
		}
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Metal3 documents.
type k8sMeta struct {
	Name string `yaml:"name"`
}

type k8sSecret struct {
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   k8sMeta           `yaml:"metadata"`
	Type       string            `yaml:"type"`
	Data       map[string]string `yaml:"data"`
}

type bareMetalHost struct {
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   k8sMeta           `yaml:"metadata"`
	Spec       bareMetalHostSpec `yaml:"spec"`
}

type bareMetalHostSpec struct {
	Online         bool   `yaml:"online"`
	BootMACAddress string `yaml:"bootMACAddress"`
	BootMode       string `yaml:"bootMode,omitempty"`
	BMC            struct {
		Address                        string `yaml:"address"`
		CredentialsName                string `yaml:"credentialsName"`
		DisableCertificateVerification bool   `yaml:"disableCertificateVerification,omitempty"`
	} `yaml:"bmc"`
}

// dns1123Subdomain is what Kubernetes accepts as an object name.
var dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

func metal3Manifests(nodes []enrollment, opt instackenvOptions) ([]byte, error) {
	var docs []any
	for _, e := range nodes {
		n := e.cfg
		secretName := n.Name + "-bmc-secret"
		if !dns1123Subdomain.MatchString(secretName) || len(secretName) > 253 {
			return nil, fmt.Errorf("node %s: not a valid Kubernetes name (lower-case letters, digits, '-' and '.'); rename it for Metal3", n.Name)
		}
		if len(n.MAC) == 0 {
			return nil, fmt.Errorf("node %s: Metal3 needs the boot NIC's MAC (bootMACAddress): set mac", n.Name)
		}
		docs = append(docs, k8sSecret{
			APIVersion: "v1", Kind: "Secret", Metadata: k8sMeta{Name: secretName}, Type: "Opaque",
			Data: map[string]string{
				"username": base64.StdEncoding.EncodeToString([]byte(n.IPMI.Username)),
				"password": base64.StdEncoding.EncodeToString([]byte(n.IPMI.Password)),
			},
		})
		h := bareMetalHost{APIVersion: "metal3.io/v1alpha1", Kind: "BareMetalHost", Metadata: k8sMeta{Name: n.Name}}
		h.Spec.BootMACAddress = n.MAC.String()
		h.Spec.BootMode = metal3BootMode(n.Capabilities)
		h.Spec.BMC.CredentialsName = secretName
		hostPort := net.JoinHostPort(e.host, strconv.Itoa(e.port))
		if e.redfishSystem != "" {
			scheme := "redfish"
			if opt.virtualMedia {
				scheme = "redfish-virtualmedia"
			}
			if e.redfishScheme == "http" {
				scheme += "+http"
			}
			h.Spec.BMC.Address = scheme + "://" + hostPort + e.redfishSystem
			h.Spec.BMC.DisableCertificateVerification = e.redfishInsecure
		} else {
			h.Spec.BMC.Address = "ipmi://" + hostPort
		}
		var doc yaml.Node
		if err := doc.Encode(h); err != nil {
			return nil, err
		}
		if e.manual {
			doc.HeadComment = n.Name + " has no PDU, Wake-on-LAN or exec hook: powerjockey announces each of\nits power actions for a human (log, status API, live page)."
		}
		docs = append(docs, &doc)
	}
	return encodeYAML(docs...)
}

// metal3BootMode maps Ironic's boot_mode capability to the BareMetalHost's bootMode.
func metal3BootMode(capabilities string) string {
	for _, c := range strings.Split(capabilities, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(c), ":")
		if k != "boot_mode" {
			continue
		}
		switch v {
		case "uefi":
			return "UEFI"
		case "bios":
			return "legacy"
		}
	}
	return ""
}
