package daemon

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// TestServeBoot runs the daemon with a boot endpoint and plain-HTTP
// Redfish: an image inserted through Redfish and a Cd override make the
// node's script sanboot the image from the endpoint, which serves it with
// Range; the override is used up by the script; a reload changes a node's
// settings at once.
func TestServeBoot(t *testing.T) {
	image := bytes.Repeat([]byte("powerjockey"), 10000)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "x.iso", time.Time{}, bytes.NewReader(image))
	}))
	defer origin.Close()

	dir := t.TempDir()
	rf, bp := testkit.FreePort(t, "tcp"), testkit.FreePort(t, "tcp")
	src := func(def string) string {
		return fmt.Sprintf(`state_dir: %s
http: {listen: "127.0.0.1:%d"}
redfish: {listen: "127.0.0.1:%d", insecure_http: true}
boot: {listen: "127.0.0.1:%d", upstream: "http://192.0.2.1/boot.ipxe"}
nodes:
  - name: compute-0
    ipmi: {listen: "127.0.0.1:%d", username: admin, password: password}
    mac: "52:54:00:00:00:01"
    boot: {default: %s}
`, dir, testkit.FreePort(t, "tcp"), rf, bp, testkit.FreePort(t, "udp"), def)
	}
	cfg, err := config.Parse("test.yaml", []byte(src("exit")))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, done := startServing(t, ctx, cfg)

	do := func(method, url, body string, hdr ...string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		if strings.Contains(url, "/redfish/") {
			req.SetBasicAuth("admin", "password")
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			return 0, nil, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	script := fmt.Sprintf("http://127.0.0.1:%d/boot.ipxe?mac=52:54:00:00:00:01", bp)
	rfURL := fmt.Sprintf("http://127.0.0.1:%d/redfish/v1", rf)
	deadline := time.Now().Add(5 * time.Second)
	for {
		c1, _, _ := do("HEAD", script, "")
		c2, _, _ := do("GET", rfURL+"/", "")
		if c1 == 200 && c2 == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the boot endpoint and Redfish did not serve within 5 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, _, body := do("POST", rfURL+"/Managers/compute-0/VirtualMedia/Cd/Actions/VirtualMedia.InsertMedia",
		`{"Image": "`+origin.URL+`/x.iso"}`); code != 204 {
		t.Fatalf("InsertMedia: %d %s", code, body)
	}
	if code, _, body := do("POST", rfURL+"/Managers/compute-0/VirtualMedia/Cd/Actions/VirtualMedia.InsertMedia",
		`{"Image": "`+origin.URL+`/x.iso", "TransferProtocolType": "HTTP"}`); code != 204 {
		t.Fatalf("InsertMedia again: %d %s", code, body)
	}
	if code, _, body := do("PATCH", rfURL+"/Systems/compute-0", `{"Boot": {"BootSourceOverrideTarget": "Cd", "BootSourceOverrideEnabled": "Once"}}`); code != 200 {
		t.Fatalf("PATCH boot: %d %s", code, body)
	}
	_, _, text := do("GET", script, "")
	i := strings.Index(text, "sanboot --no-describe ")
	if i < 0 {
		t.Fatalf("script:\n%s", text)
	}
	mediaURL := strings.Fields(text[i:])[2]
	if !strings.HasPrefix(mediaURL, fmt.Sprintf("http://127.0.0.1:%d/media/compute-0/", bp)) {
		t.Fatalf("media URL %s", mediaURL)
	}
	if code, h, body := do("GET", mediaURL, "", "Range", "bytes=11-21"); code != 206 || body != "powerjockey" || h.Get("Content-Range") != fmt.Sprintf("bytes 11-21/%d", len(image)) {
		t.Errorf("range: %d %q %v", code, body, h)
	}
	// The Once override was used up by the script: the next is the default.
	if _, _, text := do("GET", script, ""); !strings.Contains(text, "no boot override: exiting to the firmware") {
		t.Errorf("second script:\n%s", text)
	}
	if code, _, body := do("GET", rfURL+"/Systems/compute-0", ""); code != 200 || !strings.Contains(body, `"BootSourceOverrideEnabled": "Disabled"`) {
		t.Errorf("Redfish after the fetch: %d\n%s", code, body)
	}
	// A reload changes the node's default at once.
	cfg2, err := config.Parse("test.yaml", []byte(src("pxe")))
	if err != nil {
		t.Fatal(err)
	}
	cfg2.Nodes[0].IPMI.Listen = cfg.Nodes[0].IPMI.Listen
	cfg2.HTTP, cfg2.Redfish, cfg2.Boot = cfg.HTTP, cfg.Redfish, cfg.Boot
	if err := d.Reload(cfg2); err != nil {
		t.Fatal(err)
	}
	if _, _, text := do("GET", script, ""); !strings.Contains(text, "chain --autofree http://192.0.2.1/boot.ipxe") {
		t.Errorf("after reload:\n%s", text)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("RunServers: %v", err)
	}
}
