package config

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/powerjockey/powerjockey/pkg/power/pdu"
)

// validator applies defaults and checks cross-field rules, reporting each
// problem at the line of the key it concerns.
type validator struct {
	*decoder
	cfg      *Config
	dir      string
	warnings []*Error
}

// fail records an error for the key at path, located at that key's line (or
// the closest enclosing key that appears in the file).
func (v *validator) fail(path, format string, args ...any) {
	v.errs = append(v.errs, v.problem(path, format, args...))
}

func (v *validator) warn(path, format string, args ...any) {
	v.warnings = append(v.warnings, v.problem(path, format, args...))
}

func (v *validator) problem(path, format string, args ...any) *Error {
	e := &Error{File: v.file, Key: path, Msg: fmt.Sprintf(format, args...)}
	for p := path; p != ""; p = parent(p) {
		if pos, ok := v.pos[p]; ok {
			e.Line, e.Col = pos.line, pos.col
			break
		}
	}
	return e
}

func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

func (v *validator) applyDefaults() {
	c := v.cfg
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir
	}
	if c.IPMI.CipherSuites == nil {
		c.IPMI.CipherSuites = slices.Clone(DefaultCipherSuites)
	}
	if c.IPMI.V15AuthTypes == nil {
		types := slices.Clone(DefaultV15AuthTypes)
		c.IPMI.V15AuthTypes = &types
	}
	if c.IPMI.MaxSessions == 0 {
		c.IPMI.MaxSessions = DefaultMaxSessions
	}
	if c.IPMI.SessionTimeout == 0 {
		c.IPMI.SessionTimeout = Duration(DefaultSessionTimeout)
	}
	if c.IPMI.AuthFailuresPerMinute == 0 {
		c.IPMI.AuthFailuresPerMinute = DefaultAuthFailures
	}
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = DefaultHTTPListen
	}
	v.bootDefaults()
	if c.HTTP.MaxConnections == 0 {
		c.HTTP.MaxConnections = DefaultHTTPMaxConnections
	}
	if c.HTTP.MaxConnectionsPerSource == 0 {
		c.HTTP.MaxConnectionsPerSource = min(DefaultHTTPMaxConnectionsPerSource, max(c.HTTP.MaxConnections, 1))
	}
	if c.Redfish.MaxConnections == 0 {
		c.Redfish.MaxConnections = DefaultRedfishMaxConnections
	}
	if c.Redfish.MaxConnectionsPerSource == 0 {
		c.Redfish.MaxConnectionsPerSource = min(DefaultRedfishMaxConnectionsPerSource, max(c.Redfish.MaxConnections, 1))
	}
	for i := range c.PDUs {
		p := &c.PDUs[i]
		if p.Model == "" {
			p.Model = "auto"
		}
		if p.SNMP.Version == "" {
			p.SNMP.Version = "2c"
		}
		if p.SNMP.Timeout == 0 {
			p.SNMP.Timeout = Duration(DefaultSNMPTimeout)
		}
		if p.SNMP.Retries == nil {
			r := DefaultSNMPRetries
			p.SNMP.Retries = &r
		}
		if p.CacheTTL == 0 {
			p.CacheTTL = Duration(DefaultCacheTTL)
		}
		if p.Stagger == nil {
			p.Stagger = DurationPtr(DefaultStagger)
		}
		if p.VerifyTimeout == 0 {
			p.VerifyTimeout = Duration(DefaultVerifyTimeout)
		}
	}
	for i := range c.Nodes {
		n := &c.Nodes[i]
		if n.IPMI.Privilege == "" {
			n.IPMI.Privilege = PrivilegeAdministrator
		}
		if n.Fallback == "" {
			n.Fallback = "manual"
		}
		if n.WoL != nil {
			if n.WoL.Target == "" && n.WoL.Interface == "" {
				n.WoL.Target = DefaultWoLTarget
			}
			if n.WoL.Repeat == 0 {
				n.WoL.Repeat = DefaultWoLRepeat
			}
			if n.WoL.Interval == 0 {
				n.WoL.Interval = Duration(DefaultWoLInterval)
			}
		}
		if n.OnDelay == nil {
			d := time.Duration(0)
			if n.PDU != nil && n.WoL != nil {
				d = DefaultOnDelayPDUAndWoL
			}
			n.OnDelay = DurationPtr(d)
		}
		if n.CycleDelay == nil {
			n.CycleDelay = DurationPtr(DefaultCycleDelay)
		}
		if n.Exec != nil && n.Exec.Timeout == 0 {
			n.Exec.Timeout = Duration(DefaultExecTimeout)
		}
		if n.Status.Source == "" {
			n.Status.Source = "auto"
		}
		if n.Status.WattsOn == nil {
			w := DefaultWattsOn
			n.Status.WattsOn = &w
		}
		if n.Status.SampleInterval == 0 {
			n.Status.SampleInterval = Duration(DefaultSampleInterval)
		}
		if n.Status.MaxAge == 0 {
			n.Status.MaxAge = Duration(DefaultStatusMaxAge)
		}
		if n.Status.Probe != nil && n.Status.Probe.Timeout == 0 {
			n.Status.Probe.Timeout = Duration(DefaultProbeTimeout)
		}
		applyHardwareDefaults(n)
	}
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

