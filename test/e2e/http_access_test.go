package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/test/harness"
)

// A configuration whose HTTP server listens beyond loopback.
const httpBeyondLoopbackConfig = `state_dir: {{.Dir}}/state
http:
  listen: "{{.Listen}}"
{{.HTTPExtra}}
nodes:
  - name: manual-0
    ipmi: {listen: "127.0.0.1:{{.IPMI}}", username: admin, password: password, privilege: operator}
  - name: other-0
    ipmi: {listen: "127.0.0.1:{{.IPMI2}}", username: someone, password: else-entirely}
`

// TestHTTPBeyondLoopbackRefused: the real binary refuses to serve the page
// and API beyond loopback without credentials or with TLS switched off,
// naming the file, line and key; check says the same.
func TestHTTPBeyondLoopbackRefused(t *testing.T) {
	for _, c := range []struct{ extra, want string }{
		{"", `powerjockey.yaml:3:3: http.listen: 192.0.2.10:9623 is not a loopback address: the page and API switch power, so they need authentication there`},
		{"  accounts: true\n  tls: false", `powerjockey.yaml:5:3: http.tls: cannot be false: http.listen 192.0.2.10:9623 is not a loopback address`},
	} {
		e := newEnv(t, httpBeyondLoopbackConfig, map[string]any{"Listen": "192.0.2.10:9623", "HTTPExtra": c.extra,
			"IPMI": freePort(t, "udp"), "IPMI2": freePort(t, "udp")})
		for _, cmd := range [][]string{{"serve", "--config", e.cfgPath}, {"check", "--config", e.cfgPath}} {
			out, err := run(t, 30*time.Second, binary, cmd...)
			if err == nil || !strings.Contains(out, e.cfgPath+":") || !strings.Contains(out, c.want[len("powerjockey.yaml"):]) {
				t.Errorf("%s with %q: %v\n%s\nwant %s", cmd[0], c.extra, err, out, c.want)
			}
		}
	}
}

