package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/powerjockey/powerjockey/pkg/boot"
	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/pkg/node"
)

// bootBackend serves the daemon's current nodes to the boot endpoint, read
// on every request like the Redfish backend.
type bootBackend struct{ d *Daemon }

func (b bootBackend) ByMAC(mac net.HardwareAddr) (boot.Node, boot.Settings, bool) {
	b.d.mu.RLock()
	defer b.d.mu.RUnlock()
	for _, e := range b.d.nodes {
		if len(e.cfg.MAC) > 0 && net.HardwareAddr(e.cfg.MAC).String() == mac.String() {
			return e.node, bootSettings(b.d.cfg, e.cfg), true
		}
	}
	return nil, boot.Settings{}, false
}

func (b bootBackend) ByName(name string) (boot.Node, bool) {
	b.d.mu.RLock()
	defer b.d.mu.RUnlock()
	if e, ok := b.d.nodes[name]; ok {
		return e.node, true
	}
	return nil, false
}

func bootSettings(c *config.Config, n config.Node) boot.Settings {
	up, def, disk := c.NodeBootSettings(n)
	return boot.Settings{Upstream: up, Default: def, Disk: disk}
}

// nodeBootConfig is how a node's machine takes part in the boot endpoint:
// whether it fetches its script, and the image checker of its virtual
// media (none without an endpoint).
func (d *Daemon) nodeBootConfig(n config.Node) node.BootConfig {
	bc := node.BootConfig{FetchesScript: d.cfg.FetchesBootScript(n)}
	if d.cfg.Boot.Listen != "" {
		bc.Media = d.mediaChecker
	}
	return bc
}

// ServeBoot serves the boot endpoint on boot.listen until ctx ends; it
// returns nil at once when the endpoint is off. The boot section is read
// once: changing it needs a restart.
func (d *Daemon) ServeBoot(ctx context.Context) error {
	cfg := d.Config()
	if cfg.Boot.Listen == "" {
		return nil
	}
	ln, err := d.listen("boot", cfg.Boot.Listen)
	if err != nil {
		return fmt.Errorf("boot endpoint: %w", err)
	}
	defer d.forget("boot", ln)
	srv := newServer(boot.NewServer(bootBackend{d}, boot.Options{
		Redirect: cfg.Boot.Media == "redirect",
		Client:   d.imageClient,
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
