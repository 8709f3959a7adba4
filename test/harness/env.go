package harness

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/pkg/sim"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// Env is one test's powerjockey: a configuration rendered into a temporary
// directory, the daemon serving it, and maybe the simulated rack it drives.
type Env struct {
	T       testing.TB
	Binary  string
	Dir     string
	CfgPath string
	// HTTPPort is the daemon's API port on 127.0.0.1 (.HTTP in the template).
	HTTPPort int
	// Rack is the simulated hardware, once started.
	Rack *sim.Rack
	// Log holds the daemon's output across restarts.
	Log testkit.Log
	// Proc is the running daemon (nil before Start and after Kill).
	Proc *Process
	// Wrap, when set, prefixes the daemon's command line (a shell that
	// lowers a resource limit, say); SysProcAttr, when set, says how to
	// start it (another user, capabilities).
	Wrap        []string
	SysProcAttr *syscall.SysProcAttr
}

// NewEnv renders tmpl (text/template over data plus .Dir, the test's
// directory, and .HTTP, a free TCP port) into Dir/powerjockey.yaml.
func NewEnv(t testing.TB, binary, tmpl string, data map[string]any) *Env {
	t.Helper()
	e := &Env{T: t, Binary: binary, Dir: t.TempDir(), HTTPPort: testkit.FreePort(t, "tcp")}
	if data == nil {
		data = map[string]any{}
	}
	data["Dir"] = e.Dir
	data["HTTP"] = e.HTTPPort
	var b strings.Builder
	if err := template.Must(template.New("cfg").Parse(tmpl)).Execute(&b, data); err != nil {
		t.Fatal(err)
	}
	e.CfgPath = filepath.Join(e.Dir, "powerjockey.yaml")
	if err := os.WriteFile(e.CfgPath, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

// LoadConfig loads the configuration as the daemon does.
func (e *Env) LoadConfig() *config.Config {
	e.T.Helper()
	return LoadConfig(e.T, e.CfgPath)
}

// LoadConfig loads the configuration at path as the daemon does, failing
// the test on an error.
func LoadConfig(t testing.TB, path string) *config.Config {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// RackConfig describes the hardware the configuration expects, for a test
// to adjust before sim.New.
func (e *Env) RackConfig(opt sim.Options) sim.Config {
	e.T.Helper()
	rc, err := sim.FromConfig(e.LoadConfig(), opt)
	if err != nil {
		e.T.Fatal(err)
	}
	return rc
}

// StartRack simulates the configuration's hardware in-process.
func (e *Env) StartRack(opt sim.Options) *sim.Rack {
	e.T.Helper()
	rack, err := sim.New(e.RackConfig(opt))
	if err != nil {
		e.T.Fatal(err)
	}
	e.RunRack(rack)
	return rack
}

// RunRack serves rack until the test ends.
func (e *Env) RunRack(rack *sim.Rack) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rack.Run(ctx); close(done) }()
	e.T.Cleanup(func() { cancel(); <-done })
	e.Rack = rack
}

// Start runs `powerjockey serve` with debug logging and waits until its
// HTTP API answers /healthz.
func (e *Env) Start() {
	e.T.Helper()
	args := append(append([]string{}, e.Wrap...), e.Binary, "serve", "--config", e.CfgPath, "--log-level", "debug")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.SysProcAttr = e.SysProcAttr
	e.Proc = Start(e.T, &e.Log, cmd)
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", e.HTTPPort)
	e.Proc.WaitReady(15*time.Second, "serving "+url, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// Stop sends SIGTERM and requires a clean exit.
func (e *Env) Stop() {
	if e.Proc != nil {
		e.Proc.Stop()
	}
}

// Kill SIGKILLs the daemon (no chance to flush anything).
func (e *Env) Kill() {
	e.Proc.Kill()
	e.Proc = nil
}

// Logs is the daemon's output so far.
func (e *Env) Logs() string { return e.Log.String() }

// HTTPGet returns the body of a GET on the daemon's API.
func (e *Env) HTTPGet(path string) string {
	e.T.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", e.HTTPPort, path))
	if err != nil {
		e.T.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// Metric returns the value of the Prometheus series that starts with
// prefix (`name{label="value"`), or "".
func (e *Env) Metric(prefix string) string {
	e.T.Helper()
	return testkit.MetricValue(e.T, fmt.Sprintf("http://127.0.0.1:%d/metrics", e.HTTPPort), prefix)
}
