package perf

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/test/testkit"
)

// asfPing is an RMCP ASF Presence Ping; every endpoint answers it.
var asfPing = []byte{0x06, 0x00, 0xff, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x80, 0x01, 0x00, 0x00}

// serveIPMINodes starts the daemon built at bin with nodes IPMI-only nodes
// (named by nameFormat, user admin, password password) on fresh ports, the
// HTTP face on httpListen ("off" for none), and waits until every endpoint
// answers. The daemon is stopped when the test ends.
func serveIPMINodes(t *testing.T, dir, bin string, nodes int, nameFormat, httpListen string) (*exec.Cmd, []int) {
	t.Helper()
	ports := freePorts(t, nodes)
	var b strings.Builder
	fmt.Fprintf(&b, "state_dir: %s\nhttp: {listen: %q}\nnodes:\n", filepath.Join(dir, "state"), httpListen)
	for i, p := range ports {
		fmt.Fprintf(&b, "  - {name: "+nameFormat+", ipmi: {listen: \"127.0.0.1:%d\", username: admin, password: password}}\n", i, p)
	}
	cfg := filepath.Join(dir, "pj.yaml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--config", cfg)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	if !waitAnswering(ports, time.Now().Add(20*time.Second)) {
		t.Fatal("daemon did not come up")
	}
	return cmd, ports
}

// waitAnswering pings every port until each has answered a presence ping
// (in batches: a thousand pongs at once would overflow the socket buffer)
// and reports whether that happened before the deadline.
func waitAnswering(ports []int, deadline time.Time) bool {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return false
	}
	defer c.Close()
	pending := map[int]bool{}
	for _, p := range ports {
		pending[p] = true
	}
	buf := make([]byte, 64)
	for len(pending) > 0 {
		if time.Now().After(deadline) {
			return false
		}
		batch := map[int]bool{}
		for p := range pending {
			c.WriteToUDP(asfPing, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
			if batch[p] = true; len(batch) == 100 {
				break
			}
		}
		c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		for len(batch) > 0 {
			_, from, err := c.ReadFromUDP(buf)
			if err != nil {
				break
			}
			delete(pending, from.Port)
			delete(batch, from.Port)
		}
	}
	return true
}

func rssKiB(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			v, _ := strconv.Atoi(f[1])
			return v
		}
	}
	return 0
}

// TestThousandNodesStartup measures the real binary with 1,000 nodes on 42
// PDUs with Wake-on-LAN: the time from exec to every endpoint answering, on a
// fresh state directory and on a restart, and the resident memory once
// ready. PJ_PERF_ASSERT=1 asserts the targets (0.5 s, 32 MiB); CI asserts
// only gross regressions, its machines being shared.
func TestThousandNodesStartup(t *testing.T) {
	const n = 1000
	dir := t.TempDir()
	bin := build(t, dir, "github.com/powerjockey/powerjockey/cmd/powerjockey")
	ports := freePorts(t, n+43)
	var b strings.Builder
	fmt.Fprintf(&b, "state_dir: %s\nhttp: {listen: \"127.0.0.1:%d\"}\npdus:\n", filepath.Join(dir, "state"), testkit.FreePort(t, "tcp"))
	for p := 0; p < 42; p++ {
		fmt.Fprintf(&b, "  - {name: pdu%d, address: \"127.0.0.1:%d\", model: apc_rpdu2, snmp: {version: 2c, community: private}}\n", p, ports[n+p])
	}
	b.WriteString("nodes:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - {name: n%04d, ipmi: {listen: \"127.0.0.1:%d\", username: admin, password: password}, mac: \"52:54:00:00:%02x:%02x\", wol: {target: \"127.0.0.1:%d\"}, pdu: {name: pdu%d, outlets: [%d]}}\n",
			i, ports[i], i/256, i%256, ports[n+42], i/24, i%24+1)
	}
	cfg := filepath.Join(dir, "pj.yaml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	readyLimit, rssLimit := 2*time.Second, 48*1024
	if os.Getenv("PJ_PERF_ASSERT") != "" {
		readyLimit, rssLimit = 500*time.Millisecond, 32*1024
	}
	for _, phase := range []string{"first start", "restart"} {
		start := time.Now()
		cmd := exec.Command(bin, "serve", "--config", cfg)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if !waitAnswering(ports[:n], start.Add(30*time.Second)) {
			cmd.Process.Kill()
			t.Fatalf("%s: endpoints not all answering after 30 s", phase)
		}
		ready := time.Since(start)
		time.Sleep(500 * time.Millisecond)
		rss := rssKiB(cmd.Process.Pid)
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		t.Logf("%s: %d nodes answering after %v, RSS %.1f MiB", phase, n, ready.Round(time.Millisecond), float64(rss)/1024)
		if ready > readyLimit {
			t.Errorf("%s: ready after %v, limit %v", phase, ready, readyLimit)
		}
		if rss > rssLimit {
			t.Errorf("%s: RSS %d KiB, limit %d KiB", phase, rss, rssLimit)
		}
	}
}
