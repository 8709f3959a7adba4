package boot

import (
	"context"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/powerjockey/powerjockey/pkg/internal/audit"
	"github.com/powerjockey/powerjockey/pkg/node"
)

// Node is what the endpoint needs of a node; *node.Node implements it.
type Node interface {
	Name() string
	// Boot and Media read the override and the virtual CD without using
	// anything up (HEAD requests).
	Boot() node.Boot
	Media() node.Media
	// TakeBoot is the machine booting now: it returns what the script must
	// do and uses up a next-boot-only override.
	TakeBoot(ctx context.Context, from string) node.BootTaken
	// RecordBootScript puts the served script in the node's event log.
	RecordBootScript(ctx context.Context, t node.BootTaken, from, does string, warn bool)
	// MediaServeFailed and MediaServed report serving the virtual CD's
	// image, inserted as id, to the machine.
	MediaServeFailed(id string, err error)
	MediaServed(id string)
}

var _ Node = (*node.Node)(nil)

// Backend finds nodes; it is asked on every request, so a configuration
// reload needs nothing from the endpoint.
type Backend interface {
	// ByMAC returns the node whose NIC has the MAC address, and its
	// settings.
	ByMAC(mac net.HardwareAddr) (Node, Settings, bool)
	// ByName returns the named node.
	ByName(name string) (Node, bool)
}

// Options configure a Server.
type Options struct {
	// Redirect sends the machine to an http:// image's own server (which
	// supports Range requests: it was checked at insertion) instead of
	// streaming it through powerjockey. https:// and password-protected
	// images are always streamed.
	Redirect bool
	// Client fetches images (default: NewImageClient()).
	Client *http.Client
	Logger *slog.Logger
}

// Server is the boot endpoint; it is an http.Handler.
type Server struct {
	b      Backend
	opt    Options
	log    *slog.Logger
	client *http.Client
	// refusals writes the lines about requests the endpoint cannot place
	// (unknown or malformed MACs), rate-limited per source address and in
	// all: any machine of the network can ask.
	refusals *audit.Log

	// unknown rate-limits the log line of an unknown MAC: every machine of
	// the site's DHCP scope fetches a script, not only powerjockey's.
	mu      sync.Mutex
	unknown map[string]time.Time
}

// unknownLogEvery is how often an unknown MAC is logged.
const unknownLogEvery = time.Minute

// NewServer returns the endpoint for b.
func NewServer(b Backend, opt Options) *Server {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Client == nil {
		opt.Client = NewImageClient()
	}
	return &Server{b: b, opt: opt, log: opt.Logger, client: opt.Client, unknown: map[string]time.Time{},
		refusals: audit.New(opt.Logger, "boot", audit.Options{})}
}

// ScriptPath is the path of the boot script; the DHCP server hands out
// http://HOST:PORT/boot.ipxe (the script asks again with the MAC).
const ScriptPath = "/boot.ipxe"

const mediaPrefix = "/media/"

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch {
	case r.URL.Path == ScriptPath:
		s.serveScript(w, r)
	case strings.HasPrefix(r.URL.Path, mediaPrefix):
		s.serveMedia(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) serveScript(w http.ResponseWriter, r *http.Request) {
	// A malformed query still yields the parameters before the fault.
	q, _ := url.ParseQuery(r.URL.RawQuery)
	if !q.Has("mac") {
		writeScript(w, r, askMACScript)
		return
	}
	raw := q.Get("mac")
	mac, ok := ParseMAC(raw)
	if !ok {
		s.refusals.Write(r.Context(), slog.LevelWarn, "boot script request with a malformed mac parameter", r.RemoteAddr, "",
			"mac", strconv.QuoteToASCII(truncate(raw)))
		writeScript(w, r, badMACScript)
		return
	}
	n, settings, ok := s.b.ByMAC(mac)
	if !ok {
		s.logUnknown(r, mac.String())
		writeScript(w, r, unknownScript(mac.String()))
		return
	}
	if r.Method == http.MethodHead {
		// A HEAD is not a boot: nothing is used up.
		sc := Render(n.Name(), mac.String(), node.BootTaken{Boot: n.Boot(), Media: n.Media()}, settings, s.mediaURL(r, n.Name(), n.Media()))
		writeScript(w, r, sc.Text)
		return
	}
	t := n.TakeBoot(r.Context(), r.RemoteAddr)
	sc := Render(n.Name(), mac.String(), t, settings, s.mediaURL(r, n.Name(), t.Media))
	n.RecordBootScript(r.Context(), t, r.RemoteAddr, sc.Does, sc.Fallback)
	writeScript(w, r, sc.Text)
}

func writeScript(w http.ResponseWriter, r *http.Request, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(text)))
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(text))
	}
}

// logUnknown logs an unknown MAC at most once a minute per MAC (a machine
// that is not powerjockey's boots again and again), within the audit
// log's rate per source; the table is bounded, and reset when full.
func (s *Server) logUnknown(r *http.Request, mac string) {
	s.mu.Lock()
	now := time.Now()
	last, seen := s.unknown[mac]
	log := !seen || now.Sub(last) >= unknownLogEvery
	if log {
		if len(s.unknown) >= 4096 {
			s.unknown = map[string]time.Time{}
		}
		s.unknown[mac] = now
	}
	s.mu.Unlock()
	if log {
		s.refusals.Write(r.Context(), slog.LevelWarn, "boot script request from an unknown MAC address: answered with a script that exits",
			r.RemoteAddr, "", "mac", mac)
	}
}

// mediaURL is where the machine reads the virtual CD's image from: this
// endpoint, at the address the machine used to reach it.
func (s *Server) mediaURL(r *http.Request, name string, m node.Media) string {
	if !m.Attached() {
		return ""
	}
	return "http://" + requestHost(r) + mediaPrefix + url.PathEscape(name) + "/" + m.ID + "/" + mediaFile(m)
}

var hostRE = regexp.MustCompile(`^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$`)

// requestHost is the Host the machine asked for, when it is a plain host
// name or address (it goes into the script), else the local address the
// request came in on.
func requestHost(r *http.Request) string {
	if hostRE.MatchString(r.Host) {
		return r.Host
	}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		return a.String()
	}
	return "localhost"
}

var fileRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// mediaFile is the last element of the image's URL on the endpoint: its
// own name when that is plain, for the logs of the machine's firmware.
func mediaFile(m node.Media) string {
	if n := m.ImageName(); fileRE.MatchString(n) && n != "." && n != ".." {
		return n
	}
	return "image.iso"
}

// ParseMAC parses a MAC address as iPXE prints it (${net0/mac}:
// 52:54:00:12:34:56), with hyphens (${net0/mac:hexhyp}), dots, or as 12
// hex digits; only 6-byte addresses.
func ParseMAC(s string) (net.HardwareAddr, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 32 {
		return nil, false
	}
	if len(s) == 12 {
		b, err := hex.DecodeString(s)
		if err == nil {
			return net.HardwareAddr(b), true
		}
	}
	mac, err := net.ParseMAC(s)
	if err != nil || len(mac) != 6 {
		return nil, false
	}
	return mac, true
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