func (v *validator) validate() {
	c := v.cfg
	if !filepath.IsAbs(c.StateDir) {
		v.fail("state_dir", "must be an absolute path, got %q", c.StateDir)
	}
	v.validateCipherSuites("ipmi.cipher_suites", c.IPMI.CipherSuites)
	for i, t := range *c.IPMI.V15AuthTypes {
		switch t {
		case "md5":
		case "password":
			v.warn(fmt.Sprintf("ipmi.v15_auth_types[%d]", i), "IPMI v1.5 straight-password authentication sends the password in clear text in every request: "+
				"anyone on the provisioning network reads it; use md5, or RMCP+ (ipmitool -I lanplus) and [] here")
		case "none":
			v.fail(fmt.Sprintf("ipmi.v15_auth_types[%d]", i), "authentication type none is never accepted")
		default:
			v.fail(fmt.Sprintf("ipmi.v15_auth_types[%d]", i), "unknown authentication type %q (want md5 or password)", t)
		}
	}
	if c.IPMI.MaxSessions < 1 || c.IPMI.MaxSessions > 63 {
		v.fail("ipmi.max_sessions", "must be between 1 and 63 (the IPMI session count field is 6 bits), got %d", c.IPMI.MaxSessions)
	}
	if c.IPMI.AuthFailuresPerMinute < -1 {
		v.fail("ipmi.auth_failures_per_minute", "must be -1 (unlimited) or positive")
	}
	if c.HTTP.Listen != "off" {
		if _, err := netip.ParseAddrPort(c.HTTP.Listen); err != nil {
			v.fail("http.listen", "want IP:port or \"off\", got %q", c.HTTP.Listen)
		}
	}
	if c.Redfish.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Redfish.Listen); err != nil {
			v.fail("redfish.listen", "want host:port, got %q", c.Redfish.Listen)
		}
		if (c.Redfish.TLSCert == "") != (c.Redfish.TLSKey == "") {
			v.fail("redfish", "tls_cert and tls_key go together")
		}
	}

	v.validateBoot()
	v.validateHTTPAccess()
	v.validateConnCaps("http", c.HTTP.MaxConnections, c.HTTP.MaxConnectionsPerSource)
	v.validateConnCaps("redfish", c.Redfish.MaxConnections, c.Redfish.MaxConnectionsPerSource)

	pdus := map[string]*PDU{}
	for i := range c.PDUs {
		v.validatePDU(fmt.Sprintf("pdus[%d]", i), &c.PDUs[i], pdus)
	}
	if len(c.Nodes) == 0 {
		v.fail("nodes", "at least one node is required")
	}
	names := map[string]string{}
	var listens []listenAt
	outlets := map[string]string{}
	for i := range c.Nodes {
		v.validateNode(fmt.Sprintf("nodes[%d]", i), &c.Nodes[i], pdus, names, &listens, outlets)
	}
}

