package boot

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// fakeBackend serves real nodes by MAC and name.
type fakeBackend struct {
	nodes    map[string]*node.Node // by MAC
	settings Settings
}

func (b *fakeBackend) ByMAC(mac net.HardwareAddr) (Node, Settings, bool) {
	n, ok := b.nodes[mac.String()]
	if !ok {
		return nil, Settings{}, false
	}
	return n, b.settings, true
}

func (b *fakeBackend) ByName(name string) (Node, bool) {
	for _, n := range b.nodes {
		if n.Name() == name {
			return n, true
		}
	}
	return nil, false
}

type fixture struct {
	srv  *httptest.Server
	node *node.Node
	log  *testkit.Log
}

const testMAC = "52:54:00:00:00:01"

func newFixture(t *testing.T, opt Options, s Settings) *fixture {
	t.Helper()
	store, err := node.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	lb := &testkit.Log{}
	opt.Logger = slog.New(slog.NewTextHandler(lb, nil))
	n, err := node.New(context.Background(), node.Config{Name: "n1", Logger: opt.Logger,
		Boot: node.BootConfig{FetchesScript: true, Media: &Checker{Timeout: 5 * time.Second}}}, store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	srv := httptest.NewServer(NewServer(&fakeBackend{nodes: map[string]*node.Node{testMAC: n}, settings: s}, opt))
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, node: n, log: lb}
}

func (f *fixture) get(t *testing.T, method, path string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func lastEvent(t *testing.T, n *node.Node) node.Event {
	t.Helper()
	evs, err := n.Events()
	if err != nil || len(evs) == 0 {
		t.Fatalf("events: %v %v", evs, err)
	}
	return evs[len(evs)-1]
}

func TestScriptUsesUpOnceOverride(t *testing.T) {
	f := newFixture(t, Options{}, Settings{Upstream: "http://10.0.0.1/up.ipxe", Default: "exit", Disk: "sanboot"})
	ctx := context.Background()
	if err := f.node.SetBoot(ctx, node.Boot{Valid: true, Device: node.BootPXE}, time.Minute); err != nil {
		t.Fatal(err)
	}
	// HEAD (some firmware asks first) uses nothing up.
	if resp, body := f.get(t, http.MethodHead, "/boot.ipxe?mac="+testMAC, nil); resp.StatusCode != 200 || body != "" || resp.ContentLength <= 0 {
		t.Fatalf("HEAD: %d %q %d", resp.StatusCode, body, resp.ContentLength)
	}
	if !f.node.Boot().Valid {
		t.Fatal("a HEAD used the override up")
	}
	resp, body := f.get(t, http.MethodGet, "/boot.ipxe?mac="+testMAC, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "chain --autofree http://10.0.0.1/up.ipxe || goto failed") ||
		resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET: %d %v\n%s", resp.StatusCode, resp.Header, body)
	}
	if f.node.Boot().Valid {
		t.Error("the served script did not use the override up")
	}
	e := lastEvent(t, f.node)
	if e.Kind != node.EventBootScript || !strings.Contains(e.Message, "(override pxe, next boot only, now used up): Chains the network boot at http://10.0.0.1/up.ipxe.") ||
		e.By == nil || e.By.Channel != "boot" || !strings.HasPrefix(e.By.Source, "127.0.0.1:") {
		t.Errorf("event %+v", e)
	}
	// The next boot does the default.
	if _, body := f.get(t, http.MethodGet, "/boot.ipxe?mac=52-54-00-00-00-01", nil); !strings.Contains(body, "no boot override: exiting to the firmware") {
		t.Errorf("second boot:\n%s", body)
	}
	if !strings.Contains(f.log.String(), "boot script served") {
		t.Errorf("log:\n%s", f.log)
	}
}

