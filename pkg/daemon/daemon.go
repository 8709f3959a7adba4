// Package daemon assembles powerjockey from its configuration: PDU
// clients, Wake-on-LAN senders, nodes and their IPMI endpoints, metrics and
// the operator's HTTP server. It also applies a reloaded configuration
// without disturbing what did not change.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	mwol "github.com/mdlayher/wol"

	"github.com/powerjockey/powerjockey/pkg/boot"
	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/pkg/connlimit"
	"github.com/powerjockey/powerjockey/pkg/console"
	"github.com/powerjockey/powerjockey/pkg/ipmi"
	"github.com/powerjockey/powerjockey/pkg/metrics"
	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power/pdu"
	"github.com/powerjockey/powerjockey/pkg/power/wol"
)

// Daemon is a running powerjockey.
type Daemon struct {
	log     *slog.Logger
	metrics *metrics.Metrics
	ipmi    *ipmi.Manager
	guard   *ipmi.Guard
	store   *node.Store
	lock    *Lock
	sampler *sampler

	wolClient  *mwol.Client
	rawSenders map[string]*wol.RawSender
	// imageClient fetches virtual media images; mediaChecker checks them
	// before they are inserted (boot.go).
	imageClient  *http.Client
	mediaChecker *boot.Checker

	// mu guards the configuration-derived state below; it is held for a
	// whole reload so readers see the old or the new set, never a mix.
	mu    sync.RWMutex
	ctx   context.Context
	cfg   *config.Config
	pdus  map[string]*pdu.Client
	nodes map[string]*nodeEntry
	// listeners are the running TCP servers' listeners, by server name;
	// their connection caps follow the file descriptor budget.
	listeners map[string]*connlimit.Listener
}

type nodeEntry struct {
	node *node.Node
	cfg  config.Node
	feed *pdu.Feed
	// console is the node's serial console (nil without one); stopConsole
	// closes it.
	console     *console.Console
	stopConsole func()
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
	wc, err := mwol.NewClient()
	if err != nil {
		lock.Unlock()
		return nil, fmt.Errorf("wake-on-lan socket: %w", err)
	}
	m := metrics.New()
	d := &Daemon{
		log:         log,
		metrics:     m,
		store:       store,
		lock:        lock,
		sampler:     newSampler(),
		wolClient:   wc,
		rawSenders:  map[string]*wol.RawSender{},
		imageClient: boot.NewImageClient(),
		cfg:         cfg,
		pdus:        map[string]*pdu.Client{},
		nodes:       map[string]*nodeEntry{},
		listeners:   map[string]*connlimit.Listener{},
	}
	d.mediaChecker = &boot.Checker{Client: d.imageClient}
	d.guard = ipmi.NewGuard(guardConfig(cfg))
	d.ipmi = ipmi.NewManager(d.guard, m, log)
	m.SetState(d)
	return d, nil
}

func guardConfig(cfg *config.Config) ipmi.GuardConfig {
	g := ipmi.DefaultGuardConfig()
	g.AuthFailuresPerMinute = cfg.IPMI.AuthFailuresPerMinute
	return g
}

// Start builds every PDU client, node and endpoint. If any endpoint cannot
// start (an address in use, say), everything started is stopped again and
// the error returned: a daemon that serves only some nodes would hide it.
func (d *Daemon) Start(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ctx = ctx
	go d.guard.Run(ctx)
	go d.sampler.run(ctx)
	for _, p := range d.cfg.PDUs {
		c, err := newPDUClient(p, d.log, d.metrics)
		if err != nil {
			d.stopAllLocked()
			return err
		}
		d.pdus[p.Name] = c
	}
	if err := d.detectPDUs(ctx, d.cfg.PDUs); err != nil {
		d.stopAllLocked()
		return err
	}
	// Build every node (loading its state) before serving any, so that a
	// bad state file stops the start before a single endpoint answered.
	entries := make([]*nodeEntry, 0, len(d.cfg.Nodes))
	for _, n := range d.cfg.Nodes {
		e, err := d.newNode(ctx, n)
		if err != nil {
			for _, e := range entries {
				e.release()
			}
			d.stopAllLocked()
			return err
		}
		entries = append(entries, e)
	}
	for i, e := range entries {
		if err := d.startEndpoint(ctx, e); err != nil {
			for _, rest := range entries[i+1:] {
				rest.release()
			}
			d.stopAllLocked()
			return err
		}
		d.nodes[e.cfg.Name] = e
	}
	d.sampleNew(entries)
	// Parsing and building left garbage (YAML trees, JSON) that the daemon
	// will not need again: hand it back to the OS now rather than keeping
	// the start-up peak as resident memory for the daemon's lifetime.
	debug.FreeOSMemory()
	d.log.Info("powerjockey serving", "nodes", len(d.nodes), "pdus", len(d.pdus), "state_dir", d.cfg.StateDir)
	d.applyFDBudgetLocked()
	return nil
}

// Stop stops every endpoint and node and releases sockets.
func (d *Daemon) Stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopAllLocked()
	d.wolClient.Close()
	for _, s := range d.rawSenders {
		s.Close()
	}
	d.lock.Unlock()
}

