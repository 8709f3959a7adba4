// Package redfish is powerjockey's Redfish face: one DMTF Redfish service
// for all nodes, shaped as sushy (the library behind Ironic's redfish
// hardware type and Metal3's redfish:// addresses) expects and following
// DSP0266's protocol rules. Per node it serves a ComputerSystem (power
// through ComputerSystem.Reset, the boot override that IPMI also shows,
// the recorded indicator, the MAC of its NIC, its event log, the
// configured inventory), a Manager (its emulated BMC) and a Chassis (its
// PDU power); service-wide, a SessionService and a read-only
// AccountService with the three predefined roles.
//
// A caller authenticates with a node's IPMI username and password (HTTP
// basic, or a session created with them), sees exactly the nodes those
// credentials are configured on, and acts on each with the role of its
// IPMI privilege (pkg/account). The node list and credentials are read
// from the Backend on every request, so a configuration reload needs
// nothing from this package. routes.go lists every URI served.
package redfish

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/powerjockey/powerjockey/pkg/account"
	"github.com/powerjockey/powerjockey/pkg/internal/audit"
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
	// Snapshot returns the node's state and its last reading (and the
	// last refresh error) without touching any device.
	Snapshot() node.Snapshot
	// Indicator and SetIndicator are the recorded identify indicator
	// (there is no light); ctx carries the requester.
	Indicator() node.Indicator
	SetIndicator(ctx context.Context, i node.Indicator) error
	// Events is the node's event log, oldest first: what the LogService
	// serves (and the IPMI SEL shows).
	Events() ([]node.Event, error)
	EventLogSize() int
	// ClearEvents empties the event log; ctx carries the requester.
	ClearEvents(ctx context.Context) error
	// MeterSamples is the metered draw since a time, oldest first; none
	// without a meter.
	MeterSamples(since time.Time) []node.MeterSample
	// HasVirtualMedia reports whether the node's BMC has a virtual CD
	// (there is a boot endpoint to serve its image); Media is the CD.
	HasVirtualMedia() bool
	Media() node.Media
	// InsertMedia checks and attaches an image, returning a
	// *node.MediaError for an image that cannot be served;
	// SetMediaInserted moves an attached one in or out; EjectMedia
	// detaches it. ctx carries the requester.
	InsertMedia(ctx context.Context, m node.Media) error
	SetMediaInserted(ctx context.Context, inserted bool) error
	EjectMedia(ctx context.Context) error
}

var _ System = (*node.Node)(nil)

// Credentials are the user a node's BMC accepts (its IPMI username and
// password) and the role they hold on it (from its IPMI privilege).
type Credentials struct {
	Username string
	Password string
	// Role decides what the credentials may do on the node; an empty or
	// unknown role may only read.
	Role account.Role
}

// role is the effective role: an unset one only reads.
func (c Credentials) role() account.Role {
	if c.Role.Valid() {
		return c.Role
	}
	return account.ReadOnly
}

// Outlet is a PDU outlet feeding the node: one power supply.
type Outlet struct {
	PDU    string
	Outlet int
}

// Hardware is what the configuration says about a node's machine. Zero
// values mean "not configured" and the matching resources are left out.
type Hardware struct {
	// MACs are the node's network interfaces (its Wake-on-LAN MAC).
	MACs []net.HardwareAddr
	// Outlets are the PDU outlets feeding it, one per power supply.
	Outlets []Outlet
	// CPUs, MemoryMiB, DiskGB and Arch are the enrollment properties
	// (instackenv.json's cpu, memory, disk, arch), served as inventory.
	CPUs      int
	MemoryMiB int
	DiskGB    int
	Arch      string
}

// Entry is one node as the service serves it.
type Entry struct {
	System      System
	Credentials Credentials
	Hardware    Hardware
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
	// FirmwareVersion is the Managers' FirmwareVersion (default: the
	// module version the binary was built from).
	FirmwareVersion string
	Logger          *slog.Logger
	// now is the clock; tests replace it.
	now func() time.Time
}

// Service is the Redfish service; it is an http.Handler.
type Service struct {
	b        Backend
	log      *slog.Logger
	uuid     string
	firmware string
	now      func() time.Time
	sessions *sessionTable
	limiter  *failureLimiter
	// audit writes refusals, rate-limited per source address.
	audit  *audit.Log
	routes []*route
	// patchMu serialises changes to one node's resources (striped by
	// name), so that an If-Match checked is still current when applied.
	patchMu [64]sync.Mutex
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
		opt.ServiceUUID = uuid.NewString()
	}
	if opt.FirmwareVersion == "" {
		opt.FirmwareVersion = buildVersion()
	}
	s := &Service{
		b:        b,
		log:      opt.Logger,
		uuid:     opt.ServiceUUID,
		firmware: opt.FirmwareVersion,
		now:      opt.now,
		sessions: newSessionTable(opt.SessionTimeout, opt.MaxSessions, opt.now),
		limiter:  &failureLimiter{perMinute: opt.AuthFailuresPerMinute, now: opt.now, m: map[string]*failWindow{}},
		audit:    audit.New(opt.Logger, "redfish", audit.Options{Now: opt.now}),
	}
	s.routes = s.routeTable()
	return s
}

// buildVersion is the version of the module the binary was built from.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// nodeLock is the lock serialising changes to the named node's resources.
func (s *Service) nodeLock(name string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(name))
	return &s.patchMu[h.Sum32()%uint32(len(s.patchMu))]
}

// Resource paths.
const (
	rootPath           = "/redfish/v1/"
	odataPath          = "/redfish/v1/odata"
	metadataPath       = "/redfish/v1/$metadata"
	systemsPath        = "/redfish/v1/Systems"
	managersPath       = "/redfish/v1/Managers"
	chassisCollPath    = "/redfish/v1/Chassis"
	sessionServicePath = "/redfish/v1/SessionService"
	sessionsPath       = "/redfish/v1/SessionService/Sessions"
	accountServicePath = "/redfish/v1/AccountService"
	accountsPath       = "/redfish/v1/AccountService/Accounts"
	rolesPath          = "/redfish/v1/AccountService/Roles"
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
		writeJSON(sw, r, aerr.status, aerr.body())
	}
	s.log.Debug("redfish request", "method", r.Method, "path", truncate(r.URL.Path), "status", sw.status,
		"user", truncate(user), "remote", r.RemoteAddr, "duration", time.Since(start).Round(time.Microsecond))
}

// writeJSON sends v as the response. A HEAD request gets the headers of
// the GET, Content-Length included, and no body.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		// Only our own maps are encoded; this cannot happen.
		status = http.StatusInternalServerError
		b, _ = json.Marshal(newError(status, msg("InternalError")).body())
	}
	b = append(b, '\n')
	writeBody(w, r, status, "application/json; charset=utf-8", b)
}

func writeBody(w http.ResponseWriter, r *http.Request, status int, contentType string, b []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

func odataID(path string) map[string]any { return map[string]any{"@odata.id": path} }
