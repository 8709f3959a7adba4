package httpapi

import (
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/buildinfo"
	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
)

// client is a handler under test with helpers for requests.
type client struct {
	t *testing.T
	h http.Handler
}

func newClient(t *testing.T, r *fakeRack) *client {
	return &client{t: t, h: NewWithOptions(r, Options{Logger: slog.New(slog.DiscardHandler), Metrics: r.metrics.Registry})}
}

func (c *client) do(method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	c.h.ServeHTTP(w, req)
	return w
}

// post sends what the live page sends.
func (c *client) post(path, body string) *httptest.ResponseRecorder {
	c.t.Helper()
	return c.do("POST", path, body, "Content-Type", "application/json", RequestedByHeader, "powerjockey")
}

func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json (body %s)", ct, w.Body)
	}
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %s: %v", w.Body, err)
	}
	return v
}

func wantStatus(t *testing.T, w *httptest.ResponseRecorder, status int) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d; body: %s", w.Code, status, w.Body)
	}
}

func TestListNodes(t *testing.T) {
	c := newClient(t, demoRack(t))
	w := c.do("GET", "/api/v1/nodes", "")
	wantStatus(t, w, 200)
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	nodes := decode[[]node.View](t, w)
	var names []string
	byName := map[string]node.View{}
	for _, n := range nodes {
		names = append(names, n.Name)
		byName[n.Name] = n
	}
	if !slices.IsSorted(names) || len(names) != 14 {
		t.Fatalf("names %v: want 14, sorted", names)
	}
	for _, tc := range []struct {
		name, power, source string
		watts               float64 // -1: none
		busy, manual, err   bool
	}{
		{"compute-0", "on", "metering", 142, false, false, false},
		{"compute-2", "off", "outlet", 0, false, false, false},
		{"compute-3", "off", "metering", 3, false, false, false},
		{"storage-0", "on", "outlet", -1, false, false, false},
		{"probe-1", "off", "probe", -1, false, false, false},
		{"dead-0", "unknown", "", -1, false, false, true},
		{"manual-0", "on", "recorded", -1, false, true, false},
		{"manual-1", "unknown", "recorded", -1, false, false, false},
		{"busy-0", "on", "outlet", -1, true, false, false},
	} {
		n := byName[tc.name]
		if n.Power.String() != tc.power || string(n.Source) != tc.source || n.Busy != tc.busy ||
			(n.Manual != nil) != tc.manual || (n.StatusErr != "") != tc.err {
			t.Errorf("%s: %+v, want %+v", tc.name, n, tc)
		}
		if (tc.watts < 0) != (n.Watts == nil) || (n.Watts != nil && *n.Watts != tc.watts) {
			t.Errorf("%s: watts %v, want %v", tc.name, n.Watts, tc.watts)
		}
		if n.GUID.IsZero() || n.Boot.Device == "" {
			t.Errorf("%s: no GUID or boot device: %+v", tc.name, n)
		}
	}
	if m := byName["manual-0"].Manual; m == nil || m.Action != power.On || time.Since(m.Since) > time.Minute {
		t.Errorf("manual-0 manual action %+v", m)
	}
	if a := byName["busy-0"].LastAction; a == nil || a.Result != "running" || a.Means != "pdu" {
		t.Errorf("busy-0 last action %+v", a)
	}
	if a := byName["failed-0"].LastAction; a == nil || a.Result != "error" || !strings.Contains(a.Error, "did not answer") {
		t.Errorf("failed-0 last action %+v", a)
	}
}

// TestJSONFieldNames pins the field names other tools (the CLI's status
// command) read: renaming one is a breaking change.
func TestJSONFieldNames(t *testing.T) {
	c := newClient(t, demoRack(t))
	keys := func(path string) []string {
		m := decode[map[string]any](t, c.do("GET", "/api/v1/nodes/"+path, ""))
		var ks []string
		for k, v := range m {
			ks = append(ks, k)
			if sub, ok := v.(map[string]any); ok {
				for k2 := range sub {
					ks = append(ks, k+"."+k2)
				}
			}
		}
		slices.Sort(ks)
		return ks
	}
	base := []string{"boot", "boot.device", "boot.persistent", "boot.uefi", "boot.valid", "busy", "guid", "name", "power", "recorded_power", "source"}
	for _, tc := range []struct {
		node string
		more []string
	}{
		{"compute-0", []string{"observed_at", "watts"}},
		{"dead-0", []string{"status_error"}},
		{"manual-0", []string{"last_action", "last_action.action", "last_action.at", "last_action.by", "last_action.duration_ns",
			"last_action.means", "last_action.result", "manual_action", "manual_action.action", "manual_action.since", "observed_at"}},
		{"failed-0", []string{"last_action", "last_action.action", "last_action.at", "last_action.by", "last_action.duration_ns",
			"last_action.error", "last_action.means", "last_action.result", "observed_at"}},
	} {
		want := slices.Sorted(slices.Values(append(slices.Clone(base), tc.more...)))
		if got := keys(tc.node); !slices.Equal(got, want) {
			t.Errorf("%s: keys\n%v\nwant\n%v", tc.node, got, want)
		}
	}
}