// MinHTTPTokenLength is the shortest bearer token accepted: 16 characters
// of `openssl rand -base64 12` are 96 random bits.
const MinHTTPTokenLength = 16

// validateHTTPAccess checks who may reach the HTTP server and how. Its page
// and API switch power: a listener beyond loopback must serve HTTPS and
// ask for credentials, and is refused otherwise.
func (v *validator) validateHTTPAccess() {
	h := &v.cfg.HTTP
	if (h.TLSCert == "") != (h.TLSKey == "") {
		v.fail("http.tls_cert", "tls_cert and tls_key go together")
	}
	if h.TLS != nil && !*h.TLS && h.TLSCert != "" {
		v.fail("http.tls", "is false but tls_cert is given: remove one")
	}
	seen := map[string]bool{}
	for i := range h.Tokens {
		tp := fmt.Sprintf("http.tokens[%d]", i)
		tok := &h.Tokens[i]
		switch {
		case !nameRE.MatchString(tok.Name):
			v.fail(tp+".name", "want a name of letters, digits, '.', '_' or '-', got %q", tok.Name)
		case seen[tok.Name]:
			v.fail(tp+".name", "duplicate token name %q", tok.Name)
		}
		seen[tok.Name] = true
		switch strings.ToLower(tok.Role) {
		case "readonly":
			tok.Role = "ReadOnly"
		case "operator", "administrator":
			tok.Role = "Operator"
		default:
			v.fail(tp+".role", "want ReadOnly or Operator, got %q", tok.Role)
		}
		v.secret(tp+".token", &tok.Token, tok.TokenFile, tp+".token_file", true)
		if tok.Token != "" && len(tok.Token) < MinHTTPTokenLength {
			v.fail(secretKey(tp+".token", tok.TokenFile), "at least %d characters (e.g. openssl rand -base64 24), got %d", MinHTTPTokenLength, len(tok.Token))
		}
	}
	v.secret("http.metrics_token", &h.MetricsToken, h.MetricsTokenFile, "http.metrics_token_file", false)
	if h.MetricsToken != "" && len(h.MetricsToken) < MinHTTPTokenLength {
		v.fail(secretKey("http.metrics_token", h.MetricsTokenFile), "at least %d characters, got %d", MinHTTPTokenLength, len(h.MetricsToken))
	}
	if IsLoopbackListen(h.Listen) {
		return
	}
	if _, err := netip.ParseAddrPort(h.Listen); err != nil {
		return // reported by validate
	}
	if h.TLS != nil && !*h.TLS {
		v.fail("http.tls", "cannot be false: http.listen %s is not a loopback address, and the page's logins and tokens "+
			"must not cross the network in clear text (leave tls out for a generated certificate, or give tls_cert and tls_key)", h.Listen)
	}
	if !h.AuthEnabled() {
		v.fail("http.listen", "%s is not a loopback address: the page and API switch power, so they need authentication there: "+
			"add http.tokens (bearer tokens from files, role ReadOnly or Operator) or http.accounts: true (the nodes' BMC users log in), "+
			"or listen on 127.0.0.1", h.Listen)
	}
}

// validateConnCaps checks a server's connection caps (0 took the default).
func (v *validator) validateConnCaps(section string, max, perSource int) {
	if max < 1 || max > MaxConnectionsLimit {
		v.fail(section+".max_connections", "must be between 1 and %d, got %d", MaxConnectionsLimit, max)
	}
	switch {
	case perSource < 1:
		v.fail(section+".max_connections_per_source", "must be positive, got %d", perSource)
	case perSource > max && max >= 1:
		v.fail(section+".max_connections_per_source", "%d is more than max_connections (%d)", perSource, max)
	}
}

