// Package e2e drives the real powerjockey binary with the real peers Ironic
// and operators use: ipmitool, freeipmi, net-snmp, tshark and go-ipmi's
// client, against a simulated rack on loopback.
//
// A test that needs a tool skips when it is missing, unless CI is set: then
// a missing tool is a failure.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/pkg/sim"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "powerjockey-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "powerjockey")
	build := exec.Command("go", "build", "-o", binary, "../../cmd/powerjockey")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build powerjockey:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireTool skips (or, under CI, fails) when a peer tool is missing.
func requireTool(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is required under CI but missing: %v", name, err)
			}
			t.Skipf("%s not installed", name)
		}
	}
}

// portAllocator hands out loopback ports that were free a moment ago.
var portMu sync.Mutex
var usedPorts = map[int]bool{}

func freePort(t *testing.T, network string) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	for i := 0; i < 50; i++ {
		var port int
		switch network {
		case "udp":
			c, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			port = c.LocalAddr().(*net.UDPAddr).Port
			c.Close()
		default:
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			port = l.Addr().(*net.TCPAddr).Port
			l.Close()
		}
		if !usedPorts[port] {
			usedPorts[port] = true
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// env is one test's world: a config, a daemon process and maybe a rack.
type env struct {
	t        *testing.T
	dir      string
	cfgPath  string
	httpPort int
	cmd      *exec.Cmd
	logMu    sync.Mutex
	log      bytes.Buffer
	exited   chan error
	rack     *sim.Rack
	cancel   context.CancelFunc
	// bin, when set, is the daemon binary to run instead of the one built
	// for the tests; attr, when set, how (another user, capabilities).
	bin  string
	attr *syscall.SysProcAttr
	// wrap, when set, prefixes the daemon's command line (a shell that
	// lowers a resource limit, say).
	wrap []string
}

// writeConfig renders tmpl (text/template over data plus .Dir and .HTTP)
// into the test's directory.
func newEnv(t *testing.T, tmpl string, data map[string]any) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), httpPort: freePort(t, "tcp")}
	if data == nil {
		data = map[string]any{}
	}
	data["Dir"] = e.dir
	data["HTTP"] = e.httpPort
	var b strings.Builder
	if err := template.Must(template.New("cfg").Parse(tmpl)).Execute(&b, data); err != nil {
		t.Fatal(err)
	}
	e.cfgPath = filepath.Join(e.dir, "powerjockey.yaml")
	if err := os.WriteFile(e.cfgPath, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

func loadConfig(t *testing.T, path string) *config.Config {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startRack simulates the hardware of the env's configuration in-process.
func (e *env) startRack(opt sim.Options) *sim.Rack {
	e.t.Helper()
	rc, err := sim.FromConfig(loadConfig(e.t, e.cfgPath), opt)
	if err != nil {
		e.t.Fatal(err)
	}
	rack, err := sim.New(rc)
	if err != nil {
		e.t.Fatal(err)
	}
	e.runRack(rack)
	return rack
}

// runRack serves rack until the test ends.
func (e *env) runRack(rack *sim.Rack) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rack.Run(ctx); close(done) }()
	e.t.Cleanup(func() { cancel(); <-done })
	e.rack = rack
}

// start runs the daemon and waits until it serves HTTP.
func (e *env) start() {
	e.t.Helper()
	bin := binary
	if e.bin != "" {
		bin = e.bin
	}
	args := append(append([]string{}, e.wrap...), bin, "serve", "--config", e.cfgPath, "--log-level", "debug")
	e.cmd = exec.Command(args[0], args[1:]...)
	e.cmd.SysProcAttr = e.attr
	e.cmd.Stdout = &lockedWriter{e: e}
	e.cmd.Stderr = &lockedWriter{e: e}
	if err := e.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.exited = make(chan error, 1)
	go func() { e.exited <- e.cmd.Wait() }()
	e.t.Cleanup(e.stop)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-e.exited:
			e.exited <- err
			e.t.Fatalf("daemon exited: %v\n%s", err, e.logs())
		default:
		}
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", e.httpPort))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("daemon did not become ready\n%s", e.logs())
}

// stop sends SIGTERM and requires a clean exit.
func (e *env) stop() {
	if e.cmd == nil || e.cmd.Process == nil {
		return
	}
	select {
	case err := <-e.exited:
		e.exited <- err
		return // already gone (killed by the test)
	default:
	}
	e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-e.exited:
		e.exited <- err
		if err != nil {
			e.t.Errorf("daemon did not exit cleanly on SIGTERM: %v\n%s", err, e.logs())
		}
	case <-time.After(10 * time.Second):
		e.cmd.Process.Kill()
		e.t.Errorf("daemon ignored SIGTERM for 10s\n%s", e.logs())
	}
}

// kill SIGKILLs the daemon (no chance to flush anything).
func (e *env) kill() {
	e.cmd.Process.Kill()
	<-e.exited
	e.exited <- nil
	e.cmd = nil
}

type lockedWriter struct{ e *env }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.e.logMu.Lock()
	defer w.e.logMu.Unlock()
	return w.e.log.Write(p)
}

func (e *env) logs() string {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	return e.log.String()
}

// logLines returns log lines containing s.
func (e *env) logLines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(e.logs()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			out = append(out, sc.Text())
		}
	}
	return out
}

// run runs a tool with a timeout and returns its combined output.
func run(t *testing.T, timeout time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

// ipmitool runs ipmitool against 127.0.0.1:port as admin/password.
func ipmitool(t *testing.T, port int, args ...string) (string, error) {
	t.Helper()
	base := []string{"-I", "lanplus", "-H", "127.0.0.1", "-p", fmt.Sprint(port), "-U", "admin", "-P", "password", "-R", "2", "-N", "2"}
	return run(t, 30*time.Second, "ipmitool", append(base, args...)...)
}

// mustIPMItool fails the test unless ipmitool succeeds and prints want.
func mustIPMItool(t *testing.T, port int, want string, args ...string) string {
	t.Helper()
	out, err := ipmitool(t, port, args...)
	if err != nil || !strings.Contains(out, want) {
		t.Fatalf("ipmitool %v: err=%v, want %q in:\n%s", args, err, want, out)
	}
	return out
}

// eventually polls cond until it holds or the time is up.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (e *env) httpGet(path string) string {
	e.t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", e.httpPort, path))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// metric returns the value of a Prometheus series line that starts with prefix.
func (e *env) metric(prefix string) string {
	for _, line := range strings.Split(e.httpGet("/metrics"), "\n") {
		if strings.HasPrefix(line, prefix) {
			f := strings.Fields(line)
			return f[len(f)-1]
		}
	}
	return ""
}