func TestListNodesStateFilter(t *testing.T) {
	c := newClient(t, demoRack(t))
	for state, want := range map[string][]string{
		"on":      {"busy-0", "compute-0", "compute-1", "manual-0", "probe-0", "storage-0"},
		"off":     {"compute-2", "compute-3", "failed-0", "probe-1", "storage-1"},
		"unknown": {"dead-0", "manual-1", "strict-0"},
	} {
		w := c.do("GET", "/api/v1/nodes?state="+state, "")
		wantStatus(t, w, 200)
		var got []string
		for _, n := range decode[[]node.View](t, w) {
			got = append(got, n.Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("state=%s: %v, want %v", state, got, want)
		}
	}
	wantStatus(t, c.do("GET", "/api/v1/nodes?state=bogus", ""), 400)
}

func TestGetNode(t *testing.T) {
	c := newClient(t, demoRack(t))
	w := c.do("GET", "/api/v1/nodes/compute-1", "")
	wantStatus(t, w, 200)
	if n := decode[node.View](t, w); n.Name != "compute-1" || n.Power != power.StateOn || n.Watts == nil || *n.Watts != 118 {
		t.Errorf("compute-1: %+v", n)
	}
	w = c.do("GET", "/api/v1/nodes/nope", "")
	wantStatus(t, w, 404)
	if e := decode[map[string]string](t, w); e["error"] == "" {
		t.Errorf("404 without an error message: %s", w.Body)
	}
}

func TestPowerAction(t *testing.T) {
	for _, tc := range []struct {
		name, node, body string
		status           int
		feed             []power.Action // the PDU's calls, if the node has one
		power, manual    string         // the answer's power and manual action
	}{
		{"on", "compute-2", `{"action":"on"}`, 200, []power.Action{power.On}, "on", ""},
		{"off", "compute-0", `{"action": "off"}`, 200, []power.Action{power.Off}, "off", ""},
		{"cycle", "storage-0", `{"action":"cycle"}`, 200, []power.Action{power.Off, power.On}, "", ""},
		{"manual fallback", "manual-1", `{"action":"off"}`, 200, nil, "off", "off"},
		{"soft without a hook is manual", "compute-0", `{"action":"soft"}`, 200, nil, "", "soft"},
		{"unsupported diag", "compute-0", `{"action":"diag"}`, 409, nil, "", ""},
		{"no means and fallback error", "strict-0", `{"action":"on"}`, 409, nil, "", ""},
		{"unknown action", "compute-0", `{"action":"explode"}`, 400, nil, "", ""},
		{"not JSON", "compute-0", `action=on`, 400, nil, "", ""},
		{"no such node", "nope", `{"action":"on"}`, 404, nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := demoRack(t)
			c := newClient(t, r)
			w := c.post("/api/v1/nodes/"+tc.node+"/power", tc.body)
			wantStatus(t, w, tc.status)
			if tc.status != 200 {
				if e := decode[map[string]string](t, w); e["error"] == "" {
					t.Errorf("no error message: %s", w.Body)
				}
			} else {
				n := decode[node.View](t, w)
				if tc.power != "" && n.Power.String() != tc.power {
					t.Errorf("power %q, want %q", n.Power, tc.power)
				}
				got := ""
				if n.Manual != nil {
					got = n.Manual.Action.String()
				}
				if got != tc.manual {
					t.Errorf("manual action %q, want %q", got, tc.manual)
				}
			}
			if f := r.feeds[tc.node]; f != nil {
				// A cycle's "on" runs after the cycle delay.
				deadline := time.Now().Add(2 * time.Second)
				for len(f.Journal().Actions()) < len(tc.feed) && time.Now().Before(deadline) {
					time.Sleep(5 * time.Millisecond)
				}
				if got := f.Journal().Actions(); !slices.Equal(got, tc.feed) {
					t.Errorf("PDU calls %v, want %v", got, tc.feed)
				}
			}
		})
	}
}