func TestScriptRequests(t *testing.T) {
	f := newFixture(t, Options{}, Settings{Default: "exit", Disk: "sanboot"})
	tests := []struct {
		path, want string
	}{
		{"/boot.ipxe", "#!ipxe\nchain boot.ipxe?mac=${netX/mac:hexhyp}\n"},
		{"/boot.ipxe?mac=", badMACScript},
		{"/boot.ipxe?mac=zz:00", badMACScript},
		{"/boot.ipxe?mac=02:00:00:00:00:09", "#!ipxe\necho powerjockey: no node has the MAC address 02:00:00:00:00:09; going on with the boot order of the firmware\nexit\n"},
		{"/boot.ipxe?mac=525400000001", "# powerjockey: the boot script of n1 (52:54:00:00:00:01)"},
		{"/boot.ipxe?mac=52:54:00:00:00:01&x=%zz", "# powerjockey: the boot script of n1 (52:54:00:00:00:01)"},
		{"/boot.ipxe?mac=52%3A54%3A00%3A00%3A00%3A01", "# powerjockey: the boot script of n1"},
		{"/boot.ipxe?mac=5254.0000.0001", "# powerjockey: the boot script of n1"},
		{"/boot.ipxe?mac=52:54:00:00:00:01:00:00", badMACScript},
	}
	for _, tt := range tests {
		resp, body := f.get(t, http.MethodGet, tt.path, nil)
		if resp.StatusCode != 200 || !strings.Contains(body, tt.want) {
			t.Errorf("GET %s: %d\n%s\nwant %q", tt.path, resp.StatusCode, body, tt.want)
		}
	}
	// An unknown MAC is logged once a minute, not per request.
	f.get(t, http.MethodGet, "/boot.ipxe?mac=02:00:00:00:00:09", nil)
	if c := strings.Count(f.log.String(), "unknown MAC address"); c != 1 {
		t.Errorf("unknown MAC logged %d times:\n%s", c, f.log)
	}
	if !strings.Contains(f.log.String(), "malformed mac parameter") {
		t.Error("a malformed mac was not logged")
	}
	if resp, _ := f.get(t, http.MethodPost, "/boot.ipxe?mac="+testMAC, nil); resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d", resp.StatusCode)
	}
	if resp, _ := f.get(t, http.MethodGet, "/other", nil); resp.StatusCode != 404 {
		t.Errorf("GET /other: %d", resp.StatusCode)
	}
}

// imageServer serves an image with Range support (http.ServeContent), or
// without it, and counts requests.
type imageServer struct {
	*httptest.Server
	data     []byte
	noRanges bool
	mu       sync.Mutex
	ranges   []string
}

func newImageServer(t *testing.T, size int, noRanges bool) *imageServer {
	t.Helper()
	s := &imageServer{data: make([]byte, size), noRanges: noRanges}
	for i := range s.data {
		s.data[i] = byte(i * 7)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.ranges = append(s.ranges, r.Header.Get("Range"))
		s.mu.Unlock()
		switch {
		case r.URL.Path == "/secret.iso":
			if u, p, ok := r.BasicAuth(); !ok || u != "img" || p != "pw" {
				http.Error(w, "no", http.StatusUnauthorized)
				return
			}
		case r.URL.Path != "/image.iso":
			http.NotFound(w, r)
			return
		}
		if s.noRanges {
			w.Write(s.data)
			return
		}
		http.ServeContent(w, r, "image.iso", time.Time{}, bytes.NewReader(s.data))
	}))
	t.Cleanup(s.Close)
	return s
}

