package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/pkg/internal/localca"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// redfishConfig is a configuration with Redfish on port rf and the named
// nodes (all admin/password).
func redfishConfig(t *testing.T, dir string, rf int, extra string, nodes ...string) *config.Config {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "state_dir: %s\nhttp: {listen: \"127.0.0.1:%d\"}\nredfish: {listen: \"127.0.0.1:%d\"%s}\nnodes:\n", dir, testkit.FreePort(t, "tcp"), rf, extra)
	for _, n := range nodes {
		fmt.Fprintf(&b, "  - name: %s\n    ipmi: {listen: \"127.0.0.1:%d\", username: admin, password: password}\n", n, testkit.FreePort(t, "udp"))
	}
	cfg, err := config.Parse("test.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestServeRedfish runs the daemon's servers: Redfish over the generated
// certificate serves the daemon's nodes, a reload's new node is served
// without a restart, and everything stops with the context.
func TestServeRedfish(t *testing.T) {
	dir := t.TempDir()
	rf := testkit.FreePort(t, "tcp")
	cfg := redfishConfig(t, dir, rf, "", "compute-0")
	ctx, cancel := context.WithCancel(context.Background())
	d, done := startServing(t, ctx, cfg)

	var client *http.Client
	var systems func() []string
	deadline := time.Now().Add(5 * time.Second)
	for {
		pem, err := os.ReadFile(filepath.Join(dir, "redfish", localca.CertFile))
		if err == nil {
			client = &http.Client{Timeout: 5 * time.Second, Transport: testkit.TrustingTransport(pem)}
			systems = func() []string {
				t.Helper()
				r, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d/redfish/v1/Systems", rf), nil)
				r.SetBasicAuth("admin", "password")
				resp, err := client.Do(r)
				if err != nil {
					return nil
				}
				defer resp.Body.Close()
				var coll struct {
					Members []map[string]string
				}
				json.NewDecoder(resp.Body).Decode(&coll)
				var out []string
				for _, m := range coll.Members {
					out = append(out, m["@odata.id"])
				}
				return out
			}
			if got := systems(); len(got) == 1 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("redfish did not serve compute-0 within 5 s")
		}
		time.Sleep(50 * time.Millisecond)
	}

	cfg2 := redfishConfig(t, dir, rf, "", "compute-0", "compute-1")
	cfg2.Nodes[0] = cfg.Nodes[0]
	if err := d.Reload(cfg2); err != nil {
		t.Fatal(err)
	}
	if got := systems(); strings.Join(got, " ") != "/redfish/v1/Systems/compute-0 /redfish/v1/Systems/compute-1" {
		t.Errorf("after reload: %v", got)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("RunServers: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunServers did not stop with its context")
	}
}

// TestRunServersFirstError: a Redfish port in use fails RunServers at once
// and stops the HTTP server with it.
func TestRunServersFirstError(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	cfg := redfishConfig(t, dir, busy.Addr().(*net.TCPAddr).Port, ", insecure_http: true", "compute-0")
	_, done := startServing(t, context.Background(), cfg)
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "redfish") {
			t.Errorf("RunServers = %v, want the Redfish listen error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunServers kept running with its Redfish port taken")
	}
	// The HTTP server went down with it.
	if c, err := net.DialTimeout("tcp", cfg.HTTP.Listen, time.Second); err == nil {
		c.Close()
		t.Errorf("the HTTP server on %s still accepts connections", cfg.HTTP.Listen)
	}
}

// TestServeRedfishInsecureHTTP: insecure_http serves plain HTTP and
// generates no certificate.
func TestServeRedfishInsecureHTTP(t *testing.T) {
	dir := t.TempDir()
	rf := testkit.FreePort(t, "tcp")
	cfg := redfishConfig(t, dir, rf, ", insecure_http: true", "compute-0")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, done := startServing(t, ctx, cfg)
	url := fmt.Sprintf("http://127.0.0.1:%d/redfish/v1/", rf)
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("OData-Version") != "4.0" {
				t.Errorf("GET %s: %d", url, resp.StatusCode)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("plain HTTP Redfish did not answer: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(dir, "redfish", localca.CertFile)); err == nil {
		t.Error("a certificate was generated for plain HTTP")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("RunServers: %v", err)
	}
}

// startServing builds a daemon from cfg, starts its nodes and runs its
// servers until ctx ends, as serve does; done receives RunServers' result.
// The daemon is stopped when the test ends.
func startServing(t *testing.T, ctx context.Context, cfg *config.Config) (*Daemon, <-chan error) {
	t.Helper()
	d, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Stop)
	done := make(chan error, 1)
	go func() { done <- d.RunServers(ctx) }()
	return d, done
}