// weakSuites are the suites that are accepted but warned about: what an
// attacker on the provisioning network can do to a session that uses them.
var weakSuites = map[int]string{
	0:  "has no authentication: any password (or none) opens a session for a known user name (CVE-2013-4782)",
	1:  "has no integrity protection: commands in its sessions can be forged or altered on the wire (and no confidentiality)",
	15: "has no integrity protection: commands in its sessions can be forged or altered on the wire (and no confidentiality)",
}

func (v *validator) validateCipherSuites(path string, suites []int) {
	for i, s := range suites {
		switch s {
		case 0, 1, 2, 3, 15, 16, 17:
		default:
			v.fail(fmt.Sprintf("%s[%d]", path, i), "cipher suite %d is not supported (supported: 0, 1, 2, 3, 15, 16, 17)", s)
		}
		if slices.Index(suites, s) != i {
			v.fail(fmt.Sprintf("%s[%d]", path, i), "cipher suite %d listed twice", s)
		}
		if w := weakSuites[s]; w != "" {
			v.warn(fmt.Sprintf("%s[%d]", path, i), "cipher suite %d %s; offer it only for a client that cannot do 3 or 17", s, w)
		}
	}
	if len(suites) == 0 {
		v.fail(path, "at least one cipher suite is required")
	}
}

func (v *validator) validatePDU(path string, p *PDU, seen map[string]*PDU) {
	if !nameRE.MatchString(p.Name) {
		v.fail(path+".name", "want a name of letters, digits, '.', '_' or '-', got %q", p.Name)
	} else if seen[p.Name] != nil {
		v.fail(path+".name", "duplicate PDU name %q", p.Name)
	} else {
		seen[p.Name] = p
	}
	if p.Address == "" {
		v.fail(path+".address", "required (host or host:port)")
	} else if _, _, err := net.SplitHostPort(p.Address); err != nil {
		p.Address = net.JoinHostPort(strings.Trim(p.Address, "[]"), strconv.Itoa(DefaultSNMPPort))
	}
	if _, port, err := net.SplitHostPort(p.Address); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			v.fail(path+".address", "invalid port %q", port)
		}
	}
	if p.Model != "auto" {
		if _, ok := pdu.Lookup(p.Model); !ok {
			v.fail(path+".model", "unknown PDU model %q (known: %s)", p.Model, strings.Join(pdu.Names(), ", "))
		}
	}
	if p.Outlets < 0 {
		v.fail(path+".outlets", "must be positive")
	}
	s := &p.SNMP
	sp := path + ".snmp"
	switch s.Version {
	case "1", "2c":
		v.noPlaceholder(sp+".community", s.Community, "")
		v.noPlaceholder(sp+".community_read", s.CommunityRead, "")
		v.noPlaceholder(sp+".community_write", s.CommunityWrite, "")
		if s.CommunityRead == "" {
			s.CommunityRead = s.Community
		}
		if s.CommunityWrite == "" {
			s.CommunityWrite = s.Community
		}
		if s.CommunityRead == "" || s.CommunityWrite == "" {
			v.fail(sp+".community", "required for SNMP v%s (or community_read and community_write)", s.Version)
		}
		if s.User != "" || s.AuthProtocol != "" || s.PrivProtocol != "" {
			v.fail(sp+".user", "v3 settings given but version is %q", s.Version)
		}
	case "3":
		if s.Community != "" || s.CommunityRead != "" || s.CommunityWrite != "" {
			v.fail(sp+".community", "communities are for SNMP v1/v2c; version is 3")
		}
		if s.User == "" {
			v.fail(sp+".user", "required for SNMP v3")
		}
		v.secret(sp+".auth_passphrase", &s.AuthPassphrase, s.AuthPassphraseFile, sp+".auth_passphrase_file", false)
		v.secret(sp+".priv_passphrase", &s.PrivPassphrase, s.PrivPassphraseFile, sp+".priv_passphrase_file", false)
		if s.AuthProtocol != "" {
			if !slices.Contains([]string{"MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512"}, s.AuthProtocol) {
				v.fail(sp+".auth_protocol", "want MD5, SHA, SHA224, SHA256, SHA384 or SHA512, got %q", s.AuthProtocol)
			}
			if len(s.AuthPassphrase) < 8 {
				v.fail(secretKey(sp+".auth_passphrase", s.AuthPassphraseFile), "required with auth_protocol, at least 8 characters (RFC 3414)")
			}
		} else if s.AuthPassphrase != "" {
			v.fail(sp+".auth_protocol", "required with auth_passphrase")
		}
		if s.PrivProtocol != "" {
			if !slices.Contains([]string{"DES", "AES", "AES192", "AES256", "AES192C", "AES256C"}, s.PrivProtocol) {
				v.fail(sp+".priv_protocol", "want DES, AES, AES192, AES256, AES192C or AES256C, got %q", s.PrivProtocol)
			}
			if s.AuthProtocol == "" {
				v.fail(sp+".priv_protocol", "privacy needs authentication: set auth_protocol too")
			}
			if len(s.PrivPassphrase) < 8 {
				v.fail(secretKey(sp+".priv_passphrase", s.PrivPassphraseFile), "required with priv_protocol, at least 8 characters (RFC 3414)")
			}
		} else if s.PrivPassphrase != "" {
			v.fail(sp+".priv_protocol", "required with priv_passphrase")
		}
	default:
		v.fail(sp+".version", "want 1, 2c or 3, got %q", s.Version)
	}
	if *s.Retries < 0 || *s.Retries > 10 {
		v.fail(sp+".retries", "must be between 0 and 10")
	}
	if s.Timeout.D() > 30*time.Second {
		v.fail(sp+".timeout", "must be at most 30s: a power command waits for it")
	}
}

