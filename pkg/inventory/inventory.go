// Package inventory builds what a configuration describes and keeps it
// current: one SNMP client per PDU, the Wake-on-LAN senders, and every node
// with its power means, its persisted state, its serial console, its boot
// settings and its virtual media checker. It applies a reloaded
// configuration without disturbing what did not change, and answers the
// lookups the faces make, through the small interfaces each face defines
// (faces.go): the Redfish service's systems, the boot endpoint's machines,
// the HTTP API's nodes and PDUs, the metrics' snapshots.
//
// It serves nothing. pkg/daemon puts the faces in front of it; the CLI's
// `power --direct`, `check --probe` and `discover --config` use it alone,
// without the sockets, metrics and IPMI endpoints of a daemon.
package inventory

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	mwol "github.com/mdlayher/wol"

	"github.com/powerjockey/powerjockey/pkg/boot"
	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/pkg/console"
	"github.com/powerjockey/powerjockey/pkg/ipmi"
	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power/pdu"
	"github.com/powerjockey/powerjockey/pkg/power/wol"
)

// Observer is told what the built objects do (the daemon's metrics): SNMP
// requests of the PDU clients, finished power actions of the nodes, magic
// packets sent. Calls must not block.
type Observer interface {
	pdu.Observer
	node.Observer
	// WoLSent counts one magic packet sent for node.
	WoLSent(node string)
}

// Endpoints serves nodes over a face that needs a listener per node: the
// IPMI face's endpoint manager (*ipmi.Manager). The inventory starts a
// node's endpoint once the node is built and its console open, and stops
// it before the node is released.
type Endpoints interface {
	Start(ctx context.Context, m ipmi.Machine, cfg ipmi.EndpointConfig) (*ipmi.Endpoint, error)
	Stop(name string)
}

// Options configure an Inventory.
type Options struct {
	Logger *slog.Logger
	// Observer, when set, is told what PDU clients, nodes and Wake-on-LAN
	// senders do.
	Observer Observer
	// Endpoints, when set, serves each node as it is started (and opens
	// its serial console for it); without it nodes are built for use in
	// this process only.
	Endpoints Endpoints
}

// Inventory is the configuration's PDUs and nodes, built.
type Inventory struct {
	log       *slog.Logger
	obs       Observer
	endpoints Endpoints
	store     *node.Store

	// wolClient is the UDP socket of Wake-on-LAN, opened when a node
	// first needs it; rawSenders are the raw sockets by interface.
	wolClient  *mwol.Client
	rawSenders map[string]*wol.RawSender
	// imageClient fetches virtual media images (the boot endpoint streams
	// them with it too); mediaChecker checks them before they are inserted.
	imageClient  *http.Client
	mediaChecker *boot.Checker
	// sampler reads the started nodes' sensors in the background.
	sampler *sampler

	// mu guards the configuration-derived state below; it is held for a
	// whole reload so readers see the old or the new set, never a mix.
	mu    sync.RWMutex
	ctx   context.Context
	cfg   *config.Config
	pdus  map[string]*pdu.Client
	nodes map[string]*entry
}

// entry is one built node and what was built for it.
type entry struct {
	node *node.Node
	cfg  config.Node
	feed *pdu.Feed
	// console is the node's serial console (nil without one, or when the
	// node is not served); stopConsole closes it.
	console     *console.Console
	stopConsole func()
}

// New prepares the inventory of cfg over the node state in store; Start
// builds it, Close releases it. The caller holds the state directory's
// lock (daemon.LockStateDir).
func New(cfg *config.Config, store *node.Store, o Options) *Inventory {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	inv := &Inventory{
		log:         o.Logger,
		obs:         o.Observer,
		endpoints:   o.Endpoints,
		store:       store,
		rawSenders:  map[string]*wol.RawSender{},
		imageClient: boot.NewImageClient(),
		sampler:     newSampler(),
		cfg:         cfg,
		pdus:        map[string]*pdu.Client{},
		nodes:       map[string]*entry{},
	}
	inv.mediaChecker = &boot.Checker{Client: inv.imageClient}
	return inv
}

// Start builds every PDU client and node, and serves each node (Options.
// Endpoints). If any node cannot be built or served (a corrupt state
// file, an address in use), everything started is stopped again and the
// error returned: a daemon that serves only some nodes would hide it.
// Nodes read their sensors in the background until ctx ends.
func (inv *Inventory) Start(ctx context.Context) error {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.ctx = ctx
	go inv.sampler.run(ctx)
	for _, p := range inv.cfg.PDUs {
		c, err := newPDUClient(p, inv.log, inv.obs)
		if err != nil {
			inv.stopAllLocked()
			return err
		}
		inv.pdus[p.Name] = c
	}
	if err := inv.detectPDUs(ctx, inv.cfg.PDUs); err != nil {
		inv.stopAllLocked()
		return err
	}
	// Build every node (loading its state) before serving any, so that a
	// bad state file stops the start before a single endpoint answered.
	entries := make([]*entry, 0, len(inv.cfg.Nodes))
	for _, n := range inv.cfg.Nodes {
		e, err := inv.newNode(ctx, n)
		if err != nil {
			for _, e := range entries {
				e.release()
			}
			inv.stopAllLocked()
			return err
		}
		entries = append(entries, e)
	}
	for i, e := range entries {
		if err := inv.serve(ctx, e); err != nil {
			for _, rest := range entries[i+1:] {
				rest.release()
			}
			inv.stopAllLocked()
			return err
		}
		inv.nodes[e.cfg.Name] = e
	}
	inv.sampleNew(entries)
	// Parsing and building left garbage (YAML trees, JSON) that the daemon
	// will not need again: hand it back to the OS now rather than keeping
	// the start-up peak as resident memory for the daemon's lifetime.
	debug.FreeOSMemory()
	return nil
}

