// Package httpapi is powerjockey's operator-facing HTTP face: health,
// Prometheus metrics, a JSON view of the nodes with operator actions, and
// the live rack page. It calls the node layer, like every protocol server.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/powerjockey/powerjockey/pkg/buildinfo"
	"github.com/powerjockey/powerjockey/pkg/internal/audit"
	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
)

// Node is what the API needs of a node; *node.Node implements it.
type Node interface {
	Name() string
	// View reads the node's power state (never for long) and describes it.
	View(ctx context.Context) node.View
	// Snapshot is the node's state without touching any device (the PDU
	// view reads the outlets of its last reading).
	Snapshot() node.Snapshot
	// Power returns once the action's first step is confirmed; ctx
	// carries the requester.
	Power(ctx context.Context, a power.Action) error
	// Acknowledge clears a pending manual action; ctx carries the requester.
	Acknowledge(ctx context.Context) error
	// Events is the node's event log, oldest first.
	Events() ([]node.Event, error)
	// MeterSamples is the metered draw since a time, oldest first.
	MeterSamples(since time.Time) []node.MeterSample
}

var _ Node = (*node.Node)(nil)

// Backend is the set of nodes the API serves. It is read on every request,
// so the nodes a reload adds or removes are served at once.
type Backend interface {
	// Nodes returns every node, ordered by name.
	Nodes() []Node
	// Node returns the named node.
	Node(name string) (Node, bool)
}

// RequestedByHeader is the header a request that changes state (POST) must
// carry, unless its Content-Type is application/json: a cross-site page can
// send neither without a CORS preflight, which this server never grants, so
// the pair defends the power buttons against cross-site request forgery.
const RequestedByHeader = "X-Requested-By"

// Options configure the handler.
type Options struct {
	Logger *slog.Logger
	// Auth returns who may use the server; it is called per request, so
	// a reload's tokens and passwords apply at once. A nil func, or a nil
	// result, asks for no credentials (loopback listeners).
	Auth func() *Auth
	// Now is the clock of sessions and login limits (tests: a fake one).
	Now func() time.Time
	// Metrics is what /metrics serves (the daemon's registry); nil serves
	// no series.
	Metrics prometheus.Gatherer
}

// New returns the HTTP handler, asking for no credentials.
func New(b Backend, log *slog.Logger) http.Handler {
	return NewWithOptions(b, Options{Logger: log})
}

// NewWithOptions returns the HTTP handler.
func NewWithOptions(b Backend, o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &server{b: b, log: o.Logger, audit: audit.New(o.Logger, "http", audit.Options{}), authFn: o.Auth,
		sessions: newSessionTable(o.Now), failures: &failureLimiter{now: o.Now, count: map[string]*failures{}}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	if o.Metrics == nil {
		o.Metrics = prometheus.NewRegistry()
	}
	mux.Handle("GET /metrics", s.metricsAuth(promhttp.HandlerFor(o.Metrics, promhttp.HandlerOpts{})))
	mux.HandleFunc("GET /api/v1/session", s.getSession)
	mux.HandleFunc("POST /api/v1/session", s.login)
	mux.HandleFunc("DELETE /api/v1/session", s.logout)
	mux.HandleFunc("GET /api/v1/version", s.requireAuth(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, buildinfo.Get())
	}))
	mux.HandleFunc("GET /api/v1/nodes", s.requireAuth(s.listNodes))
	mux.HandleFunc("GET /api/v1/nodes/{name}", s.requireAuth(s.getNode))
	mux.HandleFunc("GET /api/v1/nodes/{name}/history", s.requireAuth(s.history))
	mux.HandleFunc("POST /api/v1/nodes/{name}/power", s.requireAuth(s.powerNode))
	mux.HandleFunc("POST /api/v1/nodes/{name}/acknowledge", s.requireAuth(s.acknowledge))
	mux.HandleFunc("GET /api/v1/pdus", s.requireAuth(s.listPDUs))
	mux.HandleFunc("GET /{$}", s.page)
	mux.HandleFunc("GET /static/{file}", s.static)
	return s.guard(mux)
}