// secret resolves an inline secret or a *_file key; exactly one may be set
// when required.
func (v *validator) secret(path string, value *string, file, filePath string, required bool) {
	switch {
	case *value != "" && file != "":
		v.fail(filePath, "give either %s or %s, not both", lastKey(path), lastKey(filePath))
	case file != "":
		if !filepath.IsAbs(file) {
			file = filepath.Join(v.dir, file)
		}
		s, mode, err := readSecret(file)
		if err != nil {
			v.fail(filePath, "cannot read secret file: %v", err)
			return
		}
		if s == "" {
			v.fail(filePath, "secret file %s is empty", file)
		}
		if mode&0o004 != 0 {
			v.warn(filePath, "secret file %s is world-readable (mode %04o); chmod 0640 it", file, mode)
		}
		*value = s
		v.noPlaceholder(filePath, s, file)
	case required && *value == "":
		v.fail(path, "required (or %s)", lastKey(filePath))
	default:
		v.noPlaceholder(path, *value, "")
	}
}

// placeholderMarkers are what the sample files and documentation put where
// a secret belongs, compared without case and separators ("CHANGE-ME",
// "change_me", "ChangeMe").
var placeholderMarkers = []struct{ normalized, shown string }{
	{"changeme", "CHANGE-ME"},
	{"replaceme", "REPLACE-ME"},
	{"placeholder", "placeholder"},
}

