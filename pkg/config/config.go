// Package config loads and validates powerjockey's YAML configuration.
//
// The file is strict: an unknown key, a value of the wrong type or an
// inconsistent setting is an error that names the file, the line and the key
// path (e.g. "powerjockey.yaml:12:7: nodes[0].ipmi.listen: ..."), and the
// daemon refuses to start. Keys are a contract that outside tooling relies
// on; defaults are applied by [Load] so the rest of the program never has to
// guess.
package config

import (
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Config is the whole configuration file.
type Config struct {
	// StateDir holds what must survive restarts (node power state, boot
	// flags, GUIDs). Default /var/lib/powerjockey.
	StateDir string `yaml:"state_dir"`
	// IPMI holds defaults for every node's IPMI endpoint.
	IPMI IPMIDefaults `yaml:"ipmi"`
	// HTTP configures the status API, metrics and live page.
	HTTP HTTP `yaml:"http"`
	// Redfish configures the shared Redfish endpoint; disabled when Listen is empty.
	Redfish Redfish `yaml:"redfish"`
	// Boot configures the boot endpoint (iPXE scripts, virtual media);
	// disabled when Listen is empty.
	Boot Boot `yaml:"boot"`
	// PDUs are the switched PDUs nodes may reference by name.
	PDUs []PDU `yaml:"pdus"`
	// Nodes are the machines powerjockey gives a BMC.
	Nodes []Node `yaml:"nodes"`

	// Path is the file the configuration was read from (not a YAML key).
	Path string `yaml:"-"`
	// Warnings are non-fatal findings (e.g. world-readable secrets).
	Warnings []*Error `yaml:"-"`
}

// IPMIDefaults are endpoint settings shared by all nodes unless a node overrides them.
type IPMIDefaults struct {
	// CipherSuites offered over RMCP+ (default 3, 17). Suites 1, 2, 15
	// and 16 (no integrity or no confidentiality) and 0 (no
	// authentication) are offered only when listed here explicitly.
	CipherSuites []int `yaml:"cipher_suites"`
	// V15AuthTypes enables IPMI v1.5 sessions with these authentication
	// types: "md5", "password" (default md5 only: straight password is
	// clear text, so it is opt-in); an empty list disables v1.5.
	// Type "none" is never accepted.
	V15AuthTypes *[]string `yaml:"v15_auth_types"`
	// MaxSessions is the per-endpoint session table size (default 32).
	MaxSessions int `yaml:"max_sessions"`
	// SessionTimeout is the idle timeout of a session (default 60s).
	SessionTimeout Duration `yaml:"session_timeout"`
	// AuthFailuresPerMinute limits failed authentications per source
	// address across all endpoints before its handshakes are dropped
	// (default 30; 0 keeps the default, -1 disables).
	AuthFailuresPerMinute int `yaml:"auth_failures_per_minute"`
}

// HTTP configures the operator-facing HTTP server.
type HTTP struct {
	// Listen address; default 127.0.0.1:9623. "off" disables the server.
	Listen string `yaml:"listen"`
	// MaxConnections and MaxConnectionsPerSource cap the connections the
	// server holds at once, in all and from one address (default 64 and
	// 16). The daemon lowers them, with a warning, when the file
	// descriptor limit cannot afford them next to the IPMI endpoints,
	// PDUs and state files.
	MaxConnections          int `yaml:"max_connections"`
	MaxConnectionsPerSource int `yaml:"max_connections_per_source"`

	// TLS serves HTTPS. Default: on for a non-loopback listen address
	// (where it cannot be switched off) or when TLSCert is given, off on
	// loopback.
	TLS *bool `yaml:"tls"`
	// TLSCert and TLSKey are PEM files; without them a leaf certificate
	// is generated into state_dir/http, signed by a name-constrained CA
	// there (state_dir/http/ca.crt), as for Redfish.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// Tokens are bearer tokens for the API and the page, each with a
	// role. A non-loopback listener needs Tokens or Accounts.
	Tokens []HTTPToken `yaml:"tokens"`
	// Accounts lets the nodes' BMC users (their ipmi username and
	// password, as Redfish accepts them) log in, each seeing its own
	// nodes with the role of its IPMI privilege.
	Accounts bool `yaml:"accounts"`
	// MetricsToken, when set, is the bearer token /metrics requires
	// (Prometheus: authorization: {credentials_file: ...}); without it
	// /metrics is open.
	MetricsToken     string `yaml:"metrics_token"`
	MetricsTokenFile string `yaml:"metrics_token_file"`
}

// HTTPToken is one bearer token of the HTTP server.
type HTTPToken struct {
	// Name identifies the token's holder in audit lines, the event log
	// and the page ("noc", "ironic-conductor").
	Name string `yaml:"name"`
	// Role is ReadOnly (reads) or Operator (also power actions and
	// acknowledging manual actions); Administrator means Operator here.
	Role string `yaml:"role"`
	// Token (at least 16 characters), or TokenFile holding it.
	Token     string `yaml:"token"`
	TokenFile string `yaml:"token_file"`
}

// TLSEnabled reports whether the HTTP server serves HTTPS (see HTTP.TLS).
func (h HTTP) TLSEnabled() bool {
	if h.TLS != nil {
		return *h.TLS
	}
	return h.TLSCert != "" || !IsLoopbackListen(h.Listen)
}

// AuthEnabled reports whether the HTTP server asks for credentials.
func (h HTTP) AuthEnabled() bool { return len(h.Tokens) > 0 || h.Accounts }

// IsLoopbackListen reports whether a listen address ("IP:port") is on
// loopback only; "off" counts as loopback (nothing is exposed).
func IsLoopbackListen(listen string) bool {
	if listen == "off" {
		return true
	}
	ap, err := netip.ParseAddrPort(listen)
	return err == nil && ap.Addr().IsLoopback()
}

// Redfish configures the Redfish service shared by all nodes.
type Redfish struct {
	// Listen enables the service, e.g. "0.0.0.0:8000".
	Listen string `yaml:"listen"`
	// TLSCert and TLSKey are PEM files; when both are empty a self-signed
	// certificate is generated into state_dir on first start.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// InsecureHTTP serves plain HTTP instead of HTTPS; never the default.
	InsecureHTTP bool `yaml:"insecure_http"`
	// MaxConnections and MaxConnectionsPerSource cap the connections the
	// service holds at once, in all and from one address (default 256 and
	// 32), as for HTTP.
	MaxConnections          int `yaml:"max_connections"`
	MaxConnectionsPerSource int `yaml:"max_connections_per_source"`
}

// PDU is one switched power distribution unit reached over SNMP.
type PDU struct {
	Name string `yaml:"name"`
	// Address is host[:port], default port 161.
	Address string `yaml:"address"`
	// Model is a row of the PDU model table, or "auto" to detect it from sysObjectID.
	Model string `yaml:"model"`
	// Outlets is the number of outlets, used to validate node outlet numbers (optional).
	Outlets int  `yaml:"outlets"`
	SNMP    SNMP `yaml:"snmp"`
	// CacheTTL is how long one outlet-status poll serves every node of this
	// PDU before the next poll (default 2s).
	CacheTTL Duration `yaml:"cache_ttl"`
	// Stagger is the minimum time between two outlet switch-ons on this PDU,
	// to spread inrush current (default 1s).
	Stagger *Duration `yaml:"stagger"`
	// VerifyTimeout bounds how long after a switch the outlet's status
	// must show it (or a pending state towards it) before the switch
	// counts as failed (default 5s).
	VerifyTimeout Duration `yaml:"verify_timeout"`
}

// SNMP holds a PDU's SNMP transport and credentials.
type SNMP struct {
	// Version is "1", "2c" or "3".
	Version string `yaml:"version"`
	// Community is used for reads and writes (v1/v2c) unless CommunityRead
	// or CommunityWrite override it.
	Community      string `yaml:"community"`
	CommunityRead  string `yaml:"community_read"`
	CommunityWrite string `yaml:"community_write"`
	// SNMPv3 USM.
	User               string `yaml:"user"`
	AuthProtocol       string `yaml:"auth_protocol"`
	AuthPassphrase     string `yaml:"auth_passphrase"`
	AuthPassphraseFile string `yaml:"auth_passphrase_file"`
	PrivProtocol       string `yaml:"priv_protocol"`
	PrivPassphrase     string `yaml:"priv_passphrase"`
	PrivPassphraseFile string `yaml:"priv_passphrase_file"`
	ContextName        string `yaml:"context_name"`
	// Timeout per request (default 1s) and Retries after the first try (default 2).
	Timeout Duration `yaml:"timeout"`
	Retries *int     `yaml:"retries"`
}

// Node is one machine and the BMC powerjockey emulates for it.
type Node struct {
	Name string   `yaml:"name"`
	IPMI NodeIPMI `yaml:"ipmi"`
	// MAC is the NIC that PXE-boots (used for Wake-on-LAN and enrollment files).
	MAC HardwareAddr `yaml:"mac"`
	// GUID is the node's system GUID; generated and persisted when empty.
	GUID string `yaml:"guid"`

	WoL  *WoL     `yaml:"wol"`
	PDU  *NodePDU `yaml:"pdu"`
	Exec *Exec    `yaml:"exec"`

	// OnDelay is the wait between switching outlets on and the magic packet
	// (default 5s when the node has both a PDU and WoL, else 0).
	OnDelay *Duration `yaml:"on_delay"`
	// CycleDelay is the off time of a power cycle or reset (default 5s).
	CycleDelay *Duration `yaml:"cycle_delay"`
	// Fallback decides what happens to an action the node has no means
	// for: "manual" (default: announce it to the operator and record it)
	// or "error" (fail with an IPMI error completion code).
	Fallback string `yaml:"fallback"`
	// Status chooses where "power status" comes from.
	Status Status `yaml:"status"`
	// Boot changes the boot endpoint's settings for this node (optional).
	Boot *NodeBoot `yaml:"boot"`

	// Console is the machine's serial console, served over IPMI Serial
	// over LAN (optional).
	Console *Console `yaml:"console"`
	// FRU is the inventory its BMC reports (optional; see FRU).
	FRU *FRU `yaml:"fru"`
	// MaxWatts is the most the machine draws (e.g. its power supplies'
	// rating); it sets the range and resolution of its IPMI Watts sensors
	// (default 1000).
	MaxWatts float64 `yaml:"max_watts"`

	// Hardware properties for enrollment files (instackenv.json); optional.
	CPU          int    `yaml:"cpu"`
	Memory       int    `yaml:"memory"`
	Disk         int    `yaml:"disk"`
	Arch         string `yaml:"arch"`
	Capabilities string `yaml:"capabilities"`
}

// NodeIPMI is a node's IPMI endpoint and credentials.
type NodeIPMI struct {
	// Listen is the UDP address of this node's BMC; one per node.
	Listen       string `yaml:"listen"`
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	// Privilege is the user's maximum privilege (default administrator).
	Privilege Privilege `yaml:"privilege"`
	// CipherSuites overrides the global list for this endpoint.
	CipherSuites []int `yaml:"cipher_suites"`
}

// WoL configures Wake-on-LAN for a node.
type WoL struct {
	// Target is the UDP destination host:port (default 255.255.255.255:9).
	Target string `yaml:"target"`
	// Interface sends a raw Ethernet frame (EtherType 0x0842) on this
	// interface instead of UDP.
	Interface string `yaml:"interface"`
	// Password is the SecureOn password (6 bytes, written like a MAC address).
	Password HardwareAddr `yaml:"password"`
	// Repeat is how many magic packets are sent (default 3), Interval apart (default 1s).
	Repeat   int      `yaml:"repeat"`
	Interval Duration `yaml:"interval"`
}

// NodePDU attaches a node to PDU outlets.
type NodePDU struct {
	Name string `yaml:"name"`
	// Outlets feeding the node; several for several power supplies.
	Outlets []int `yaml:"outlets"`
}

// Exec configures per-action commands run with /bin/sh -c. Each configured
// command replaces the built-in sequence for its action.
type Exec struct {
	On      string `yaml:"on"`
	Off     string `yaml:"off"`
	SoftOff string `yaml:"soft_off"`
	Cycle   string `yaml:"cycle"`
	Reset   string `yaml:"reset"`
	Diag    string `yaml:"diag"`
	// Status, when set, is run to read the power state: exit 0 = on, 1 = off.
	Status string `yaml:"status"`
	// Timeout bounds each command (default 30s).
	Timeout Duration `yaml:"timeout"`
}

// Status selects and tunes the source of a node's reported power state.
type Status struct {
	// Source is auto (default), metering, outlet, probe, exec or recorded.
	Source string `yaml:"source"`
	// WattsOn is the draw above which a metered node counts as on (default 15 W).
	WattsOn *float64 `yaml:"watts_on"`
	// Probe checks reachability: TCP connect or ICMP echo.
	Probe *Probe `yaml:"probe"`
	// MaxAge is how old a cached reading may be before a background refresh
	// is started (default 2s).
	MaxAge Duration `yaml:"max_age"`
	// SampleInterval is how often the node's sensors are read when nobody
	// asks (default 15s), so that its meter history and event log see a
	// machine that shuts itself down. Nodes of one PDU share its poll.
	SampleInterval Duration `yaml:"sample_interval"`
}

// Probe is a reachability check standing in for a power sensor.
type Probe struct {
	// TCP is host:port to connect to; on if the connection succeeds or is refused
	// (a refusal proves the host's stack is up).
	TCP string `yaml:"tcp"`
	// ICMP is a host to ping.
	ICMP string `yaml:"icmp"`
	// Timeout per check (default 1s).
	Timeout Duration `yaml:"timeout"`
}

// HardwareAddr is a MAC address (or SecureOn password) written as
// "aa:bb:cc:dd:ee:ff".
type HardwareAddr net.HardwareAddr

// UnmarshalText parses a 6-byte hardware address.
func (h *HardwareAddr) UnmarshalText(b []byte) error {
	mac, err := net.ParseMAC(string(b))
	if err != nil {
		return err
	}
	if len(mac) != 6 {
		return errNotEUI48
	}
	*h = HardwareAddr(mac)
	return nil
}

// String formats the address as aa:bb:cc:dd:ee:ff ("" when unset).
func (h HardwareAddr) String() string {
	if len(h) == 0 {
		return ""
	}
	return net.HardwareAddr(h).String()
}

// Duration is a time.Duration written as a Go duration string ("5s", "500ms").
type Duration time.Duration

// UnmarshalText parses a Go duration string; negative durations are rejected.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	if v < 0 {
		return errNegativeDuration
	}
	*d = Duration(v)
	return nil
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// DurationPtr is a convenience for defaults of optional durations.
func DurationPtr(d time.Duration) *Duration { v := Duration(d); return &v }

