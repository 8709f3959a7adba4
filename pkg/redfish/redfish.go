// Package redfish is powerjockey's Redfish face: one DMTF Redfish service
// for all nodes, shaped as sushy (the library behind Ironic's redfish
// hardware type and Metal3's redfish:// addresses) expects. It serves the
// service root, one ComputerSystem, Manager and Chassis per node, and a
// SessionService; it maps ComputerSystem.Reset to node power actions and
// the Boot override to the same node.Boot the IPMI face shows.
//
// A caller authenticates with a node's IPMI username and password (HTTP
// basic, or a session created with them) and sees exactly the nodes those
// credentials are configured on. The node list and credentials are read
// from the Backend on every request, so a configuration reload needs
// nothing from this package.
package redfish

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/powerjockey/powerjockey/pkg/audit"
	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
)

// System is what the service needs of a node; *node.Node implements it.
type System interface {
	Name() string
	GUID() node.GUID
	// PowerState must not block long: it is read for every GET.
	PowerState(ctx context.Context) (power.Reading, error)
	// Power returns once the action's first step is confirmed.
	Power(ctx context.Context, a power.Action) error
	// Supports reports whether and how the node performs an action.
	Supports(a power.Action) node.Support
	Boot() node.Boot
	// UpdateBoot changes the boot override; ctx carries the requester.
	UpdateBoot(ctx context.Context, fn func(*node.Boot), validFor time.Duration) error
}

var _ System = (*node.Node)(nil)

// Credentials are the user a node's BMC accepts: its IPMI username and
// password.
type Credentials struct {
	Username string
	Password string
	// ReadOnly refuses power actions and boot changes with 403
	// (IPMI privilege user or callback).
	ReadOnly bool
}

// Entry is one node as the service serves it.
type Entry struct {
	System      System
	Credentials Credentials
}

// Backend is what the service reads from the daemon, on every request.
type Backend interface {
	// Systems returns every node, ordered by name.
	Systems() []Entry
	// System returns the named node.
	System(name string) (Entry, bool)
}

// Options configure a Service.
type Options struct {
	// ServiceUUID is the service root's UUID; keep it stable across restarts.
	ServiceUUID string
	// SessionTimeout ends a session idle this long (default 30 minutes).
	SessionTimeout time.Duration
	// MaxSessions bounds the session table (default 256).
	MaxSessions int
	// AuthFailuresPerMinute refuses a source address that failed to log
	// in this many times within a minute, until the minute is over
	// (default 30; -1 disables).
	AuthFailuresPerMinute int
	Logger                *slog.Logger
	// now is the clock; tests replace it.
	now func() time.Time
}

// Service is the Redfish service; it is an http.Handler.
type Service struct {
	b        Backend
	log      *slog.Logger
	uuid     string
	sessions *sessionTable
	limiter  *failureLimiter
	// audit writes refusals, rate-limited per source address.
	audit *audit.Log
}

// New returns the service for b.
func New(b Backend, opt Options) *Service {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.SessionTimeout <= 0 {
		opt.SessionTimeout = 30 * time.Minute
	}
	if opt.MaxSessions <= 0 {
		opt.MaxSessions = 256
	}
	switch {
	case opt.AuthFailuresPerMinute == 0:
		opt.AuthFailuresPerMinute = 30
	case opt.AuthFailuresPerMinute < 0:
		opt.AuthFailuresPerMinute = 0
	}
	if opt.now == nil {
		opt.now = time.Now
	}
	if opt.ServiceUUID == "" {
		opt.ServiceUUID = node.NewGUID().String()
	}
	return &Service{
		b:        b,
		log:      opt.Logger,
		uuid:     opt.ServiceUUID,
		sessions: newSessionTable(opt.SessionTimeout, opt.MaxSessions, opt.now),
		limiter:  &failureLimiter{perMinute: opt.AuthFailuresPerMinute, now: opt.now, m: map[string]*failWindow{}},
		audit:    audit.New(opt.Logger, "redfish", audit.Options{Now: opt.now}),
	}
}

