package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/powerjockey/powerjockey/pkg/sim"
	"github.com/powerjockey/powerjockey/test/harness"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// runCmd runs the CLI in-process and returns its outputs and exit status.
func runCmd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code = run(ctx, args, &out, &errb)
	return out.String(), errb.String(), code
}

// ports allocates a UDP port for each name and a TCP port for HTTP.
func ports(t *testing.T, names ...string) map[string]any {
	t.Helper()
	m := map[string]any{"HTTP": testkit.FreePort(t, "tcp")}
	for _, n := range names {
		m[n] = testkit.FreePort(t, "udp")
	}
	return m
}

// writeConfig renders tmpl with data (plus .Dir, the test's directory) into
// dir/powerjockey.yaml, mode 0600.
func writeConfig(t *testing.T, dir, tmpl string, data map[string]any) string {
	t.Helper()
	if data == nil {
		data = map[string]any{}
	}
	data["Dir"] = dir
	var b strings.Builder
	if err := template.Must(template.New("cfg").Option("missingkey=error").Parse(tmpl)).Execute(&b, data); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "powerjockey.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

var loadConfig = harness.LoadConfig

// startRack simulates the configuration's PDUs and machines until the test
// ends; adjust may change the simulation before it starts.
func startRack(t *testing.T, cfgPath string, adjust func(*sim.Config)) *sim.Rack {
	t.Helper()
	rc, err := sim.FromConfig(loadConfig(t, cfgPath), sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if adjust != nil {
		adjust(&rc)
	}
	rack, err := sim.New(rc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rack.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return rack
}

// daemonProc is `powerjockey serve` running in-process.
type daemonProc struct {
	log    *testkit.Log
	cancel context.CancelFunc
	done   chan int
}

// startServe runs `serve` on cfgPath (JSON logs at debug level) until the
// test ends or stop, and waits until its HTTP API answers.
func startServe(t *testing.T, cfgPath string, httpPort int) *daemonProc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &daemonProc{log: &testkit.Log{}, cancel: cancel, done: make(chan int, 1)}
	go func() {
		d.done <- run(ctx, []string{"serve", "--config", cfgPath, "--log-format", "json", "--log-level", "debug"}, io.Discard, d.log)
	}()
	t.Cleanup(func() { d.stop(t) })
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case code := <-d.done:
			d.done <- code
			t.Fatalf("serve exited with %d:\n%s", code, d.log)
		default:
		}
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", httpPort))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not answer /healthz within 10s:\n%s", d.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop cancels serve and requires a clean exit.
func (d *daemonProc) stop(t *testing.T) {
	t.Helper()
	d.cancel()
	select {
	case code := <-d.done:
		d.done <- code
		if code != 0 {
			t.Errorf("serve exited with %d:\n%s", code, d.log)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("serve did not stop within 15s:\n%s", d.log)
	}
}