func TestPowerActionDeviceError(t *testing.T) {
	r := demoRack(t)
	c := newClient(t, r)
	setDoErr(r.feeds["storage-1"], power.ErrTimeout)
	w := c.post("/api/v1/nodes/storage-1/power", `{"action":"on"}`)
	wantStatus(t, w, http.StatusBadGateway)
	if e := decode[map[string]string](t, w); !strings.Contains(e["error"], "did not answer") {
		t.Errorf("error %q", e["error"])
	}
	n := decode[node.View](t, c.do("GET", "/api/v1/nodes/storage-1", ""))
	if n.LastAction == nil || n.LastAction.Result != "error" {
		t.Errorf("last action %+v, want an error", n.LastAction)
	}
}

func TestAcknowledge(t *testing.T) {
	r := demoRack(t)
	c := newClient(t, r)
	w := c.post("/api/v1/nodes/manual-0/acknowledge", "")
	wantStatus(t, w, 200)
	if n := decode[node.View](t, w); n.Manual != nil || n.Name != "manual-0" {
		t.Errorf("answer %+v, want no manual action", n)
	}
	if m := r.byName["manual-0"].Snapshot().Persisted.Manual; m != nil {
		t.Errorf("node still has a manual action: %+v", m)
	}
	// Nothing pending: still fine.
	wantStatus(t, c.post("/api/v1/nodes/compute-0/acknowledge", ""), 200)
	wantStatus(t, c.post("/api/v1/nodes/nope/acknowledge", ""), 404)
}

func TestCSRF(t *testing.T) {
	r := demoRack(t)
	c := newClient(t, r)
	const path = "/api/v1/nodes/compute-2/power"
	const body = `{"action":"on"}`
	for _, tc := range []struct {
		name   string
		hdr    []string
		status int
	}{
		// What a cross-site <form> or a no-cors fetch can send.
		{"no headers", nil, 403},
		{"form", []string{"Content-Type", "application/x-www-form-urlencoded"}, 403},
		{"multipart", []string{"Content-Type", "multipart/form-data; boundary=x"}, 403},
		{"text/plain", []string{"Content-Type", "text/plain"}, 403},
		{"JSON from another origin", []string{"Content-Type", "application/json", "Origin", "https://evil.example"}, 403},
		{"header from another port", []string{RequestedByHeader, "x", "Origin", "http://example.com:8080"}, 403},
		{"null origin", []string{"Content-Type", "application/json", "Origin", "null"}, 403},
		// What the page, curl and scripts send.
		// curl -d adds a form Content-Type; the header alone proves the
		// request is not cross-site, and the body is parsed as JSON.
		{"header with curl's form type", []string{RequestedByHeader, "powerjockey", "Content-Type", "application/x-www-form-urlencoded"}, 200},
		{"header only", []string{RequestedByHeader, "powerjockey"}, 200},
		{"JSON only", []string{"Content-Type", "application/json; charset=utf-8"}, 200},
		{"same origin", []string{"Content-Type", "application/json", "Origin", "http://example.com"}, 200},
		{"behind a proxy", []string{"Content-Type", "application/json", "Origin", "https://pj.example", "X-Forwarded-Host", "pj.example"}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// An accepted request is an action of the node (switching
			// nothing once the node is on); a refused one is none.
			last := func() time.Time {
				if a := r.byName["compute-2"].Snapshot().Persisted.LastAction; a != nil {
					return a.At
				}
				return time.Time{}
			}
			before := last()
			w := c.do("POST", path, body, tc.hdr...) // httptest's Host is example.com
			wantStatus(t, w, tc.status)
			acted := !last().Equal(before)
			if acted != (tc.status == 200) {
				t.Errorf("node acted: %v", acted)
			}
		})
	}
	// Acknowledge is guarded the same way.
	wantStatus(t, c.do("POST", "/api/v1/nodes/manual-0/acknowledge", ""), 403)
	if r.byName["manual-0"].Snapshot().Persisted.Manual == nil {
		t.Error("a refused acknowledge cleared the manual action")
	}
	// A preflight gets no CORS grant.
	w := c.do("OPTIONS", path, "", "Origin", "https://evil.example", "Access-Control-Request-Method", "POST")
	if w.Code < 400 || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight: %d %v", w.Code, w.Header())
	}
	// Reads need no header.
	wantStatus(t, c.do("GET", "/api/v1/nodes", ""), 200)
}