// Resource paths.
const (
	rootPath           = "/redfish/v1/"
	systemsPath        = "/redfish/v1/Systems"
	managersPath       = "/redfish/v1/Managers"
	chassisCollPath    = "/redfish/v1/Chassis"
	sessionServicePath = "/redfish/v1/SessionService"
	sessionsPath       = "/redfish/v1/SessionService/Sessions"
)

// SystemPath is the path of a node's ComputerSystem, the redfish_system_id
// Ironic needs and the path of a Metal3 redfish:// address.
func SystemPath(nodeName string) string { return systemsPath + "/" + url.PathEscape(nodeName) }

// managerPath is the path of a node's Manager (its emulated BMC).
func managerPath(nodeName string) string { return managersPath + "/" + url.PathEscape(nodeName) }

// chassisPath is the path of a node's Chassis.
func chassisPath(nodeName string) string { return chassisCollPath + "/" + url.PathEscape(nodeName) }

// sessionPath is the path of a session.
func sessionPath(id string) string { return sessionsPath + "/" + id }

// statusWriter records the status sent, for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// ServeHTTP serves one Redfish request.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	sw.Header().Set("OData-Version", "4.0")
	sw.Header().Set("Cache-Control", "no-store")
	var user string
	if aerr := s.serve(sw, r, &user); aerr != nil {
		for k, v := range aerr.header {
			sw.Header()[k] = v
		}
		writeJSON(sw, aerr.status, aerr.body())
	}
	s.log.Debug("redfish request", "method", r.Method, "path", truncate(r.URL.Path), "status", sw.status,
		"user", truncate(user), "remote", r.RemoteAddr, "duration", time.Since(start).Round(time.Microsecond))
}

