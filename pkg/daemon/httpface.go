package daemon

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/powerjockey/powerjockey/pkg/account"
	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/pkg/httpapi"
	"github.com/powerjockey/powerjockey/pkg/internal/localca"
)

// What the operator HTTP server needs of the daemon beyond its nodes: who
// may log in (tokens, the nodes' BMC accounts) and its certificate. Kept
// apart from the server loop in http.go.

// httpAuth is the HTTP server's authentication for the configuration in
// effect (nil: none asked for). It is read per request, so a reload's
// tokens and passwords apply at once.
func (d *Daemon) httpAuth() *httpapi.Auth {
	cfg := d.inv.Config()
	return httpAuthFor(cfg)
}

func httpAuthFor(cfg *config.Config) *httpapi.Auth {
	h := cfg.HTTP
	if !h.AuthEnabled() {
		return nil
	}
	a := &httpapi.Auth{FailuresPerMinute: cfg.IPMI.AuthFailuresPerMinute}
	for _, t := range h.Tokens {
		a.Tokens = append(a.Tokens, httpapi.Token{Name: t.Name, Role: account.Role(t.Role), Hash: sha256.Sum256([]byte(t.Token))})
	}
	if h.Accounts {
		nodes := cfg.Nodes
		a.Grants = func() []account.Grant { return account.Grants(nodes) }
	}
	if h.MetricsToken != "" {
		sum := account.HashPassword(h.MetricsToken)
		a.MetricsToken = &sum
	}
	return a
}

// httpTLS returns the HTTP server's TLS configuration, nil for plain HTTP:
// the configured certificate, or a leaf from a CA generated into
// state_dir/http, kept current like Redfish's (pkg/internal/localca).
func (d *Daemon) httpTLS(ctx context.Context, cfg *config.Config, listen string) (*tls.Config, error) {
	if !cfg.HTTP.TLSEnabled() {
		return nil, nil
	}
	dir := filepath.Join(cfg.StateDir, "http")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	certs, err := localca.NewStore("http", dir, localca.Source{Listen: listen, TLSCert: cfg.HTTP.TLSCert, TLSKey: cfg.HTTP.TLSKey}, d.log, time.Now)
	if err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	go certs.Run(ctx)
	return certs.TLSConfig(), nil
}

// httpAuthSummary says how the HTTP server authenticates, for its log line.
func httpAuthSummary(h config.HTTP) string {
	var parts []string
	if len(h.Tokens) > 0 {
		parts = append(parts, fmt.Sprintf("%d tokens", len(h.Tokens)))
	}
	if h.Accounts {
		parts = append(parts, "node accounts")
	}
	if len(parts) == 0 {
		return "none (loopback)"
	}
	metrics := "metrics open"
	if h.MetricsToken != "" {
		metrics = "metrics token"
	}
	return strings.Join(append(parts, metrics), ", ")
}