// noPlaceholder refuses a secret that is still a placeholder: the sample
// /etc/powerjockey ships CHANGE-ME values, and a daemon (or an enrollment
// file) with them would accept a password anyone can read in this
// repository. The value itself is never shown, only the marker found in
// it; file is the secret's file, "" for an inline value.
func (v *validator) noPlaceholder(path, secret, file string) {
	norm := strings.Map(func(r rune) rune {
		switch r {
		case '-', '_', ' ', '.':
			return -1
		}
		return unicode.ToLower(r)
	}, secret)
	marker := ""
	for _, m := range placeholderMarkers {
		if strings.Contains(norm, m.normalized) {
			marker = m.shown
			break
		}
	}
	if marker == "" && len(secret) > 2 && strings.HasPrefix(secret, "<") && strings.HasSuffix(secret, ">") {
		marker = "<...>"
	}
	if marker == "" {
		return
	}
	if file != "" {
		v.fail(path, "secret file %s holds a placeholder (%s), not a secret: replace its content, e.g. openssl rand -base64 12 > %s", file, marker, file)
		return
	}
	hint := ""
	if !strings.Contains(lastKey(path), "community") {
		hint = fmt.Sprintf(" (or keep it in a file named by %s_file)", lastKey(path))
	}
	v.fail(path, "the value is a placeholder (%s), not a secret: set a real one%s", marker, hint)
}

// secretKey is the key a secret's value came from: path, or its *_file
// sibling when the secret was read from a file.
func secretKey(path, file string) string {
	if file != "" {
		return path + "_file"
	}
	return path
}

func lastKey(path string) string { return path[strings.LastIndex(path, ".")+1:] }

func (v *validator) validateNode(path string, n *Node, pdus map[string]*PDU, names map[string]string, listens *[]listenAt, outlets map[string]string) {
	if !nameRE.MatchString(n.Name) {
		v.fail(path+".name", "want a name of letters, digits, '.', '_' or '-', got %q", n.Name)
	} else if other, dup := names[n.Name]; dup {
		v.fail(path+".name", "duplicate node name %q (also %s)", n.Name, other)
	} else {
		names[n.Name] = path
	}

	ip := path + ".ipmi"
	if n.IPMI.Listen == "" {
		v.fail(ip+".listen", "required: the UDP address of this node's BMC, e.g. \"192.168.24.1:6230\"")
	} else if ap, err := netip.ParseAddrPort(n.IPMI.Listen); err != nil || ap.Port() == 0 {
		v.fail(ip+".listen", "want IP:port with a non-zero port, got %q", n.IPMI.Listen)
	} else {
		v.checkListenConflict(ip+".listen", ap, listens)
	}
	switch {
	case n.IPMI.Username == "":
		v.fail(ip+".username", "required (anonymous logins are not accepted)")
	case len(n.IPMI.Username) > 16:
		v.fail(ip+".username", "at most 16 bytes (IPMI limit), got %d", len(n.IPMI.Username))
	}
	v.secret(ip+".password", &n.IPMI.Password, n.IPMI.PasswordFile, ip+".password_file", true)
	if len(n.IPMI.Password) > 20 {
		v.fail(secretKey(ip+".password", n.IPMI.PasswordFile), "at most 20 bytes (IPMI v2.0 limit), got %d", len(n.IPMI.Password))
	}
	if n.IPMI.CipherSuites != nil {
		v.validateCipherSuites(ip+".cipher_suites", n.IPMI.CipherSuites)
	}
	if n.GUID != "" {
		if _, err := ParseGUID(n.GUID); err != nil {
			v.fail(path+".guid", "%v", err)
		}
	}

	if n.WoL != nil {
		wp := path + ".wol"
		if len(n.MAC) == 0 {
			v.fail(path+".mac", "required for Wake-on-LAN")
		}
		if n.WoL.Target != "" && n.WoL.Interface != "" {
			v.fail(wp+".interface", "give either target (UDP) or interface (raw Ethernet), not both")
		}
		if n.WoL.Target != "" {
			if _, port, err := net.SplitHostPort(n.WoL.Target); err != nil {
				v.fail(wp+".target", "want host:port, got %q", n.WoL.Target)
			} else if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
				v.fail(wp+".target", "invalid port %q", port)
			}
		}
		if n.WoL.Repeat < 1 || n.WoL.Repeat > 20 {
			v.fail(wp+".repeat", "must be between 1 and 20")
		}
	}
	if n.PDU != nil {
		v.validateNodePDU(path+".pdu", n.Name, n.PDU, pdus, outlets)
	}
	if n.Exec != nil && n.Exec.Timeout.D() > 10*time.Minute {
		v.fail(path+".exec.timeout", "must be at most 10m")
	}
	switch n.Fallback {
	case "manual", "error":
	default:
		v.fail(path+".fallback", "want manual or error, got %q", n.Fallback)
	}
	v.validateStatus(path, n)
	v.validateNodeBoot(path, n)
	v.validateHardware(path, n)
}