func TestPageAndStatic(t *testing.T) {
	c := newClient(t, demoRack(t))
	for _, tc := range []struct{ path, ctype string }{
		{"/", "text/html; charset=utf-8"},
		{"/static/app.js", "text/javascript; charset=utf-8"},
		{"/static/app.css", "text/css; charset=utf-8"},
		{"/static/favicon.svg", "image/svg+xml"},
	} {
		w := c.do("GET", tc.path, "")
		wantStatus(t, w, 200)
		h := w.Header()
		if h.Get("Content-Type") != tc.ctype {
			t.Errorf("%s: Content-Type %q, want %q", tc.path, h.Get("Content-Type"), tc.ctype)
		}
		csp := h.Get("Content-Security-Policy")
		if !strings.HasPrefix(csp, "default-src 'self';") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", tc.path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", tc.path, h)
		}
		etag := h.Get("ETag")
		if etag == "" {
			t.Errorf("%s: no ETag", tc.path)
			continue
		}
		wantStatus(t, c.do("GET", tc.path, "", "If-None-Match", etag), 304)
	}
	for _, p := range []string{"/static/", "/static/nope.js", "/static/index.html", "/static/..%2fpage.go", "/index.html", "/nope"} {
		if w := c.do("GET", p, ""); w.Code != 404 && w.Code != 301 {
			t.Errorf("%s: %d, want 404 (or a redirect): %.80s", p, w.Code, w.Body)
		}
	}
	w := c.do("GET", "/healthz", "")
	wantStatus(t, w, 200)
	if w.Body.String() != "ok\n" || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		t.Errorf("healthz: %q %q", w.Body, w.Header().Get("Content-Type"))
	}
	wantStatus(t, c.do("GET", "/api/v1/nodes/compute-0/power", ""), 405)
	wantStatus(t, c.do("DELETE", "/api/v1/nodes/compute-0", "", RequestedByHeader, "x"), 405)
}

// TestPageFilesAreCSPClean checks statically what the CSP enforces in the
// browser: no inline script, style or handler, nothing from another origin.
func TestPageFilesAreCSPClean(t *testing.T) {
	scripts := regexp.MustCompile(`(?s)<script([^>]*)>(.*?)</script>`)
	inline := []*regexp.Regexp{
		regexp.MustCompile(`<style`),
		regexp.MustCompile(`\sstyle=`),
		regexp.MustCompile(`\son[a-z]+=`),
		regexp.MustCompile(`javascript:`),
	}
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	err := fs.WalkDir(webFS, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(webFS, name)
		if err != nil {
			return err
		}
		s := string(b)
		if strings.HasSuffix(name, ".html") {
			if strings.Count(s, "<script") != len(scripts.FindAllString(s, -1)) {
				t.Errorf("%s: a <script> tag without its </script>", name)
			}
			for _, m := range scripts.FindAllStringSubmatch(s, -1) {
				if !strings.Contains(m[1], "src=") || strings.TrimSpace(m[2]) != "" {
					t.Errorf("%s: inline script %q is refused by the CSP", name, m[0])
				}
			}
			for _, re := range inline {
				if m := re.FindString(s); m != "" {
					t.Errorf("%s: inline code %q is refused by the CSP", name, m)
				}
			}
		}
		for _, m := range external.FindAllString(s, -1) {
			if m != "http://www.w3.org" { // the SVG namespace, not a fetch
				t.Errorf("%s: refers to another origin: %q", name, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	c := newClient(t, demoRack(t))
	// A scrape reads no sensor; a listing does.
	wantStatus(t, c.do("GET", "/api/v1/nodes", ""), 200)
	w := c.do("GET", "/metrics", "")
	wantStatus(t, w, 200)
	body := w.Body.String()
	for _, s := range []string{
		`powerjockey_nodes 14`,
		`powerjockey_node_power_state{node="compute-0",source="metering"} 1`,
		`powerjockey_node_manual_action_pending{action="on",node="manual-0"} 1`,
		`powerjockey_manual_actions_pending 1`,
		`powerjockey_node_action_in_progress{node="busy-0"} 1`,
	} {
		if !strings.Contains(body, s) {
			t.Errorf("/metrics lacks %s", s)
		}
	}
}

func TestVersion(t *testing.T) {
	c := newClient(t, demoRack(t))
	w := c.do("GET", "/api/v1/version", "")
	wantStatus(t, w, 200)
	got := decode[buildinfo.Info](t, w)
	if want := buildinfo.Get(); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