func TestVirtualCDServed(t *testing.T) {
	for _, redirect := range []bool{false, true} {
		name := "stream"
		if redirect {
			name = "redirect"
		}
		t.Run(name, func(t *testing.T) {
			img := newImageServer(t, 300000, false)
			f := newFixture(t, Options{Redirect: redirect}, Settings{Default: "exit", Disk: "sanboot"})
			ctx := context.Background()
			if err := f.node.InsertMedia(ctx, node.Media{Image: img.URL + "/image.iso", Inserted: true}); err != nil {
				t.Fatal(err)
			}
			if err := f.node.SetBoot(ctx, node.Boot{Valid: true, Persistent: true, Device: node.BootCDROM}, 0); err != nil {
				t.Fatal(err)
			}
			_, body := f.get(t, http.MethodGet, "/boot.ipxe?mac="+testMAC, nil)
			host := strings.TrimPrefix(f.srv.URL, "http://")
			m := f.node.Media()
			want := "sanboot --no-describe http://" + host + "/media/n1/" + m.ID + "/image.iso || goto failed"
			if !strings.Contains(body, want) {
				t.Fatalf("script:\n%s\nwant %s", body, want)
			}
			path := "/media/n1/" + m.ID + "/image.iso"
			resp, _ := f.get(t, http.MethodHead, path, nil)
			if redirect {
				if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != img.URL+"/image.iso" {
					t.Fatalf("redirect: %d %s", resp.StatusCode, resp.Header.Get("Location"))
				}
				return
			}
			if resp.StatusCode != 200 || resp.ContentLength != 300000 || resp.Header.Get("Accept-Ranges") != "bytes" {
				t.Fatalf("HEAD: %d %d %v", resp.StatusCode, resp.ContentLength, resp.Header)
			}
			resp, got := f.get(t, http.MethodGet, path, map[string]string{"Range": "bytes=32768-34815"})
			if resp.StatusCode != 206 || got != string(img.data[32768:34816]) || resp.Header.Get("Content-Range") != "bytes 32768-34815/300000" {
				t.Fatalf("range: %d %q %d bytes", resp.StatusCode, resp.Header.Get("Content-Range"), len(got))
			}
			if resp, _ := f.get(t, http.MethodGet, path, map[string]string{"Range": "bytes=0-1;x"}); resp.StatusCode == 206 {
				t.Error("a malformed Range was passed on")
			}
			if resp, got := f.get(t, http.MethodGet, path, nil); resp.StatusCode != 200 || len(got) != 300000 {
				t.Errorf("whole image: %d %d", resp.StatusCode, len(got))
			}
			if resp, _ := f.get(t, http.MethodGet, "/media/n1/stale/image.iso", nil); resp.StatusCode != 404 {
				t.Errorf("stale ID: %d", resp.StatusCode)
			}
			// The image server goes away: an answer at once, one event.
			img.Close()
			start := time.Now()
			for i := 0; i < 3; i++ {
				if resp, _ := f.get(t, http.MethodGet, path, map[string]string{"Range": "bytes=0-2047"}); resp.StatusCode != http.StatusBadGateway {
					t.Errorf("image server gone: %d", resp.StatusCode)
				}
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("failures took %v", d)
			}
			evs, _ := f.node.Events()
			failed := 0
			for _, e := range evs {
				if e.Kind == node.EventMediaFailed {
					failed++
				}
			}
			if failed != 1 {
				t.Errorf("%d media_failed events, want 1", failed)
			}
			// Ejected: its URL serves nothing.
			if err := f.node.EjectMedia(ctx); err != nil {
				t.Fatal(err)
			}
			if resp, _ := f.get(t, http.MethodGet, path, nil); resp.StatusCode != 404 {
				t.Errorf("after eject: %d", resp.StatusCode)
			}
		})
	}
}

func TestChecker(t *testing.T) {
	img := newImageServer(t, 4096, false)
	plain := newImageServer(t, 4096, true)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/image.iso"
	ln.Close()
	tests := []struct {
		name    string
		m       node.Media
		size    int64
		problem node.MediaProblem
	}{
		{"ranges", node.Media{Image: img.URL + "/image.iso"}, 4096, 0},
		{"credentials", node.Media{Image: img.URL + "/secret.iso", UserName: "img", Password: "pw"}, 4096, 0},
		{"wrong credentials", node.Media{Image: img.URL + "/secret.iso", UserName: "img", Password: "no"}, 0, node.MediaUnauthorized},
		{"no ranges", node.Media{Image: plain.URL + "/image.iso"}, 0, node.MediaNoRanges},
		{"not found", node.Media{Image: img.URL + "/gone.iso"}, 0, node.MediaNotFound},
		{"unreachable", node.Media{Image: closed}, 0, node.MediaUnreachable},
		{"nfs", node.Media{Image: "nfs://server/image.iso"}, 0, node.MediaBadURL},
		{"space", node.Media{Image: "http://server/a b.iso"}, 0, node.MediaBadURL},
	}
	c := &Checker{Timeout: 5 * time.Second}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size, err := c.CheckMedia(context.Background(), tt.m)
			var me *node.MediaError
			switch {
			case tt.problem == 0 && (err != nil || size != tt.size):
				t.Errorf("size %d err %v, want %d", size, err, tt.size)
			case tt.problem != 0 && (!errors.As(err, &me) || me.Problem != tt.problem):
				t.Errorf("err %v, want problem %d", err, tt.problem)
			}
		})
	}
}

func TestValidRange(t *testing.T) {
	for h, want := range map[string]bool{
		"bytes=0-0": true, "bytes=32768-34815": true, "bytes=-500": true, "bytes=9500-": true, "bytes=0-1, 5-6": true,
		"bytes=-": false, "bytes=a-b": false, "items=0-1": false, "bytes=0-1\r\nX: y": false, "": false,
		"bytes=" + strings.Repeat("1-2,", 100) + "1-2": false,
	} {
		if ValidRange(h) != want {
			t.Errorf("ValidRange(%q) = %v", h, !want)
		}
	}
}
