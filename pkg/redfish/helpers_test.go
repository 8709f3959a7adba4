package redfish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/account"
	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// fakeSystem is a System with settable answers that records what it is asked.
type fakeSystem struct {
	name string
	guid node.GUID

	mu       sync.Mutex
	boot     node.Boot
	validFor time.Duration
	updates  int
	reading  power.Reading
	readErr  error
	powerErr error
	// supports overrides Supports per action; missing actions are ByMeans,
	// except Diag, which is Unsupported.
	supports map[power.Action]node.Support
	actions  []power.Action
	// beforeUpdate runs inside UpdateBoot before fn, on the boot fn gets:
	// another client's change racing this one.
	beforeUpdate func(*node.Boot)
	// snapErr is the Snapshot's ReadingErr: the last refresh failed.
	snapErr error
	// lagging is the Snapshot's Lagging: the node calls its reading old.
	lagging   bool
	indicator node.Indicator
	events    []node.Event
	cleared   int
	samples   []node.MeterSample
	// noMedia is a node without a boot endpoint: no virtual CD.
	noMedia bool
	media   node.Media
	// mediaErr is what InsertMedia returns; inserts what it was given.
	mediaErr error
	inserts  []node.Media
}

func newFakeSystem(name string) *fakeSystem {
	return &fakeSystem{name: name, guid: node.NewGUID(), boot: node.Boot{Device: node.BootNone},
		reading: power.Reading{State: power.StateOff, Source: "outlet", At: time.Now()}}
}

func (f *fakeSystem) Name() string    { return f.name }
func (f *fakeSystem) GUID() node.GUID { return f.guid }

func (f *fakeSystem) PowerState(context.Context) (power.Reading, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reading, f.readErr
}

func (f *fakeSystem) Power(_ context.Context, a power.Action) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.actions = append(f.actions, a)
	return f.powerErr
}

func (f *fakeSystem) Supports(a power.Action) node.Support {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.supports[a]; ok {
		return s
	}
	if a == power.Diag {
		return node.Unsupported
	}
	return node.ByMeans
}

func (f *fakeSystem) Boot() node.Boot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.boot
}

func (f *fakeSystem) UpdateBoot(_ context.Context, fn func(*node.Boot), validFor time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.boot
	if f.beforeUpdate != nil {
		f.beforeUpdate(&b)
	}
	fn(&b)
	f.boot, f.validFor = b, validFor
	f.updates++
	return nil
}

func (f *fakeSystem) Snapshot() node.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	var age time.Duration
	if !f.reading.At.IsZero() {
		age = time.Since(f.reading.At)
	}
	return node.Snapshot{Name: f.name, Persisted: node.Persisted{GUID: f.guid, Boot: f.boot, Indicator: f.indicator},
		Reading: f.reading, ReadingErr: f.snapErr, ReadingAge: age, Lagging: f.lagging}
}

func (f *fakeSystem) Indicator() node.Indicator {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.indicator == "" {
		return node.IndicatorOff
	}
	return f.indicator
}

func (f *fakeSystem) SetIndicator(_ context.Context, i node.Indicator) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !i.Valid() {
		return errors.New("invalid indicator")
	}
	f.indicator = i
	return nil
}

func (f *fakeSystem) Events() ([]node.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]node.Event(nil), f.events...), nil
}

func (f *fakeSystem) EventLogSize() int { return node.DefaultEventLogSize }

func (f *fakeSystem) ClearEvents(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleared++
	by := node.RequesterFrom(ctx)
	f.events = []node.Event{{ID: 1000 + uint32(f.cleared), At: time.Now(), Kind: node.EventLogCleared, Severity: node.SeverityOK,
		Message: "Event log cleared by " + by.User + ".", By: &by}}
	return nil
}

func (f *fakeSystem) MeterSamples(since time.Time) []node.MeterSample {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []node.MeterSample
	for _, s := range f.samples {
		if !s.At.Before(since) {
			out = append(out, s)
		}
	}
	return out
}

func (f *fakeSystem) HasVirtualMedia() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.noMedia
}

func (f *fakeSystem) Media() node.Media {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.media
}

func (f *fakeSystem) InsertMedia(_ context.Context, m node.Media) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inserts = append(f.inserts, m)
	if f.mediaErr != nil {
		return f.mediaErr
	}
	m.ID = fmt.Sprintf("id%d", len(f.inserts))
	f.media = m
	return nil
}

func (f *fakeSystem) SetMediaInserted(_ context.Context, inserted bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.media.Attached() {
		f.media.Inserted = inserted
	}
	return nil
}

func (f *fakeSystem) EjectMedia(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.media = node.Media{}
	return nil
}

func (f *fakeSystem) set(fn func(f *fakeSystem)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeSystem) snapshot() (node.Boot, time.Duration, int, []power.Action) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.boot, f.validFor, f.updates, append([]power.Action(nil), f.actions...)
}

// fakeBackend serves a settable list of entries.
type fakeBackend struct {
	mu      sync.Mutex
	entries []Entry
}

func (b *fakeBackend) Systems() []Entry {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Entry(nil), b.entries...)
}

func (b *fakeBackend) System(name string) (Entry, bool) {
	for _, e := range b.Systems() {
		if e.System.Name() == name {
			return e, true
		}
	}
	return Entry{}, false
}