// TestHTTPSBeyondLoopback runs the real binary in a network namespace of
// its own whose loopback device also holds 198.51.100.1 (TEST-NET-2, not a
// loopback address): the HTTP server listens there, so it serves HTTPS
// with a generated certificate and asks for credentials. curl (in the same
// namespace; nothing leaves it) checks the certificate against the
// generated CA, the tokens and their roles, an account login with a cookie,
// the metrics token, and that plain HTTP gets nowhere; powerjockey status
// talks to it with a token file.
func TestHTTPSBeyondLoopback(t *testing.T) {
	requireTool(t, "unshare", "nsenter", "ip", "curl")
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("needs root for a network namespace (CI runs as root)")
		}
		t.Skip("needs root for a network namespace")
	}
	const addr = "198.51.100.1"
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	readTok := write("read.token", "noc-0123456789abcdefghij\n")
	opTok := write("op.token", "ops-0123456789abcdefghij\n")
	metricsTok := write("metrics.token", "prom-0123456789abcdefghij\n")
	// In a namespace of its own the ports cannot collide with anyone's.
	e := newEnv(t, httpBeyondLoopbackConfig, map[string]any{"Listen": addr + ":9623", "IPMI": 6230, "IPMI2": 6231,
		"HTTPExtra": fmt.Sprintf("  tokens:\n    - {name: noc, role: ReadOnly, token_file: %s}\n    - {name: ops, role: Operator, token_file: %s}\n"+
			"  accounts: true\n  metrics_token_file: %s", readTok, opTok, metricsTok)})

	cmd := exec.Command("unshare", "--net", "sh", "-c",
		`ip link set lo up && ip addr add `+addr+`/32 dev lo && exec "$0" serve --config "$1"`, binary, e.cfgPath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// unshare and sh exec in place: the process is the daemon, stopped
	// (SIGTERM, clean exit required) when the test ends.
	proc := harness.Start(t, &e.Log, cmd)
	pid := fmt.Sprint(proc.Pid())
	inNS := func(name string, args ...string) (string, error) {
		return run(t, 20*time.Second, "nsenter", append([]string{"--target", pid, "--net", name}, args...)...)
	}
	proc.WaitReady(15*time.Second, "serving HTTPS", func() bool { return len(e.logLines("http serving")) > 0 })
	serving := e.logLines("http serving")[0]
	if !strings.Contains(serving, "listen="+addr+":9623 scheme=https") || !strings.Contains(serving, `auth="2 tokens, node accounts, metrics token"`) {
		t.Errorf("log line: %s", serving)
	}
	ca := filepath.Join(e.dir, "state", "http", "ca.crt")
	curl := func(args ...string) string {
		t.Helper()
		out, err := inNS("curl", append([]string{"-sS", "--cacert", ca, "-o", "/dev/null", "-w", "%{http_code}"}, args...)...)
		if err != nil && !strings.Contains(strings.Join(args, " "), "http://") {
			t.Errorf("curl %v: %v %s", args, err, out)
		}
		return out
	}
	base := "https://" + addr + ":9623"
	tok := func(f string) string {
		b, _ := os.ReadFile(f)
		return "Authorization: Bearer " + strings.TrimSpace(string(b))
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{base + "/healthz"}, "200"},
		{[]string{base + "/"}, "200"},
		{[]string{base + "/api/v1/nodes"}, "401"},
		{[]string{"-H", tok(readTok), base + "/api/v1/nodes"}, "200"},
		{[]string{"-H", tok(readTok), base + "/api/v1/pdus"}, "200"},
		{[]string{"-H", tok(readTok), base + "/api/v1/nodes/manual-0/history"}, "200"},
		{[]string{"-H", "Authorization: Bearer wrong-token-0123456789", base + "/api/v1/nodes"}, "401"},
		{[]string{"-H", tok(readTok), "-H", "Content-Type: application/json", "-d", `{"action":"on"}`, base + "/api/v1/nodes/manual-0/power"}, "403"},
		{[]string{"-H", tok(opTok), "-H", "Content-Type: application/json", "-d", `{"action":"on"}`, base + "/api/v1/nodes/manual-0/power"}, "200"},
		{[]string{"-H", tok(opTok), "-H", "Content-Type: text/plain", "-d", `{"action":"on"}`, base + "/api/v1/nodes/manual-0/power"}, "403"},
		{[]string{base + "/metrics"}, "401"},
		{[]string{"-H", tok(metricsTok), base + "/metrics"}, "200"},
		{[]string{"-u", "admin:password", base + "/api/v1/nodes/manual-0"}, "200"},
		{[]string{"-u", "admin:password", base + "/api/v1/nodes/other-0"}, "404"},
		{[]string{"-u", "admin:wrong", base + "/api/v1/nodes"}, "401"},
	} {
		if got := curl(c.args...); got != c.want {
			t.Errorf("curl %v: %s, want %s", c.args, got, c.want)
		}
	}
	// Plain HTTP gets no API: the server answers TLS only.
	if out, _ := inNS("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "http://"+addr+":9623/api/v1/nodes"); out == "200" || out == "401" {
		t.Errorf("plain HTTP answered %s", out)
	}
	// An account's login, as the page does it: a cookie, then the API.
	jar := filepath.Join(dir, "cookies")
	if got := curl("-c", jar, "-H", "Content-Type: application/json", "-d", `{"username":"admin","password":"password"}`, base+"/api/v1/session"); got != "200" {
		t.Errorf("login: %s", got)
	}
	out, err := inNS("curl", "-sS", "--cacert", ca, "-b", jar, base+"/api/v1/nodes")
	if err != nil || !strings.Contains(out, `"name": "manual-0"`) || strings.Contains(out, "other-0") {
		t.Errorf("nodes with the session cookie: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(jar); !regexp.MustCompile(`#HttpOnly_` + regexp.QuoteMeta(addr) + `\tFALSE\t/\tTRUE\t\d+\tpowerjockey_session\t[0-9a-f]{64}`).Match(b) {
		t.Errorf("cookie jar:\n%s", b)
	}
	// The action is the token holder's, in the node's log.
	out, _ = inNS("curl", "-sS", "--cacert", ca, "-H", tok(readTok), base+"/api/v1/nodes/manual-0/history")
	if !strings.Contains(out, `"user": "ops"`) {
		t.Errorf("the event log does not name the token's holder:\n%s", out)
	}
	// The CLI finds the CA in state_dir and takes a token file.
	out, err = inNS(binary, "status", "--config", e.cfgPath, "--token-file", readTok)
	if err != nil || !strings.Contains(out, "manual-0") {
		t.Errorf("powerjockey status --token-file: %v\n%s", err, out)
	}
	out, err = inNS(binary, "status", "--config", e.cfgPath)
	if err == nil || !strings.Contains(out, "the daemon asks for credentials: give --token-file FILE") {
		t.Errorf("powerjockey status without a token: %v\n%s", err, out)
	}
	// Refused logins are audit lines.
	if len(e.logLines(`msg="http authentication failed" audit=true channel=http`)) == 0 {
		t.Errorf("no audit line for the refused credentials:\n%s", e.logs())
	}
}
