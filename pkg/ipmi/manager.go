package ipmi

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/bougou/go-ipmi/pkg/handlers"
)

// Manager runs one endpoint per node in one process. All endpoints share
// one handler registry and one guard; each has its own socket, BMC state
// and session table.
type Manager struct {
	reg   *handlers.Registry
	guard *Guard
	obs   Observer
	log   *slog.Logger

	mu        sync.Mutex
	endpoints map[string]*runningEndpoint
}

type runningEndpoint struct {
	ep     *Endpoint
	cancel context.CancelFunc
	done   chan struct{}
}

// NewManager returns a manager with no endpoints. Run the guard's
// bookkeeping with guard.Run.
func NewManager(guard *Guard, obs Observer, log *slog.Logger) *Manager {
	if obs == nil {
		obs = NopObserver{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Manager{reg: newRegistry(), guard: guard, obs: obs, log: log, endpoints: map[string]*runningEndpoint{}}
}

// Start binds m's endpoint and serves it until ctx is done or Stop.
func (mgr *Manager) Start(ctx context.Context, m Machine, cfg EndpointConfig) (*Endpoint, error) {
	mgr.mu.Lock()
	defer mgr.mu.Unlock()
	if _, dup := mgr.endpoints[m.Name()]; dup {
		return nil, fmt.Errorf("ipmi endpoint of %s already running", m.Name())
	}
	ep, err := newEndpoint(m, cfg, mgr.reg, mgr.guard, mgr.obs, mgr.log)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &runningEndpoint{ep: ep, cancel: cancel, done: make(chan struct{})}
	mgr.endpoints[m.Name()] = r
	go func() {
		defer close(r.done)
		if err := ep.Serve(ctx); err != nil {
			ep.log.Error("ipmi endpoint stopped", "err", err)
		}
	}()
	ep.log.Debug("ipmi endpoint serving")
	return ep, nil
}

// Stop closes the named endpoint and waits for it.
func (mgr *Manager) Stop(name string) {
	mgr.mu.Lock()
	r, ok := mgr.endpoints[name]
	delete(mgr.endpoints, name)
	mgr.mu.Unlock()
	if ok {
		r.cancel()
		r.ep.Close()
		<-r.done
	}
}

// Endpoint returns the named endpoint, or nil.
func (mgr *Manager) Endpoint(name string) *Endpoint {
	mgr.mu.Lock()
	defer mgr.mu.Unlock()
	if r, ok := mgr.endpoints[name]; ok {
		return r.ep
	}
	return nil
}

// Names lists running endpoints in order.
func (mgr *Manager) Names() []string {
	mgr.mu.Lock()
	defer mgr.mu.Unlock()
	names := make([]string, 0, len(mgr.endpoints))
	for n := range mgr.endpoints {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Sessions is the number of open sessions across all endpoints.
func (mgr *Manager) Sessions() int {
	mgr.mu.Lock()
	defer mgr.mu.Unlock()
	total := 0
	for _, r := range mgr.endpoints {
		total += r.ep.Sessions()
	}
	return total
}

// Close stops every endpoint.
func (mgr *Manager) Close() {
	for _, n := range mgr.Names() {
		mgr.Stop(n)
	}
}