func (b *fakeBackend) setPassword(name, pw string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range b.entries {
		if b.entries[i].System.Name() == name {
			b.entries[i].Credentials.Password = pw
		}
	}
}

// fixture is a service over three nodes: compute-0 and compute-1 of
// admin/password, other-0 of a read-only user.
type fixture struct {
	svc     *Service
	backend *fakeBackend
	sys     map[string]*fakeSystem
	log     *testkit.Log
	clock   *testkit.Clock
}

func newFixture(t *testing.T, opt Options) *fixture {
	t.Helper()
	f := &fixture{backend: &fakeBackend{}, sys: map[string]*fakeSystem{}, log: &testkit.Log{},
		clock: testkit.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))}
	for _, n := range []struct {
		name, user, pw string
		role           account.Role
		hw             Hardware
	}{
		{"compute-0", "admin", "password", account.Administrator, Hardware{
			MACs:    []net.HardwareAddr{{0x52, 0x54, 0, 0xcc, 0, 1}},
			Outlets: []Outlet{{"rack1", 3}, {"rack1", 4}},
			CPUs:    8, MemoryMiB: 16384, DiskGB: 100, Arch: "x86_64"}},
		{"compute-1", "admin", "password", account.Administrator, Hardware{}},
		{"other-0", "viewer", "viewer-secret", account.ReadOnly, Hardware{MACs: []net.HardwareAddr{{0x52, 0x54, 0, 0xcc, 0, 2}}}},
	} {
		s := newFakeSystem(n.name)
		s.noMedia = n.name == "compute-1"
		f.sys[n.name] = s
		f.backend.entries = append(f.backend.entries, Entry{System: s, Credentials: Credentials{Username: n.user, Password: n.pw, Role: n.role},
			Hardware: n.hw})
	}
	opt.Logger = slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opt.now = f.clock.Now
	if opt.ServiceUUID == "" {
		opt.ServiceUUID = "4f0e2a4c-6b1d-4c55-9a59-2e4f8e1b7c3d"
	}
	f.svc = New(f.backend, opt)
	return f
}

// req describes one request.
type req struct {
	method, path, body string
	user, pw           string // basic auth when user != ""
	token              string
	header             map[string]string
	remote             string // the client's address (httptest's default when "")
}

func (f *fixture) do(t *testing.T, r req) *httptest.ResponseRecorder {
	t.Helper()
	if r.method == "" {
		r.method = http.MethodGet
	}
	var body *strings.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	} else {
		body = strings.NewReader("")
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	if r.remote != "" {
		hr.RemoteAddr = r.remote
	}
	if r.user != "" {
		hr.SetBasicAuth(r.user, r.pw)
	}
	if r.token != "" {
		hr.Header.Set("X-Auth-Token", r.token)
	}
	if r.body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	f.svc.ServeHTTP(w, hr)
	if got := w.Header().Get("OData-Version"); got != "4.0" {
		t.Errorf("%s %s: OData-Version %q, want 4.0", r.method, r.path, got)
	}
	return w
}

// admin is a request as admin/password.
func admin(method, path, body string) req {
	return req{method: method, path: path, body: body, user: "admin", pw: "password"}
}

type errorBody struct {
	Error struct {
		Code    string    `json:"code"`
		Message string    `json:"message"`
		Ext     []message `json:"@Message.ExtendedInfo"`
	} `json:"error"`
}

// redfishError decodes an error response and returns its message keys
// (the MessageIds without the registry prefix).
func redfishError(t *testing.T, w *httptest.ResponseRecorder) (errorBody, []string) {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("error body is not JSON: %v\n%s", err, w.Body.String())
	}
	if len(e.Error.Ext) == 0 {
		t.Fatalf("error body without @Message.ExtendedInfo:\n%s", w.Body.String())
	}
	if e.Error.Code != e.Error.Ext[0].MessageID {
		t.Errorf("error.code %q is not the first message's id %q", e.Error.Code, e.Error.Ext[0].MessageID)
	}
	var keys []string
	for _, m := range e.Error.Ext {
		if !strings.HasPrefix(m.MessageID, registryPrefix) {
			t.Errorf("MessageId %q lacks the registry prefix %q", m.MessageID, registryPrefix)
		}
		if m.Message == "" || m.Severity == "" || m.MessageSeverity != m.Severity || m.Resolution == "" {
			t.Errorf("incomplete message %+v", m)
		}
		if strings.Contains(m.Message, "%") {
			t.Errorf("message with an unfilled argument: %q", m.Message)
		}
		keys = append(keys, strings.TrimPrefix(m.MessageID, registryPrefix))
	}
	return e, keys
}

func decodeJSON(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	return m
}

// field follows a path of keys through decoded JSON.
func field(m map[string]any, path ...string) any {
	var v any = m
	for _, k := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

func members(t *testing.T, m map[string]any) []string {
	t.Helper()
	var out []string
	list, _ := m["Members"].([]any)
	for _, x := range list {
		out = append(out, x.(map[string]any)["@odata.id"].(string))
	}
	if n, _ := m["Members@odata.count"].(float64); int(n) != len(out) {
		t.Errorf("Members@odata.count %v, %d members", m["Members@odata.count"], len(out))
	}
	return out
}
