package e2e

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Capability numbers (linux/capability.h).
const (
	capNetBindService = 10
	capNetRaw         = 13
)

// capsRack: a node whose "on" is an exec hook that records its own
// capability sets, and a node that needs both of the daemon's
// capabilities: an IPMI port below 1024 and raw Wake-on-LAN frames on lo.
const capsRack = `
state_dir: {{.Dir}}/state
http: {listen: "127.0.0.1:{{.HTTP}}"}
nodes:
  - name: hooked
    ipmi: {listen: "127.0.0.1:{{.P0}}", username: admin, password: password}
    exec:
      on: "grep ^Cap /proc/$$/status > {{.Dir}}/hook-caps"
      timeout: 10s
  - name: privileged
    ipmi: {listen: "127.0.0.1:{{.Low}}", username: admin, password: password}
    mac: "52:54:00:dd:00:01"
    wol: {interface: lo}
`

// TestHooksGetNoCapabilities runs the daemon as the systemd unit does: a
// non-root user holding CAP_NET_BIND_SERVICE and CAP_NET_RAW as ambient
// capabilities. The daemon uses both (it binds a port below 1024 and opens
// a raw socket on lo) and still holds them after running a hook, while the
// hook itself runs with empty ambient, inheritable, permitted and
// effective sets. It needs root to start the daemon that way.
func TestHooksGetNoCapabilities(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("this test runs as root under CI (it starts the daemon as another user with ambient capabilities)")
		}
		t.Skip("needs root to start the daemon as another user with ambient capabilities")
	}
	e := newEnv(t, capsRack, map[string]any{"P0": freePort(t, "udp"), "Low": freeLowUDPPort(t)})
	// The daemon runs as nobody: it must reach its binary, configuration
	// and state directory.
	const nobody = 65534
	if err := os.Chmod(filepath.Dir(e.dir), 0o755); err != nil {
		t.Fatal(err)
	}
	e.bin = filepath.Join(e.dir, "powerjockey")
	copyExecutable(t, binary, e.bin)
	for _, p := range []string{e.dir, e.cfgPath, e.bin} {
		if err := os.Chown(p, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	e.attr = &syscall.SysProcAttr{
		Credential:  &syscall.Credential{Uid: nobody, Gid: nobody},
		AmbientCaps: []uintptr{capNetBindService, capNetRaw},
	}
	e.start()
	pid := e.cmd.Process.Pid

	want := uint64(1<<capNetBindService | 1<<capNetRaw)
	daemon := procCaps(t, fmt.Sprintf("/proc/%d/status", pid))
	for _, set := range []string{"CapPrm", "CapEff", "CapAmb"} {
		if daemon[set] != want {
			t.Fatalf("daemon %s = %#x before any hook, want %#x (the test's setup)", set, daemon[set], want)
		}
	}

	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/api/v1/nodes/hooked/power", e.httpPort),
		strings.NewReader(`{"action": "on"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("power on: %d %s\n%s", resp.StatusCode, body, e.logs())
	}
	hook := procCaps(t, filepath.Join(e.dir, "hook-caps"))
	for _, set := range []string{"CapInh", "CapPrm", "CapEff", "CapAmb"} {
		v, ok := hook[set]
		if !ok || v != 0 {
			t.Errorf("hook %s = %#x (present %v), want 0", set, v, ok)
		}
	}
	t.Logf("hook: %v; daemon before: %v", hook, daemon)

	// Every thread of the daemon still holds both capabilities.
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if len(tasks) == 0 {
		t.Fatal("no daemon threads found")
	}
	for _, task := range tasks {
		c := procCaps(t, task)
		if c["CapEff"] != want || c["CapPrm"] != want {
			t.Errorf("daemon thread %s: CapPrm %#x CapEff %#x, want %#x", task, c["CapPrm"], c["CapEff"], want)
		}
	}
}

// procCaps reads the Cap* lines of a /proc/PID/status file (or a copy).
func procCaps(t *testing.T, path string) map[string]uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(k, "Cap") {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			t.Fatalf("%s: %q: %v", path, line, err)
		}
		out[k] = n
	}
	return out
}

// freeLowUDPPort returns a free loopback UDP port below 1024, which only
// a process with CAP_NET_BIND_SERVICE may bind.
func freeLowUDPPort(t *testing.T) int {
	t.Helper()
	for range 50 {
		port := 700 + rand.IntN(300)
		c, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return port
		}
	}
	t.Fatal("no free UDP port below 1024")
	return 0
}

func copyExecutable(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}
