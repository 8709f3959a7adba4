package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/powerjockey/powerjockey/pkg/httpapi"
)

// Logger returns the daemon's logger.
func (d *Daemon) Logger() *slog.Logger { return d.log }

// RunServers runs the daemon's TCP servers (the operator HTTP server and,
// when configured, Redfish) until ctx ends or one fails. The first error
// stops the others and is returned; a server that is switched off returns
// nil at once and the others keep serving.
func (d *Daemon) RunServers(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	servers := []func(context.Context) error{d.ServeHTTP, d.ServeRedfish}
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
	srv := &http.Server{
		Handler:           httpapi.New(d, d.log),
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
