package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/powerjockey/powerjockey/pkg/httpapi"
	"github.com/powerjockey/powerjockey/pkg/internal/audit"
	"github.com/powerjockey/powerjockey/pkg/internal/connlimit"
	"github.com/powerjockey/powerjockey/pkg/metrics"
)

// RunServers runs the daemon's TCP servers (the operator HTTP server and,
// when configured, Redfish and the boot endpoint) until ctx ends or one
// fails. The first error stops the others and is returned; a server that
// is switched off returns nil at once and the others keep serving.
func (d *Daemon) RunServers(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	servers := []func(context.Context) error{d.serveAPI, d.serveRedfish, d.serveBoot}
	errc := make(chan error, len(servers))
	for _, serve := range servers {
		go func() { errc <- serve(ctx) }()
	}
	var first error
	for range servers {
		if err := <-errc; err != nil && first == nil {
			first = err
			cancel()
		}
	}
	return first
}

// serveAPI serves the operator HTTP API, metrics and live page on
// http.listen until ctx ends; it returns nil at once when HTTP is off.
func (d *Daemon) serveAPI(ctx context.Context) error {
	cfg := d.inv.Config()
	addr := cfg.HTTP.Listen
	if addr == "off" {
		return nil
	}
	// Beyond loopback the configuration guarantees HTTPS and credentials
	// (config.validateHTTPAccess); here they are put in place.
	tlsConfig, err := d.httpTLS(ctx, cfg, addr)
	if err != nil {
		return err
	}
	ln, err := d.listen("http", addr)
	if err != nil {
		return err
	}
	defer d.forget("http", ln)
	var h http.Handler = httpapi.NewWithOptions(d.inv.HTTP(), httpapi.Options{Logger: d.log, Auth: d.httpAuth, Metrics: d.metrics.Registry})
	if ip := net.ParseIP(ln.Addr().(*net.TCPAddr).IP.String()); ip != nil && ip.IsLoopback() {
		h = loopbackHostsOnly(h, d.log)
	}
	srv := newServer(h, ln, d.log)
	srv.TLSConfig = tlsConfig
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	d.log.Info("http serving", "listen", ln.Addr().String(), "scheme", scheme, "auth", httpAuthSummary(cfg.HTTP),
		"max_connections", ln.Stats().Max, "max_connections_per_source", ln.Stats().PerSource)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if tlsConfig != nil {
		err = srv.ServeTLS(ln, "", "")
	} else {
		err = srv.Serve(ln)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Timeouts and sizes of the TCP servers (HTTP and Redfish). net/http
// bounds the TLS handshake by the shortest of its timeouts, which is
// ReadHeaderTimeout: a connection that has not completed its handshake and
// sent a request's headers within it is closed.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	// writeTimeout counts from the request's headers, so it includes the
	// handler: a power action waits for the PDU (its SNMP timeout ×
	// retries) before answering.
	writeTimeout   = 2 * time.Minute
	idleTimeout    = 60 * time.Second
	maxHeaderBytes = 64 << 10
)

// listen opens a TCP listener for server ("http", "redfish", "boot") with the
// connection caps the file descriptor budget allows, and registers it for
// the metrics and for reloads, which resize the caps.
func (d *Daemon) listen(server, addr string) (*connlimit.Listener, error) {
	inner, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	b := newFDBudget(d.inv.Config(), fileLimit())
	lim := b.http
	switch server {
	case "redfish":
		lim = b.redfish
	case "boot":
		lim = b.boot
	}
	ln := connlimit.New(inner, server, lim, d.log)
	d.listeners[server] = ln
	d.metrics.SetListener(server, func() metrics.ListenerStats {
		s := ln.Stats()
		return metrics.ListenerStats{Open: s.Open, Max: s.Max, MaxPerSource: s.PerSource, Refused: s.Refused, Evicted: s.Evicted}
	})
	return ln, nil
}

// forget unregisters a listener whose server stopped.
func (d *Daemon) forget(server string, ln *connlimit.Listener) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.listeners[server] == ln {
		delete(d.listeners, server)
		d.metrics.SetListener(server, nil)
	}
}

// applyFDBudget logs how the file descriptor limit is shared out for the
// configuration in effect and resizes the running listeners' caps.
func (d *Daemon) applyFDBudget() {
	d.mu.Lock()
	defer d.mu.Unlock()
	cfg := d.inv.Config()
	b := newFDBudget(cfg, fileLimit())
	attrs := []any{"limit", b.limit, "reserved", b.reserved, "nodes", len(cfg.Nodes), "pdus", len(cfg.PDUs)}
	if cfg.HTTP.Listen != "off" {
		attrs = append(attrs, "http_max_connections", b.http.Max)
	}
	if cfg.Redfish.Listen != "" {
		attrs = append(attrs, "redfish_max_connections", b.redfish.Max)
	}
	if cfg.Boot.Listen != "" {
		attrs = append(attrs, "boot_max_connections", b.boot.Max)
	}
	if len(b.lowered) > 0 {
		d.log.Warn("file descriptor limit too low for the configured connection caps: lowered so that IPMI, PDUs and state files keep theirs; raise LimitNOFILE",
			append(attrs, "lowered", b.lowered)...)
	} else {
		d.log.Info("file descriptor budget", attrs...)
	}
	if int64(b.limit) < int64(b.reserved)+2 {
		d.log.Error("file descriptor limit below what the nodes and PDUs need: expect \"too many open files\"; raise LimitNOFILE",
			"limit", b.limit, "needed", b.reserved+2)
	}
	if ln := d.listeners["http"]; ln != nil {
		ln.SetLimits(b.http)
	}
	if ln := d.listeners["redfish"]; ln != nil {
		ln.SetLimits(b.redfish)
	}
	if ln := d.listeners["boot"]; ln != nil {
		ln.SetLimits(b.boot)
	}
}

// newServer is an http.Server for a capped listener, with the timeouts
// and header size above.
func newServer(h http.Handler, ln *connlimit.Listener, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ConnState:         ln.ConnState,
		// TLS handshake failures of scanners and of clients that do not
		// trust the certificate, and connections cut at a cap, are noise
		// at the default level.
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// loopbackHostsOnly refuses requests whose Host is not a loopback name or
// address. A server on 127.0.0.1 is only for this machine; a Host of some
// DNS name means a browser was led there by DNS rebinding, which would let
// any web page read the API and press its power buttons.
func loopbackHostsOnly(next http.Handler, log *slog.Logger) http.Handler {
	refusals := audit.New(log, "http", audit.Options{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.Trim(host, "[]")
		if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || strings.EqualFold(host, "localhost") {
			next.ServeHTTP(w, r)
			return
		}
		refusals.Write(r.Context(), slog.LevelWarn, "http request refused: Host is not a loopback name (DNS rebinding?)", r.RemoteAddr, "",
			"host", r.Host)
		http.Error(w, "misdirected request: this server answers only loopback host names", http.StatusMisdirectedRequest)
	})
}
