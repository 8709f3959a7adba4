package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/powerjockey/powerjockey/pkg/internal/localca"
	"github.com/powerjockey/powerjockey/pkg/redfish"
)

// serveRedfish serves the Redfish service on redfish.listen until ctx
// ends; it returns nil at once when Redfish is not configured. HTTPS with
// the configured certificate, or a leaf signed by a CA generated into
// state_dir (pkg/internal/localca), both kept current while serving; plain HTTP only
// with insecure_http. The redfish section is read once: changing it
// needs a restart.
func (d *Daemon) serveRedfish(ctx context.Context) error {
	cfg := d.inv.Config()
	rc := cfg.Redfish
	if rc.Listen == "" {
		return nil
	}
	dir := filepath.Join(cfg.StateDir, "redfish")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("redfish: %w", err)
	}
	uuid, err := redfish.LoadServiceUUID(dir)
	if err != nil {
		return fmt.Errorf("redfish: %w", err)
	}
	var tlsConfig *tls.Config
	if !rc.InsecureHTTP {
		certs, err := localca.NewStore("redfish", dir, localca.Source{Listen: rc.Listen, TLSCert: rc.TLSCert, TLSKey: rc.TLSKey}, d.log, time.Now)
		if err != nil {
			return fmt.Errorf("redfish: %w", err)
		}
		go certs.Run(ctx)
		tlsConfig = certs.TLSConfig()
	}
	ln, err := d.listen("redfish", rc.Listen)
	if err != nil {
		return fmt.Errorf("redfish: %w", err)
	}
	defer d.forget("redfish", ln)
	svc := redfish.New(d.inv.Redfish(), redfish.Options{
		ServiceUUID:           uuid,
		AuthFailuresPerMinute: cfg.IPMI.AuthFailuresPerMinute,
		Logger:                d.log,
	})
	srv := newServer(svc, ln, d.log)
	srv.TLSConfig = tlsConfig
	scheme := "https"
	if tlsConfig == nil {
		scheme = "http"
		d.log.Warn("redfish serving plain HTTP (insecure_http): credentials cross the network in clear text")
	}
	d.log.Info("redfish serving", "listen", ln.Addr().String(), "scheme", scheme, "max_connections", ln.Stats().Max,
		"max_connections_per_source", ln.Stats().PerSource)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
		case <-done:
			return
		}
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
		return fmt.Errorf("redfish: %w", err)
	}
	return nil
}