func (v *validator) validateNodePDU(path, node string, np *NodePDU, pdus map[string]*PDU, outlets map[string]string) {
	p := pdus[np.Name]
	if p == nil {
		known := make([]string, 0, len(pdus))
		for name := range pdus {
			known = append(known, name)
		}
		slices.Sort(known)
		v.fail(path+".name", "unknown PDU %q (defined: %s)", np.Name, strings.Join(known, ", "))
	}
	if len(np.Outlets) == 0 {
		v.fail(path+".outlets", "at least one outlet is required")
	}
	for i, o := range np.Outlets {
		op := fmt.Sprintf("%s.outlets[%d]", path, i)
		max := 1024
		if p != nil && p.Outlets > 0 {
			max = p.Outlets
		}
		if o < 1 || o > max {
			v.fail(op, "outlet %d out of range 1..%d", o, max)
			continue
		}
		key := fmt.Sprintf("%s/%d", np.Name, o)
		if owner, taken := outlets[key]; taken {
			if owner == node {
				v.fail(op, "outlet %d listed twice", o)
			} else {
				v.fail(op, "outlet %d of PDU %s already feeds node %s", o, np.Name, owner)
			}
			continue
		}
		outlets[key] = node
	}
}

func (v *validator) validateStatus(path string, n *Node) {
	sp := path + ".status"
	switch n.Status.Source {
	case "auto", "recorded":
	case "metering", "outlet":
		if n.PDU == nil {
			v.fail(sp+".source", "%s needs a pdu on this node", n.Status.Source)
		}
	case "probe":
		if n.Status.Probe == nil {
			v.fail(sp+".probe", "required when source is probe")
		}
	case "exec":
		if n.Exec == nil || n.Exec.Status == "" {
			v.fail(sp+".source", "exec needs exec.status on this node")
		}
	default:
		v.fail(sp+".source", "want auto, metering, outlet, probe, exec or recorded, got %q", n.Status.Source)
	}
	if *n.Status.WattsOn <= 0 {
		v.fail(sp+".watts_on", "must be positive")
	}
	if pr := n.Status.Probe; pr != nil {
		switch {
		case pr.TCP == "" && pr.ICMP == "":
			v.fail(sp+".probe", "give tcp (host:port) or icmp (host)")
		case pr.TCP != "" && pr.ICMP != "":
			v.fail(sp+".probe", "give either tcp or icmp, not both")
		case pr.TCP != "":
			if _, _, err := net.SplitHostPort(pr.TCP); err != nil {
				v.fail(sp+".probe.tcp", "want host:port, got %q", pr.TCP)
			}
		}
	}
}

// listenAt is an endpoint address already taken, and the key that took it.
type listenAt struct {
	ap   netip.AddrPort
	path string
}

// checkListenConflict rejects two endpoints that would bind the same UDP
// socket, including a wildcard address against a specific one on the same
// port. The earliest conflicting node is named, so the message is stable.
func (v *validator) checkListenConflict(path string, ap netip.AddrPort, listens *[]listenAt) {
	for _, other := range *listens {
		oap := other.ap
		if oap.Port() != ap.Port() {
			continue
		}
		if oap.Addr() == ap.Addr() || oap.Addr().IsUnspecified() || ap.Addr().IsUnspecified() {
			v.fail(path, "%s conflicts with %s (%s): each node needs its own port or address", ap, oap, other.path)
			return
		}
	}
	*listens = append(*listens, listenAt{ap, path})
}
