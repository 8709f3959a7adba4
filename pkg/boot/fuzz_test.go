package boot

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/powerjockey/powerjockey/pkg/node"
)

// memNode is a Node in memory (a real one writes its state on every fetch).
type memNode struct {
	boot  node.Boot
	media node.Media
}

func (m *memNode) Name() string      { return "n1" }
func (m *memNode) Boot() node.Boot   { return m.boot }
func (m *memNode) Media() node.Media { return m.media }
func (m *memNode) TakeBoot(context.Context, string) node.BootTaken {
	return node.BootTaken{Boot: m.boot, Media: m.media}
}
func (m *memNode) RecordBootScript(context.Context, node.BootTaken, string, string, bool) {}
func (m *memNode) MediaServeFailed(string, error)                                         {}
func (m *memNode) MediaServed(string)                                                     {}

type memBackend struct{ n *memNode }

func (b memBackend) ByMAC(mac net.HardwareAddr) (Node, Settings, bool) {
	if mac.String() != testMAC {
		return nil, Settings{}, false
	}
	return b.n, Settings{Upstream: "http://10.0.0.1/up.ipxe", Default: "pxe", Disk: "sanboot"}, true
}

func (b memBackend) ByName(name string) (Node, bool) { return b.n, name == "n1" }

// cannedImage answers every image request with 206 and a few bytes,
// without a network.
type cannedImage struct{}

func (cannedImage) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusPartialContent, Header: http.Header{"Content-Range": {"bytes 0-3/4"}},
		Body: io.NopCloser(bytes.NewReader([]byte("data"))), Request: r}, nil
}

// FuzzRequest feeds the boot endpoint arbitrary paths, queries (the MAC
// parameter), Host and Range headers: every request is answered, never a
// crash, and a script never carries a line the request wrote.
func FuzzRequest(f *testing.F) {
	n := &memNode{boot: node.Boot{Valid: true, Persistent: true, Device: node.BootCDROM},
		media: node.Media{Image: "http://img/x.iso", Inserted: true, ID: "id1", Size: 4}}
	srv := NewServer(memBackend{n}, Options{Client: &http.Client{Transport: cannedImage{}}})
	f.Add("/boot.ipxe", "mac=52:54:00:00:00:01", "10.0.2.100:9624", "")
	f.Add("/boot.ipxe", "mac=5254.0000.0001&x=1", "h", "")
	f.Add("/boot.ipxe", "mac=%zz", "", "")
	f.Add("/media/n1/id1/x.iso", "", "10.0.2.100:9624", "bytes=0-3")
	f.Add("/media/n1/id1/x.iso", "", "", "bytes=-1,5-")
	f.Add("/media/n1/../x", "", "", "bytes=0-")
	f.Fuzz(func(t *testing.T, path, query, host, rng string) {
		r := httptest.NewRequest(http.MethodGet, "http://x/", nil)
		r.URL.Path, r.URL.RawQuery, r.Host = path, query, host
		if rng != "" {
			r.Header.Set("Range", rng)
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		if w.Code == 0 {
			t.Fatal("no answer")
		}
		// The request's Host goes into the sanboot line: it must stay one
		// word of it.
		for _, l := range strings.Split(w.Body.String(), "\n") {
			if strings.HasPrefix(l, "sanboot ") && len(strings.Fields(l)) != 6 {
				t.Fatalf("a request wrote into the script: %q", l)
			}
		}
	})
}

func FuzzParseMAC(f *testing.F) {
	for _, s := range []string{"52:54:00:00:00:01", "52-54-00-00-00-01", "525400000001", "5254.0000.0001", "", "zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		mac, ok := ParseMAC(s)
		if ok && len(mac) != 6 {
			t.Fatalf("%q: %v", s, mac)
		}
	})
}
