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
)

// Logger returns the daemon's logger.
func (d *Daemon) Logger() *slog.Logger { return d.log }

// RunServers runs the daemon's TCP servers (the operator HTTP server and,
// when configured, Redfish and the boot endpoint) until ctx ends or one fails. The first error
// stops the others and is returned; a server that is switched off returns
// nil at once and the others keep serving.
func (d *Daemon) RunServers(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	servers := []func(context.Context) error{d.ServeHTTP, d.ServeRedfish, d.ServeBoot}
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

// ServeHTTP serves the operator API, metrics and live page on http.listen
// until ctx ends; it returns nil at once when HTTP is off.
func (d *Daemon) ServeHTTP(ctx context.Context) error {
	addr := d.Config().HTTP.Listen
	if addr == "off" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	var h http.Handler = httpapi.New(d, d.log)
	if ip := net.ParseIP(ln.Addr().(*net.TCPAddr).IP.String()); ip != nil && ip.IsLoopback() {
		h = loopbackHostsOnly(h, d.log)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
	}
	d.log.Info("http serving", "listen", ln.Addr().String())
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// loopbackHostsOnly refuses requests whose Host is not a loopback name or
// address. A server on 127.0.0.1 is only for this machine; a Host of some
// DNS name means a browser was led there by DNS rebinding, which would let
// any web page read the API and press its power buttons.
func loopbackHostsOnly(next http.Handler, log *slog.Logger) http.Handler {
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
		log.Warn("http request refused: Host is not a loopback name (DNS rebinding?)", "host", r.Host, "remote", r.RemoteAddr)
		http.Error(w, "misdirected request: this server answers only loopback host names", http.StatusMisdirectedRequest)
	})
}