func (d *Daemon) stopAllLocked() {
	for name, e := range d.nodes {
		d.stopNode(e)
		delete(d.nodes, name)
	}
	for name, c := range d.pdus {
		c.Close()
		delete(d.pdus, name)
	}
}

// Reload applies cfg: nodes whose configuration (and PDU) did not change
// keep their endpoint and its sessions; changed nodes are rebuilt, removed
// ones stopped, added ones started. If a new endpoint cannot start, the
// error is returned and reported, and the rest of the new configuration
// stays applied.
func (d *Daemon) Reload(cfg *config.Config) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.cfg
	if cfg.StateDir != old.StateDir {
		return errors.New("state_dir cannot change on reload; restart the daemon")
	}
	globalChanged := !reflect.DeepEqual(old.IPMI, cfg.IPMI)
	changedPDUs := map[string]bool{}
	oldPDUs := map[string]config.PDU{}
	for _, p := range old.PDUs {
		oldPDUs[p.Name] = p
	}
	newPDUs := map[string]config.PDU{}
	for _, p := range cfg.PDUs {
		newPDUs[p.Name] = p
		if op, ok := oldPDUs[p.Name]; !ok || !reflect.DeepEqual(op, p) {
			changedPDUs[p.Name] = true
		}
	}
	for name := range oldPDUs {
		if _, ok := newPDUs[name]; !ok {
			changedPDUs[name] = true
		}
	}
	d.cfg = cfg

	wanted := map[string]config.Node{}
	for _, n := range cfg.Nodes {
		wanted[n.Name] = n
	}
	var stopped, kept []string
	for name, e := range d.nodes {
		n, ok := wanted[name]
		if ok && !globalChanged && reflect.DeepEqual(e.cfg, n) && (n.PDU == nil || !changedPDUs[n.PDU.Name]) {
			kept = append(kept, name)
			continue
		}
		d.stopNode(e)
		delete(d.nodes, name)
		stopped = append(stopped, name)
	}
	var reloaded []config.PDU
	for name := range changedPDUs {
		if c := d.pdus[name]; c != nil {
			c.Close()
			delete(d.pdus, name)
		}
		if p, ok := newPDUs[name]; ok {
			c, err := newPDUClient(p, d.log, d.metrics)
			if err != nil {
				return err
			}
			d.pdus[name] = c
			reloaded = append(reloaded, p)
		}
	}
	// A refused PDU is reported; its nodes start and fail their actions
	// with the same error.
	detectErr := d.detectPDUs(d.ctx, reloaded)
	var errs []error
	var started []string
	var entries []*nodeEntry
	for _, n := range cfg.Nodes {
		if _, running := d.nodes[n.Name]; running {
			continue
		}
		e, err := d.startNode(d.ctx, n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d.nodes[n.Name] = e
		started = append(started, n.Name)
		entries = append(entries, e)
	}
	d.sampleNew(entries)
	slices.Sort(stopped)
	slices.Sort(started)
	d.log.Info("configuration reloaded", "kept", len(kept), "stopped", stopped, "started", started)
	d.applyFDBudgetLocked()
	return errors.Join(append([]error{detectErr}, errs...)...)
}

// sampleNew has the sampler read started nodes in the background, in
// groups by PDU.
func (d *Daemon) sampleNew(entries []*nodeEntry) {
	byKey := map[string]*sampleGroup{}
	var groups []*sampleGroup
	for _, e := range entries {
		key := ""
		if e.feed != nil {
			key = "pdu " + e.feed.Client().Name()
		}
		g := byKey[key]
		if g == nil {
			g = &sampleGroup{key: key, every: e.cfg.Status.SampleInterval.D()}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.nodes = append(g.nodes, e.node)
	}
	out := make([]sampleGroup, len(groups))
	for i, g := range groups {
		out[i] = *g
	}
	d.sampler.add(time.Now(), out)
}

// Node returns the named node, or nil.
func (d *Daemon) Node(name string) *node.Node {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if e, ok := d.nodes[name]; ok {
		return e.node
	}
	return nil
}

// Nodes returns every node, ordered by name.
func (d *Daemon) Nodes() []*node.Node {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]*node.Node, 0, len(d.nodes))
	for _, e := range d.nodes {
		out = append(out, e.node)
	}
	slices.SortFunc(out, func(a, b *node.Node) int {
		if a.Name() < b.Name() {
			return -1
		}
		if a.Name() > b.Name() {
			return 1
		}
		return 0
	})
	return out
}

// Snapshots implements metrics.State.
func (d *Daemon) Snapshots() []node.Snapshot {
	nodes := d.Nodes()
	out := make([]node.Snapshot, len(nodes))
	for i, n := range nodes {
		out[i] = n.Snapshot()
	}
	return out
}

// IPMISessions implements metrics.State.
func (d *Daemon) IPMISessions() int { return d.ipmi.Sessions() }

// Config returns the configuration in effect.
func (d *Daemon) Config() *config.Config {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.cfg
}

// Metrics returns the daemon's metrics.
func (d *Daemon) Metrics() *metrics.Metrics { return d.metrics }

// IPMI returns the endpoint manager (tests use it to find bound ports).
func (d *Daemon) IPMI() *ipmi.Manager { return d.ipmi }
