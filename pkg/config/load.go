package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Defaults that the documentation promises; tests pin them.
const (
	DefaultStateDir         = "/var/lib/powerjockey"
	DefaultHTTPListen       = "127.0.0.1:9623"
	DefaultMaxSessions      = 32
	DefaultSessionTimeout   = 60 * time.Second
	DefaultAuthFailures     = 30
	DefaultSNMPPort         = 161
	DefaultSNMPTimeout      = time.Second
	DefaultSNMPRetries      = 2
	DefaultCacheTTL         = 2 * time.Second
	DefaultStagger          = time.Second
	DefaultVerifyTimeout    = 5 * time.Second
	DefaultWoLTarget        = "255.255.255.255:9"
	DefaultWoLRepeat        = 3
	DefaultWoLInterval      = time.Second
	DefaultOnDelayPDUAndWoL = 5 * time.Second
	DefaultCycleDelay       = 5 * time.Second
	DefaultExecTimeout      = 30 * time.Second
	DefaultWattsOn          = 15.0
	DefaultStatusMaxAge     = 2 * time.Second
	// DefaultSampleInterval is MeterBucket in pkg/node: one reading per
	// bucket of the meter history.
	DefaultSampleInterval = 15 * time.Second
	DefaultProbeTimeout   = time.Second

	// Connection caps of the TCP servers: what an operator, a Prometheus
	// and a browser need of the HTTP API, and what a few Ironic
	// conductors (sushy keeps up to 10 connections per conductor) need
	// of Redfish, with room to spare.
	DefaultHTTPMaxConnections             = 64
	DefaultHTTPMaxConnectionsPerSource    = 16
	DefaultRedfishMaxConnections          = 256
	DefaultRedfishMaxConnectionsPerSource = 32
	// MaxConnectionsLimit bounds the configurable caps.
	MaxConnectionsLimit = 100000
)

// DefaultCipherSuites are the RMCP+ suites offered unless configured: the
// two with authentication, integrity and confidentiality (HMAC-SHA1 and
// HMAC-SHA256 with AES-CBC-128), which every client Ironic uses speaks.
// 1 and 15 (no integrity) and 2 and 16 (no confidentiality) are offered
// only when listed; 0 (no authentication) is never a default.
var DefaultCipherSuites = []int{3, 17}

// DefaultV15AuthTypes are the IPMI v1.5 authentication types accepted
// unless configured. Straight password sends the password in clear text,
// so it is opt-in.
var DefaultV15AuthTypes = []string{"md5"}

// Load reads, decodes, defaults and validates the file at path, resolving
// secret files. The returned error is an [Errors] listing every problem.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o004 != 0 && cfg.hasInlineSecrets() {
		cfg.Warnings = append(cfg.Warnings, &Error{File: path, Msg: fmt.Sprintf(
			"file is world-readable (mode %04o) and holds passwords; chmod 0640 it or move secrets to *_file keys", st.Mode().Perm())})
	}
	return cfg, nil
}

// Parse decodes, defaults and validates data, naming it file in errors.
// Relative secret-file paths are resolved against the file's directory.
func Parse(file string, data []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Errors{syntaxError(file, err)}
	}
	cfg := &Config{Path: file}
	d := &decoder{file: file, pos: map[string]position{}}
	switch {
	case len(root.Content) == 0:
		d.errs = append(d.errs, &Error{File: file, Msg: "file is empty"})
	default:
		d.decode(root.Content[0], reflect.ValueOf(cfg).Elem(), "")
	}
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	v := &validator{decoder: d, cfg: cfg, dir: filepath.Dir(file)}
	v.applyDefaults()
	v.validate()
	if len(v.errs) > 0 {
		return nil, v.errs
	}
	cfg.Warnings = append(cfg.Warnings, v.warnings...)
	return cfg, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlParserProblems are the problems yaml.v3's parser (as opposed to its
// scanner) reports. yaml.v3 prints the 0-based line of these, and no line at
// all when it is 0; scanner errors carry the right 1-based line.
var yamlParserProblems = []string{
	"did not find expected ",
	"found duplicate %TAG directive",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
	"found undefined tag handle",
}

func syntaxError(file string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	for _, p := range yamlParserProblems {
		if strings.HasPrefix(msg, p) && !isScannerProblem(msg) {
			line++
			break
		}
	}
	return &Error{File: file, Line: line, Msg: "YAML syntax: " + msg}
}

// isScannerProblem reports the scanner's "did not find expected ..." problems,
// which share a prefix with the parser's.
func isScannerProblem(msg string) bool {
	switch msg {
	case "did not find expected alphabetic or numeric character",
		"did not find expected comment or line break",
		"did not find expected digit or '.' character",
		"did not find expected hexdecimal number",
		"did not find expected version number",
		"did not find expected whitespace or line break",
		"did not find expected whitespace":
		return true
	}
	return false
}

func (c *Config) hasInlineSecrets() bool {
	for _, n := range c.Nodes {
		if n.IPMI.Password != "" && n.IPMI.PasswordFile == "" {
			return true
		}
	}
	for _, t := range c.HTTP.Tokens {
		if t.Token != "" && t.TokenFile == "" {
			return true
		}
	}
	if c.HTTP.MetricsToken != "" && c.HTTP.MetricsTokenFile == "" {
		return true
	}
	for _, p := range c.PDUs {
		if p.SNMP.Community != "" || p.SNMP.CommunityWrite != "" ||
			(p.SNMP.AuthPassphrase != "" && p.SNMP.AuthPassphraseFile == "") ||
			(p.SNMP.PrivPassphrase != "" && p.SNMP.PrivPassphraseFile == "") {
			return true
		}
	}
	return false
}

// readSecret reads a secret file, dropping one trailing newline (editors
// add one; a password never ends in one).
func readSecret(path string) (string, os.FileMode, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", 0, err
	}
	if !st.Mode().IsRegular() {
		return "", 0, errors.New("not a regular file")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", 0, err
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	return s, st.Mode().Perm(), nil
}
