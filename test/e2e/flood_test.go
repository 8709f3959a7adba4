package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// floodScale multiplies the connection flood's size and duration
// (PJ_FLOOD_SCALE, default 1: what CI runs).
func floodScale() int {
	if n, err := strconv.Atoi(os.Getenv("PJ_FLOOD_SCALE")); err == nil && n > 0 {
		return n
	}
	return 1
}

// floodNoFile is the daemon's file descriptor limit in the flood test: low
// enough that the flood alone would exhaust it without the caps.
const floodNoFile = 256

// flooder holds idle TLS connections to addr from one loopback source
// address, as a hostile or broken host would: each completes its
// handshake, sends nothing, and reconnects when the server closes it.
type flooder struct {
	handshakes atomic.Int64
	closed     atomic.Int64 // held connections the server closed
	failed     atomic.Int64 // connects or handshakes that failed (refused at a cap)
}

func (f *flooder) run(ctx context.Context, wg *sync.WaitGroup, src, addr string, conns int, useTLS bool) {
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
			for ctx.Err() == nil {
				if !f.holdOne(ctx, d, addr, useTLS) {
					// Back off a little, so that a refused flood does not
					// turn into a busy loop on a shared machine.
					select {
					case <-ctx.Done():
					case <-time.After(500 * time.Millisecond):
					}
				}
			}
		}()
	}
}

// holdOne opens one connection and holds it until the server closes it or
// ctx ends; it reports whether the connection was established.
func (f *flooder) holdOne(ctx context.Context, d net.Dialer, addr string, useTLS bool) bool {
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		f.failed.Add(1)
		return false
	}
	defer c.Close()
	if useTLS {
		tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		if err := tc.Handshake(); err != nil {
			f.failed.Add(1)
			return false
		}
		f.handshakes.Add(1)
		c = tc
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	c.SetDeadline(time.Time{})
	if _, err := c.Read(make([]byte, 1)); err != nil && ctx.Err() == nil {
		f.closed.Add(1)
	}
	// Stay away a moment before reconnecting, as a held slot would.
	select {
	case <-ctx.Done():
	case <-time.After(500 * time.Millisecond):
	}
	return true
}

