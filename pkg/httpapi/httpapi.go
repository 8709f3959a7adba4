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

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/powerjockey/powerjockey/pkg/audit"
	"github.com/powerjockey/powerjockey/pkg/metrics"
	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
)

// Backend is what the API serves.
type Backend interface {
	Nodes() []*node.Node
	Node(name string) *node.Node
	Metrics() *metrics.Metrics
}

// RequestedByHeader is the header a request that changes state (POST) must
// carry, unless its Content-Type is application/json: a cross-site page can
// send neither without a CORS preflight, which this server never grants, so
// the pair defends the power buttons against cross-site request forgery.
const RequestedByHeader = "X-Requested-By"

// New returns the HTTP handler.
func New(b Backend, log *slog.Logger) http.Handler {
	s := &server{b: b, log: log, audit: audit.New(log, "http", audit.Options{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(b.Metrics().Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /api/v1/nodes", s.listNodes)
	mux.HandleFunc("GET /api/v1/nodes/{name}", s.getNode)
	mux.HandleFunc("POST /api/v1/nodes/{name}/power", s.powerNode)
	mux.HandleFunc("POST /api/v1/nodes/{name}/acknowledge", s.acknowledge)
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
	// audit writes refused requests, rate-limited per source address
	// (the API has no logins yet: issue 14 adds them).
	audit *audit.Log
}

// NodeJSON is one node in /api/v1/nodes.
type NodeJSON struct {
	Name       string             `json:"name"`
	GUID       string             `json:"guid"`
	Power      string             `json:"power"`
	Source     string             `json:"source"`
	Watts      *float64           `json:"watts,omitempty"`
	ObservedAt *time.Time         `json:"observed_at,omitempty"`
	StatusErr  string             `json:"status_error,omitempty"`
	Recorded   string             `json:"recorded_power"`
	LastAction *node.ActionRecord `json:"last_action,omitempty"`
	Busy       bool               `json:"busy"`
	Manual     *node.ManualAction `json:"manual_action,omitempty"`
	Boot       BootJSON           `json:"boot"`
}

// BootJSON is a node's boot override.
type BootJSON struct {
	Device     string `json:"device"`
	Valid      bool   `json:"valid"`
	Persistent bool   `json:"persistent"`
	UEFI       bool   `json:"uefi"`
}

// statusTimeout bounds how long a listing waits for status refreshes.
const statusTimeout = 2 * time.Second

func nodeJSON(ctx context.Context, n *node.Node) NodeJSON {
	r, err := n.PowerState(ctx)
	s := n.Snapshot()
	out := NodeJSON{
		Name:       s.Name,
		GUID:       s.State.GUID.String(),
		Power:      r.State.String(),
		Source:     r.Source,
		Watts:      r.Watts,
		Recorded:   s.State.Power.String(),
		LastAction: s.State.LastAction,
		Busy:       s.Busy,
		Manual:     s.State.Manual,
		Boot: BootJSON{Device: string(s.State.Boot.Device), Valid: s.State.Boot.Valid,
			Persistent: s.State.Boot.Persistent, UEFI: s.State.Boot.UEFI},
	}
	if !r.At.IsZero() {
		at := r.At
		out.ObservedAt = &at
	}
	if err != nil {
		out.Power, out.StatusErr = "unknown", err.Error()
	}
	return out
}

func (s *server) listNodes(w http.ResponseWriter, r *http.Request) {
	want := r.URL.Query().Get("state")
	switch want {
	case "", "on", "off", "unknown":
	default:
		writeError(w, http.StatusBadRequest, "state must be on, off or unknown")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), statusTimeout)
	defer cancel()
	nodes := s.b.Nodes()
	out := make([]NodeJSON, len(nodes))
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
			out[i] = nodeJSON(ctx, n)
		}()
	}
	wg.Wait()
	if want != "" {
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
	n := s.b.Node(r.PathValue("name"))
	if n == nil {
		writeError(w, http.StatusNotFound, "no such node")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), statusTimeout)
	defer cancel()
	writeJSON(w, http.StatusOK, nodeJSON(ctx, n))
}

func (s *server) powerNode(w http.ResponseWriter, r *http.Request) {
	n := s.b.Node(r.PathValue("name"))
	if n == nil {
		writeError(w, http.StatusNotFound, "no such node")
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
	ctx := node.WithRequester(r.Context(), node.Requester{Channel: "http", Source: r.RemoteAddr})
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
	writeJSON(w, http.StatusOK, nodeJSON(ctx, n))
}

func (s *server) acknowledge(w http.ResponseWriter, r *http.Request) {
	n := s.b.Node(r.PathValue("name"))
	if n == nil {
		writeError(w, http.StatusNotFound, "no such node")
		return
	}
	if err := n.Acknowledge(node.WithRequester(r.Context(), node.Requester{Channel: "http", Source: r.RemoteAddr})); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), statusTimeout)
	defer cancel()
	writeJSON(w, http.StatusOK, nodeJSON(ctx, n))
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