// guard sets headers every response carries and refuses state-changing
// requests a browser could have been made to send by another site.
func (s *server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if msg := crossSite(r); msg != "" {
				s.audit.Write(r.Context(), slog.LevelWarn, "refused HTTP request", r.RemoteAddr, "",
					"method", r.Method, "path", r.URL.Path, "why", msg)
				writeError(w, http.StatusForbidden, msg)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// crossSite says why a state-changing request may come from another site,
// or returns "" when it cannot: it carries RequestedByHeader or a JSON
// Content-Type (neither of which a cross-origin page can send without a
// preflight), and an Origin header, if any, names this server.
func crossSite(r *http.Request) string {
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host == "" ||
			(!strings.EqualFold(u.Host, r.Host) && !strings.EqualFold(u.Host, r.Header.Get("X-Forwarded-Host"))) {
			return "cross-origin request refused (Origin " + o + ")"
		}
	}
	if r.Header.Get(RequestedByHeader) != "" || isJSON(r) {
		return ""
	}
	return "a POST needs the header " + RequestedByHeader + ": powerjockey or Content-Type: application/json (CSRF protection)"
}

func isJSON(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

type server struct {
	b   Backend
	log *slog.Logger
	// audit writes refused requests and logins, rate-limited per source
	// address.
	audit    *audit.Log
	authFn   func() *Auth
	sessions *sessionTable
	failures *failureLimiter
}

// auth is the current authentication configuration (nil: none).
func (s *server) auth() *Auth {
	if s.authFn == nil {
		return nil
	}
	return s.authFn()
}

// visibleNode returns the named node if the request may see it; else it
// answers 404 (a node of other credentials is not revealed) and returns nil.
func (s *server) visibleNode(w http.ResponseWriter, r *http.Request) Node {
	name := r.PathValue("name")
	n, ok := s.b.Node(name)
	if !ok || !accessFrom(r.Context()).canSee(name) {
		writeError(w, http.StatusNotFound, "no such node")
		return nil
	}
	return n
}

// operableNode is visibleNode for a request that changes the node: it
// answers 403 when the credentials may only read it.
func (s *server) operableNode(w http.ResponseWriter, r *http.Request) Node {
	n := s.visibleNode(w, r)
	if n == nil {
		return nil
	}
	if a := accessFrom(r.Context()); !a.canOperate(n.Name()) {
		s.forbidden(w, r, a, n.Name())
		return nil
	}
	return n
}

// requester is who asks, for the node's records.
func requester(r *http.Request) node.Requester {
	return node.Requester{Channel: node.ChannelHTTP, Source: r.RemoteAddr, User: accessFrom(r.Context()).user()}
}

// statusTimeout bounds how long a listing waits for status refreshes.
const statusTimeout = 2 * time.Second

func (s *server) listNodes(w http.ResponseWriter, r *http.Request) {
	var want power.State
	filter := r.URL.Query().Get("state")
	if err := want.UnmarshalText([]byte(filter)); err != nil {
		writeError(w, http.StatusBadRequest, "state must be on, off or unknown")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), statusTimeout)
	defer cancel()
	a := accessFrom(r.Context())
	var nodes []Node
	for _, n := range s.b.Nodes() {
		if a.canSee(n.Name()) {
			nodes = append(nodes, n)
		}
	}
	out := make([]node.View, len(nodes))
	// Status reads of many nodes share their PDUs' polls; run them side by
	// side so a listing costs one poll's latency, not N.
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = n.View(ctx)
		}()
	}
	wg.Wait()
	if filter != "" {
		kept := out[:0]
		for _, n := range out {
			if n.Power == want {
				kept = append(kept, n)
			}
		}
		out = kept
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) getNode(w http.ResponseWriter, r *http.Request) {
	n := s.visibleNode(w, r)
	if n == nil {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), statusTimeout)
	defer cancel()
	writeJSON(w, http.StatusOK, n.View(ctx))
}

func (s *server) powerNode(w http.ResponseWriter, r *http.Request) {
	n := s.operableNode(w, r)
	if n == nil {
		return
	}
	var body struct {
		Action string `json:"action"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "want a JSON body like {\"action\": \"on\"}")
		return
	}
	a, err := power.ParseAction(body.Action)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx := node.WithRequester(r.Context(), requester(r))
	if err := n.Power(ctx, a); err != nil {
		status := http.StatusBadGateway
		if errors.Is(err, power.ErrUnsupported) {
			status = http.StatusConflict
		}
		writeError(w, status, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	writeJSON(w, http.StatusOK, n.View(ctx))
}

func (s *server) acknowledge(w http.ResponseWriter, r *http.Request) {
	n := s.operableNode(w, r)
	if n == nil {
		return
	}
	if err := n.Acknowledge(node.WithRequester(r.Context(), requester(r))); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), statusTimeout)
	defer cancel()
	writeJSON(w, http.StatusOK, n.View(ctx))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
