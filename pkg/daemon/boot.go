package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/powerjockey/powerjockey/pkg/boot"
)

// serveBoot serves the boot endpoint on boot.listen until ctx ends; it
// returns nil at once when the endpoint is off. The boot section is read
// once: changing it needs a restart.
func (d *Daemon) serveBoot(ctx context.Context) error {
	cfg := d.inv.Config()
	if cfg.Boot.Listen == "" {
		return nil
	}
	ln, err := d.listen("boot", cfg.Boot.Listen)
	if err != nil {
		return fmt.Errorf("boot endpoint: %w", err)
	}
	defer d.forget("boot", ln)
	srv := newServer(boot.NewServer(d.inv.BootEndpoint(), boot.Options{
		Redirect: cfg.Boot.Media == "redirect",
		Client:   d.inv.ImageClient(),
		Logger:   d.log.With("component", "boot"),
	}), ln, d.log)
	// An image is streamed for as long as the machine reads it (a whole
	// image without Range, by UEFI HTTP boot or curl): no write timeout.
	srv.WriteTimeout = 0
	d.log.Info("boot endpoint serving", "listen", ln.Addr().String(), "script", "http://"+ln.Addr().String()+boot.ScriptPath,
		"max_connections", ln.Stats().Max, "max_connections_per_source", ln.Stats().PerSource)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("boot endpoint: %w", err)
	}
	return nil
}