// Privilege is an IPMI privilege level as the configuration names it: the
// most a node's BMC user may do. The IPMI face enforces it per command;
// Redfish and the HTTP API give the credentials the matching role
// (account.FromIPMIPrivilege).
type Privilege string

// Privilege levels (IPMI v2.0 section 6.8), lowest first.
const (
	PrivilegeCallback      Privilege = "callback"
	PrivilegeUser          Privilege = "user"
	PrivilegeOperator      Privilege = "operator"
	PrivilegeAdministrator Privilege = "administrator"
)

// MarshalText writes the level's name.
func (p Privilege) MarshalText() ([]byte, error) { return []byte(p), nil }

// UnmarshalText reads a level's name; an empty one is unset (the default
// applies).
func (p *Privilege) UnmarshalText(b []byte) error {
	switch v := Privilege(b); v {
	case "", PrivilegeCallback, PrivilegeUser, PrivilegeOperator, PrivilegeAdministrator:
		*p = v
		return nil
	}
	return &choiceError{want: "callback, user, operator or administrator", got: string(b)}
}

// choiceError is a value outside a fixed vocabulary. Its message names the
// choices and the value, so the decoder reports it as it is.
type choiceError struct{ want, got string }

func (e *choiceError) Error() string { return fmt.Sprintf("want %s, got %q", e.want, e.got) }