// Close stops every node (and its endpoint) and releases the PDU clients
// and Wake-on-LAN sockets.
func (inv *Inventory) Close() {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.stopAllLocked()
	if inv.wolClient != nil {
		inv.wolClient.Close()
	}
	for _, s := range inv.rawSenders {
		s.Close()
	}
}

func (inv *Inventory) stopAllLocked() {
	for name, e := range inv.nodes {
		inv.stopNode(e)
		delete(inv.nodes, name)
	}
	for name, c := range inv.pdus {
		c.Close()
		delete(inv.pdus, name)
	}
}

// Reload applies cfg: nodes whose configuration (and PDU) did not change
// keep their endpoint and its sessions; changed nodes are rebuilt, removed
// ones stopped, added ones started. If a new node cannot start, the
// error is returned and reported, and the rest of the new configuration
// stays applied.
func (inv *Inventory) Reload(cfg *config.Config) error {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	old := inv.cfg
	if cfg.StateDir != old.StateDir {
		return errors.New("state_dir cannot change on reload; restart the daemon")
	}
	// Every endpoint's configuration derives from the ipmi section.
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
	inv.cfg = cfg

	wanted := map[string]config.Node{}
	for _, n := range cfg.Nodes {
		wanted[n.Name] = n
	}
	var stopped, kept []string
	for name, e := range inv.nodes {
		n, ok := wanted[name]
		if ok && !globalChanged && reflect.DeepEqual(e.cfg, n) && (n.PDU == nil || !changedPDUs[n.PDU.Name]) {
			kept = append(kept, name)
			continue
		}
		inv.stopNode(e)
		delete(inv.nodes, name)
		stopped = append(stopped, name)
	}
	var reloaded []config.PDU
	for name := range changedPDUs {
		if c := inv.pdus[name]; c != nil {
			c.Close()
			delete(inv.pdus, name)
		}
		if p, ok := newPDUs[name]; ok {
			c, err := newPDUClient(p, inv.log, inv.obs)
			if err != nil {
				return err
			}
			inv.pdus[name] = c
			reloaded = append(reloaded, p)
		}
	}
	// A refused PDU is reported; its nodes start and fail their actions
	// with the same error.
	detectErr := inv.detectPDUs(inv.ctx, reloaded)
	var errs []error
	var started []string
	var entries []*entry
	for _, n := range cfg.Nodes {
		if _, running := inv.nodes[n.Name]; running {
			continue
		}
		e, err := inv.startNode(inv.ctx, n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		inv.nodes[n.Name] = e
		started = append(started, n.Name)
		entries = append(entries, e)
	}
	inv.sampleNew(entries)
	slices.Sort(stopped)
	slices.Sort(started)
	inv.log.Info("configuration reloaded", "kept", len(kept), "stopped", stopped, "started", started)
	return errors.Join(append([]error{detectErr}, errs...)...)
}

// sampleNew has the sampler read started nodes in the background, in
// groups by PDU.
func (inv *Inventory) sampleNew(entries []*entry) {
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
	inv.sampler.add(time.Now(), out)
}

// Node returns the named node, or nil.
func (inv *Inventory) Node(name string) *node.Node {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	if e, ok := inv.nodes[name]; ok {
		return e.node
	}
	return nil
}

// Nodes returns every node, ordered by name.
func (inv *Inventory) Nodes() []*node.Node {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	out := make([]*node.Node, 0, len(inv.nodes))
	for _, e := range inv.nodes {
		out = append(out, e.node)
	}
	slices.SortFunc(out, func(a, b *node.Node) int { return strings.Compare(a.Name(), b.Name()) })
	return out
}

// Snapshots returns every node's snapshot, ordered by name (metrics.Nodes).
func (inv *Inventory) Snapshots() []node.Snapshot {
	nodes := inv.Nodes()
	out := make([]node.Snapshot, len(nodes))
	for i, n := range nodes {
		out[i] = n.Snapshot()
	}
	return out
}

// Config returns the configuration in effect.
func (inv *Inventory) Config() *config.Config {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	return inv.cfg
}

// ImageClient is the HTTP client of virtual media: it checks images at
// insertion, and the boot endpoint streams them with it.
func (inv *Inventory) ImageClient() *http.Client { return inv.imageClient }