func (s *Service) serve(w http.ResponseWriter, r *http.Request, user *string) *apiError {
	if v := r.Header.Get("OData-Version"); v != "" && v != "4.0" {
		return newError(http.StatusPreconditionFailed, msg("HeaderInvalid", "OData-Version")).
			withDetail("OData-Version " + truncate(v) + " is not supported; this service speaks 4.0.")
	}
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	path := r.URL.Path
	if path == "/redfish" || path == "/redfish/" {
		if method != http.MethodGet {
			return methodNotAllowed("GET, HEAD")
		}
		writeJSON(w, http.StatusOK, map[string]any{"v1": rootPath})
		return nil
	}
	rest, ok := strings.CutPrefix(path, "/redfish/v1")
	if !ok || (rest != "" && rest[0] != '/') {
		return invalidURI(truncate(path))
	}
	rest = strings.Trim(rest, "/")
	var seg []string
	if rest != "" {
		seg = strings.Split(rest, "/")
	}

	// What DSP0266 requires to be reachable without credentials.
	switch {
	case len(seg) == 0:
		if method != http.MethodGet {
			return methodNotAllowed("GET, HEAD")
		}
		writeJSON(w, http.StatusOK, s.root())
		return nil
	case rest == "odata":
		if method != http.MethodGet {
			return methodNotAllowed("GET, HEAD")
		}
		writeJSON(w, http.StatusOK, odataDocument())
		return nil
	case rest == "$metadata":
		if method != http.MethodGet {
			return methodNotAllowed("GET, HEAD")
		}
		w.Header().Set("Content-Type", "application/xml")
		_, _ = w.Write([]byte(metadataXML))
		return nil
	case rest == "SessionService/Sessions" && method == http.MethodPost:
		return s.login(w, r)
	}

	p, entries, aerr := s.authenticate(r)
	if aerr != nil {
		return aerr
	}
	*user = p.user
	r = r.WithContext(node.WithRequester(r.Context(), node.Requester{Channel: "redfish", Source: r.RemoteAddr, User: p.user}))

	switch {
	case len(seg) == 1 && seg[0] == "Systems":
		return getOnly(method, w, collection("#ComputerSystemCollection.ComputerSystemCollection", systemsPath,
			"Computer System Collection", names(entries), SystemPath))
	case len(seg) == 2 && seg[0] == "Systems":
		e, aerr := s.find(r, p, entries, "ComputerSystem", seg[1])
		if aerr != nil {
			return aerr
		}
		switch method {
		case http.MethodGet:
			s.getSystem(w, r, e)
			return nil
		case http.MethodPatch:
			return s.patchSystem(w, r, p, e)
		default:
			return methodNotAllowed(systemAllow)
		}
	case len(seg) == 4 && seg[0] == "Systems" && seg[2] == "Actions" && seg[3] == "ComputerSystem.Reset":
		e, aerr := s.find(r, p, entries, "ComputerSystem", seg[1])
		if aerr != nil {
			return aerr
		}
		if method != http.MethodPost {
			return methodNotAllowed("POST")
		}
		return s.resetSystem(w, r, p, e)
	case len(seg) == 1 && seg[0] == "Managers":
		return getOnly(method, w, collection("#ManagerCollection.ManagerCollection", managersPath,
			"Manager Collection", names(entries), managerPath))
	case len(seg) == 2 && seg[0] == "Managers":
		e, aerr := s.find(r, p, entries, "Manager", seg[1])
		if aerr != nil {
			return aerr
		}
		return getOnly(method, w, managerResource(e.System.Name()))
	case len(seg) == 1 && seg[0] == "Chassis":
		return getOnly(method, w, collection("#ChassisCollection.ChassisCollection", chassisCollPath,
			"Chassis Collection", names(entries), chassisPath))
	case len(seg) == 2 && seg[0] == "Chassis":
		e, aerr := s.find(r, p, entries, "Chassis", seg[1])
		if aerr != nil {
			return aerr
		}
		return getOnly(method, w, chassisResource(e.System.Name()))
	case rest == "SessionService":
		return getOnly(method, w, s.sessionService())
	case rest == "SessionService/Sessions":
		if method != http.MethodGet {
			return methodNotAllowed("GET, HEAD, POST")
		}
		var ids []string
		for _, sess := range s.sessions.list(p) {
			ids = append(ids, sess.id)
		}
		writeJSON(w, http.StatusOK, collection("#SessionCollection.SessionCollection", sessionsPath,
			"Session Collection", ids, sessionPath))
		return nil
	case len(seg) == 3 && seg[0] == "SessionService" && seg[1] == "Sessions":
		return s.sessionMember(w, r, method, p, seg[2])
	}
	return invalidURI(truncate(path))
}

// find returns the entry named id among those the caller may see. A node
// the caller's credentials do not own is not found, as if it did not
// exist; the refusal is logged for the operator.
func (s *Service) find(r *http.Request, p *principal, entries []Entry, typ, id string) (Entry, *apiError) {
	for _, e := range entries {
		if e.System.Name() == id {
			return e, nil
		}
	}
	if _, exists := s.b.System(id); exists {
		s.audit.Write(r.Context(), slog.LevelWarn, "redfish access refused: the credentials are not this node's", r.RemoteAddr, truncate(p.user),
			"node", id, "path", truncate(r.URL.Path))
	}
	return Entry{}, notFound(typ, truncate(id))
}

func names(entries []Entry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.System.Name()
	}
	return out
}

func getOnly(method string, w http.ResponseWriter, body map[string]any) *apiError {
	if method != http.MethodGet {
		return methodNotAllowed("GET, HEAD")
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		// Only our own maps are encoded; this cannot happen.
		status = http.StatusInternalServerError
		b, _ = json.Marshal(newError(status, msg("InternalError")).body())
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func odataID(path string) map[string]any { return map[string]any{"@odata.id": path} }
