// Package daemon runs powerjockey: the inventory (pkg/inventory: PDU
// clients, Wake-on-LAN senders, nodes) with the faces in front of it (one
// IPMI endpoint per node, the operator's HTTP server, Redfish and the boot
// endpoint), the metrics, and the lock on the state directory. It sizes the
// servers' connection caps from the file descriptor limit and applies a
// reloaded configuration to the inventory and the caps.
package daemon

import (
	"context"
	"log/slog"
	"sync"

	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/pkg/internal/connlimit"
	"github.com/powerjockey/powerjockey/pkg/inventory"
	"github.com/powerjockey/powerjockey/pkg/ipmi"
	"github.com/powerjockey/powerjockey/pkg/metrics"
	"github.com/powerjockey/powerjockey/pkg/node"
)

// Daemon is a running powerjockey.
type Daemon struct {
	log     *slog.Logger
	metrics *metrics.Metrics
	ipmi    *ipmi.Manager
	guard   *ipmi.Guard
	lock    *Lock
	inv     *inventory.Inventory

	// mu guards listeners: the running TCP servers' listeners, by server
	// name; their connection caps follow the file descriptor budget.
	mu        sync.Mutex
	listeners map[string]*connlimit.Listener
}

// New prepares a daemon for cfg and takes the state directory's lock;
// Start brings it up, Stop releases everything.
func New(cfg *config.Config, log *slog.Logger) (*Daemon, error) {
	lock, err := LockStateDir(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	store, err := node.OpenStore(cfg.StateDir)
	if err != nil {
		lock.Unlock()
		return nil, err
	}
	m := metrics.New()
	d := &Daemon{
		log:       log,
		metrics:   m,
		lock:      lock,
		listeners: map[string]*connlimit.Listener{},
	}
	d.guard = ipmi.NewGuard(guardConfig(cfg))
	d.ipmi = ipmi.NewManager(d.guard, m, log)
	d.inv = inventory.New(cfg, store, inventory.Options{Logger: log, Observer: m, Endpoints: d.ipmi})
	m.SetState(d.inv, d.ipmi)
	return d, nil
}

func guardConfig(cfg *config.Config) ipmi.GuardConfig {
	g := ipmi.DefaultGuardConfig()
	g.AuthFailuresPerMinute = cfg.IPMI.AuthFailuresPerMinute
	return g
}

// Start builds the inventory and serves every node's IPMI endpoint. If any
// endpoint cannot start (an address in use, say), everything started is
// stopped again and the error returned. The TCP servers run in RunServers.
func (d *Daemon) Start(ctx context.Context) error {
	go d.guard.Run(ctx)
	if err := d.inv.Start(ctx); err != nil {
		return err
	}
	cfg := d.inv.Config()
	d.log.Info("powerjockey serving", "nodes", len(cfg.Nodes), "pdus", len(cfg.PDUs), "state_dir", cfg.StateDir)
	d.applyFDBudget()
	return nil
}

// Stop stops every endpoint and node, releases sockets and the lock.
func (d *Daemon) Stop() {
	d.inv.Close()
	d.lock.Unlock()
}

// Reload applies cfg: nodes whose configuration (and PDU) did not change
// keep their endpoint and its sessions; changed nodes are rebuilt, removed
// ones stopped, added ones started (inventory.Reload). The servers'
// connection caps follow the new configuration. An error is reported; the
// rest of the new configuration stays applied.
func (d *Daemon) Reload(cfg *config.Config) error {
	err := d.inv.Reload(cfg)
	d.applyFDBudget()
	return err
}

// Inventory is the daemon's PDUs and nodes.
func (d *Daemon) Inventory() *inventory.Inventory { return d.inv }

// Metrics returns the daemon's metrics.
func (d *Daemon) Metrics() *metrics.Metrics { return d.metrics }

// IPMI returns the endpoint manager (tests use it to find bound ports).
func (d *Daemon) IPMI() *ipmi.Manager { return d.ipmi }

// Logger returns the daemon's logger.
func (d *Daemon) Logger() *slog.Logger { return d.log }