// TestConnectionFlood floods the daemon's Redfish service (idle TLS
// connections from 40 loopback addresses) and its HTTP API (idle TCP
// connections from 10 more) with far more connections than its file
// descriptor limit (256) allows, and checks that meanwhile everything else
// keeps working: a Redfish GET (curl, verifying the certificate), an HTTP
// API GET, a state-persisting IPMI command (ipmitool chassis bootdev pxe,
// which writes a node's first state file), and a reload that adds a node
// (a new IPMI socket and state file). The caps hold the flood to the
// connections the descriptor budget allows; nothing reports "too many
// open files".
func TestConnectionFlood(t *testing.T) {
	requireTool(t, "ipmitool", "curl")
	scale := floodScale()
	const nodes = 10
	ports := map[string]any{"RF": freePort(t, "tcp")}
	var b strings.Builder
	b.WriteString(`
state_dir: {{.Dir}}/state
http: {listen: "127.0.0.1:{{.HTTP}}"}
redfish: {listen: "127.0.0.1:{{.RF}}"}
nodes:
`)
	nodePorts := make([]int, nodes+1)
	for i := range nodePorts {
		nodePorts[i] = freePort(t, "udp")
		if i < nodes {
			fmt.Fprintf(&b, "  - {name: n%d, ipmi: {listen: \"127.0.0.1:%d\", username: admin, password: password}}\n", i, nodePorts[i])
		}
	}
	e := newEnv(t, b.String(), ports)
	e.wrap = []string{"sh", "-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, floodNoFile)}
	e.start()
	pid := e.cmd.Process.Pid
	rfAddr := fmt.Sprintf("127.0.0.1:%d", ports["RF"])
	ca := filepath.Join(e.dir, "state", "redfish", "ca.crt")
	redfishGET := func() (string, error) {
		return run(t, 30*time.Second, "curl", "-sS", "--max-time", "20", "--cacert", ca, "-u", "admin:password",
			"-o", os.DevNull, "-w", "%{http_code} %{time_total}", "https://"+rfAddr+"/redfish/v1/Systems")
	}
	apiGET := func() (string, error) {
		return run(t, 30*time.Second, "curl", "-sS", "--max-time", "20", "-o", os.DevNull, "-w", "%{http_code} %{time_total}",
			fmt.Sprintf("http://127.0.0.1:%d/api/v1/nodes", e.httpPort))
	}
	eventually(t, 10*time.Second, "Redfish to serve", func() bool { out, _ := redfishGET(); return strings.HasPrefix(out, "200 ") })
	fdsBefore := countFDs(t, pid)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	rf, api := &flooder{}, &flooder{}
	perSource := 15 * scale
	for i := range 40 {
		rf.run(ctx, &wg, fmt.Sprintf("127.0.10.%d", i+1), rfAddr, perSource, true)
	}
	for i := range 10 {
		api.run(ctx, &wg, fmt.Sprintf("127.0.20.%d", i+1), fmt.Sprintf("127.0.0.1:%d", e.httpPort), 10*scale, false)
	}
	wanted := 40*perSource + 10*10*scale
	// Let the flood take every slot it can.
	eventually(t, 20*time.Second, "the flood to reach the caps", func() bool {
		return e.metric(`powerjockey_http_connections_open{server="redfish"}`) == e.metric(`powerjockey_http_connections_max{server="redfish"}`)
	})

	maxFDs, maxRF, maxAPI := 0, 0, 0
	sample := func() {
		maxFDs = max(maxFDs, countFDs(t, pid))
		n, _ := strconv.Atoi(e.metric(`powerjockey_http_connections_open{server="redfish"}`))
		maxRF = max(maxRF, n)
		n, _ = strconv.Atoi(e.metric(`powerjockey_http_connections_open{server="http"}`))
		maxAPI = max(maxAPI, n)
	}
	rounds := 3 * scale
	var rfTimes, apiTimes []string
	for round := range rounds {
		if out, err := redfishGET(); err != nil || !strings.HasPrefix(out, "200 ") {
			t.Errorf("round %d: Redfish GET during the flood: %v %s", round, err, out)
		} else {
			rfTimes = append(rfTimes, strings.Fields(out)[1])
		}
		if out, err := apiGET(); err != nil || !strings.HasPrefix(out, "200 ") {
			t.Errorf("round %d: HTTP API GET during the flood: %v %s", round, err, out)
		} else {
			apiTimes = append(apiTimes, strings.Fields(out)[1])
		}
		// A node that has no state file yet: bootdev writes its first.
		node := round % nodes
		state := filepath.Join(e.dir, "state", "nodes", fmt.Sprintf("n%d.json", node))
		os.Remove(state)
		if out, err := ipmitool(t, nodePorts[node], "chassis", "bootdev", "pxe"); err != nil || !strings.Contains(out, "Set Boot Device to pxe") {
			t.Errorf("round %d: ipmitool chassis bootdev pxe during the flood: %v\n%s", round, err, out)
		} else if _, err := os.Stat(state); err != nil {
			t.Errorf("round %d: no state file after bootdev: %v", round, err)
		}
		sample()
		time.Sleep(time.Second)
	}

	// A reload that adds a node: a new IPMI socket, then its state file.
	cfg, err := os.ReadFile(e.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	added := fmt.Sprintf("  - {name: n%d, ipmi: {listen: \"127.0.0.1:%d\", username: admin, password: password}}\n", nodes, nodePorts[nodes])
	if err := os.WriteFile(e.cfgPath, append(cfg, added...), 0o600); err != nil {
		t.Fatal(err)
	}
	e.cmd.Process.Signal(syscall.SIGHUP)
	eventually(t, 10*time.Second, "the reload to start the new node", func() bool { return len(e.logLines("configuration reloaded")) > 0 })
	if out, err := ipmitool(t, nodePorts[nodes], "chassis", "bootdev", "pxe"); err != nil || !strings.Contains(out, "Set Boot Device to pxe") {
		t.Errorf("bootdev on the node added during the flood: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "state", "nodes", fmt.Sprintf("n%d.json", nodes))); err != nil {
		t.Errorf("the added node's state file: %v", err)
	}
	sample()

	figures := map[string]string{}
	for _, m := range []string{
		`powerjockey_http_connections_open{server="redfish"}`, `powerjockey_http_connections_max{server="redfish"}`,
		`powerjockey_http_connections_refused_total{server="redfish"}`, `powerjockey_http_connections_evicted_total{server="redfish"}`,
		`powerjockey_http_connections_open{server="http"}`, `powerjockey_http_connections_max{server="http"}`,
		`powerjockey_http_connections_evicted_total{server="http"}`, `process_max_fds`,
	} {
		figures[m] = e.metric(m)
	}
	cancel()
	wg.Wait()

	for _, bad := range []string{"too many open files", "Accept error"} {
		if lines := e.logLines(bad); len(lines) > 0 {
			t.Errorf("the daemon logged %q during the flood:\n%s", bad, strings.Join(lines, "\n"))
		}
	}
	if maxFDs >= floodNoFile {
		t.Errorf("the daemon held %d descriptors, its limit is %d", maxFDs, floodNoFile)
	}
	if figures[`process_max_fds`] != strconv.Itoa(floodNoFile) {
		t.Errorf("process_max_fds %s, want the limit set for the test (%d)", figures[`process_max_fds`], floodNoFile)
	}
	t.Logf("flood: %d connections wanted (%d Redfish TLS from 40 addresses, %d HTTP from 10), %d check rounds",
		wanted, 40*perSource, 10*10*scale, rounds)
	t.Logf("Redfish flooders: %d handshakes, %d held connections closed by the server, %d connects or handshakes failed",
		rf.handshakes.Load(), rf.closed.Load(), rf.failed.Load())
	t.Logf("HTTP flooders: %d held connections closed by the server, %d connects failed", api.closed.Load(), api.failed.Load())
	t.Logf("daemon: %d descriptors before the flood, at most %d during it (limit %d); connections held at most: redfish %d, http %d",
		fdsBefore, maxFDs, floodNoFile, maxRF, maxAPI)
	t.Logf("metrics at the end: %v", figures)
	t.Logf("Redfish GET times (s): %v; HTTP API GET times (s): %v", rfTimes, apiTimes)
}

// countFDs is the number of open descriptors of process pid.
func countFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
