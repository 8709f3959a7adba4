// Package ironic runs OpenStack Ironic itself (Debian's python3-ironic,
// API and conductor in one process, sqlite, no authentication, no RPC bus)
// against the real powerjockey binary and a simulated rack, and drives it
// with Ironic's own client (python3-ironicclient's `baremetal`), as an
// operator of a TripleO/Bifrost/Metal3 deployment would.
//
// Ironic, its client and ipmitool are required under CI; without CI the
// tests skip when they are missing.
package ironic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/powerjockey/powerjockey/test/harness"
	"github.com/powerjockey/powerjockey/test/testkit"
)

var binary string

func TestMain(m *testing.M) { harness.RunMain(m, "ironic", &binary) }

// Timing. Ironic's defaults poll every 60 s and space IPMI commands to one
// BMC 5 s apart; these keep every flow within seconds while exercising the
// same code paths (periodic power sync, its retry count, maintenance on
// failure and the recovery check, ipmitool retries, sushy connection
// retries).
const (
	syncInterval = 2 // [conductor]sync_power_state_interval
	// [conductor]power_state_sync_max_retries. Ironic counts every sync
	// that finds a state other than the recorded one, and resets the count
	// only at a sync that finds the recorded one; so two changes at two
	// consecutive syncs (the behind-the-back flow) count as two: with 1 the
	// second would put the node into maintenance.
	syncMaxRetries   = 2
	recoveryInterval = 4 // [conductor]power_failure_recovery_interval
)

// ironicConf is Ironic's configuration: one process, sqlite in the test's
// directory, every path of Ironic's state under it, the API on loopback.
// Interfaces: ipmi and redfish power and management for real, and for the
// rest what needs no other service (pxe boot only so that the hardware
// types load; their validation is not part of these flows).
var ironicConf = template.Must(template.New("ironic.conf").Parse(`[DEFAULT]
auth_strategy = noauth
rpc_transport = none
host = powerjockey-test
state_path = {{.Dir}}
tempdir = {{.Dir}}/tmp
use_stderr = true
debug = false
logging_context_format_string = %(asctime)s.%(msecs)03d %(levelname)s %(name)s [%(request_id)s] %(message)s
logging_default_format_string = %(asctime)s.%(msecs)03d %(levelname)s %(name)s [-] %(message)s
enabled_hardware_types = ipmi,redfish,manual-management
enabled_boot_interfaces = pxe
enabled_deploy_interfaces = ramdisk
enabled_inspect_interfaces = no-inspect
enabled_management_interfaces = ipmitool,redfish,noop
enabled_power_interfaces = ipmitool,redfish,fake
enabled_network_interfaces = noop
default_network_interface = noop
enabled_console_interfaces = ipmitool-socat,no-console
enabled_vendor_interfaces = ipmitool,redfish,no-vendor
enabled_raid_interfaces = no-raid
enabled_bios_interfaces = no-bios
enabled_rescue_interfaces = no-rescue
enabled_storage_interfaces = noop

[api]
host_ip = 127.0.0.1
port = {{.Port}}

[database]
connection = sqlite:///{{.Dir}}/ironic.sqlite

[conductor]
automated_clean = false
sync_power_state_interval = {{.SyncInterval}}
# false adopts what the sensors say (TripleO's setting): a ramdisk that
# powers its machine off must not be powered on again by the sync. true,
# Ironic's default (Bifrost, plain installs), makes the sync drive the
# machine to the recorded state instead.
force_power_state_during_sync = {{.ForceSync}}
power_state_sync_max_retries = {{.SyncMaxRetries}}
power_failure_recovery_interval = {{.RecoveryInterval}}
power_state_change_timeout = 30

[ipmi]
min_command_interval = 1
command_retry_timeout = 6
# Metal3's setting: ipmitool is given -C 17, then -C 3 if 17 fails.
cipher_suite_versions = 3,17

[redfish]
connection_attempts = 2
connection_retry_interval = 1

[dhcp]
dhcp_provider = none

[pxe]
tftp_root = {{.Dir}}/tftpboot
tftp_master_path = {{.Dir}}/tftpboot/master_images
images_path = {{.Dir}}/images
instance_master_path = {{.Dir}}/master_images

[deploy]
http_root = {{.Dir}}/httpboot

[console]
terminal_pid_dir = {{.Dir}}/console
# socat listens for console clients on loopback only.
socat_address = 127.0.0.1

[oslo_concurrency]
lock_path = {{.Dir}}/lock
`))

// ironicEnv is the environment of Ironic and its client: no OpenStack
// credentials or cloud selection from the caller's environment, and no CA
// bundle override (python-requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE
// override sushy's verify=False, which would make every Redfish call on a
// self-signed certificate fail).
func ironicEnv() []string {
	var drop []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "OS_") {
			drop = append(drop, k)
		}
	}
	env := testkit.WithoutEnv(os.Environ(), append(drop, "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")...)
	// Deprecation warnings of Debian's Python stack are noise, not errors.
	return append(env, "PYTHONWARNINGS=ignore::DeprecationWarning")
}

// server is a running Ironic.
type server struct {
	t   *testing.T
	dir string
	url string
	// forceSync is [conductor]force_power_state_during_sync.
	forceSync bool
	log       testkit.Log
	proc      *harness.Process
	http      *http.Client

	// One poller lists every node twice a second for all the flows:
	// a GET per flow and poll would keep Ironic's one process busy.
	mu      sync.Mutex
	snap    snapshot
	updated chan struct{} // closed and replaced at every new snapshot
}

// snapshot is one listing of Ironic's nodes.
type snapshot struct {
	at    time.Time // when the listing was asked for
	nodes map[string]ironicNode
	err   error
}

// requireIronic skips (or, under CI, fails) without Ironic, its client or
// ipmitool.
func requireIronic(t *testing.T) {
	t.Helper()
	testkit.RequireTool(t, "ipmitool", "baremetal")
	testkit.RequirePython(t, "python3-ironic", "ironic.cmd.singleprocess", "ironic.cmd.dbsync")
	testkit.RequirePython(t, "python3-ironicclient", "ironicclient")
}

// startIronic creates Ironic's database and starts API and conductor in
// one process, stopped when the test ends, with forceSync as
// [conductor]force_power_state_during_sync. Its log is in every failure
// message that concerns it.
func startIronic(t *testing.T, forceSync bool) *server {
	t.Helper()
	requireIronic(t)
	s := &server{t: t, dir: t.TempDir(), forceSync: forceSync, http: &http.Client{Timeout: 90 * time.Second}}
	port := testkit.FreePort(t, "tcp")
	s.url = fmt.Sprintf("http://127.0.0.1:%d", port)
	for _, d := range []string{"tmp", "lock", "console"} {
		if err := os.MkdirAll(filepath.Join(s.dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	var conf bytes.Buffer
	if err := ironicConf.Execute(&conf, map[string]any{
		"Dir": s.dir, "Port": port, "SyncInterval": syncInterval,
		"SyncMaxRetries": syncMaxRetries, "RecoveryInterval": recoveryInterval,
		"ForceSync": forceSync,
	}); err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(s.dir, "ironic.conf")
	if err := os.WriteFile(confPath, conf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	// ironic-dbsync and ironic (singleprocess) are console scripts of the
	// ironic-api/-conductor packages; python3-ironic has their modules.
	// singleprocess has no __main__ guard, so it is started through main().
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dbsync := exec.CommandContext(ctx, testkit.Python, "-c",
		"import sys; from ironic.cmd import dbsync; sys.exit(dbsync.main())",
		"--config-file", confPath, "create_schema")
	dbsync.Dir, dbsync.Env = s.dir, ironicEnv()
	if out, err := dbsync.CombinedOutput(); err != nil {
		t.Fatalf("ironic-dbsync create_schema: %v\n%s", err, out)
	}
	// Write-ahead logging, which the database file keeps: readers and the
	// writer no longer block each other. Without it, sqlite's busy wait
	// (5 s, in C) stalls Ironic's whole eventlet process whenever an API
	// request and a conductor task touch the database at once, and
	// requests fail with "database is locked".
	wal := exec.CommandContext(ctx, testkit.Python, "-c",
		"import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('PRAGMA journal_mode=WAL').fetchone()[0])",
		filepath.Join(s.dir, "ironic.sqlite"))
	if out, err := wal.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "wal" {
		t.Fatalf("sqlite journal_mode=WAL: %v: %s", err, out)
	}
	cmd := exec.Command(testkit.Python, "-c",
		"import sys; from ironic.cmd import singleprocess; sys.exit(singleprocess.main())",
		"--config-file", confPath)
	cmd.Dir, cmd.Env = s.dir, withSocatShim(t, ironicEnv())
	s.proc = harness.Start(t, &s.log, cmd)
	// oslo.service's exit status after SIGTERM is not a promise of ours;
	// that it stops at all is checked (Stop fails the test otherwise).
	s.proc.CleanExit = false
	// Ready when the conductor has registered every hardware type.
	s.proc.WaitReady(2*time.Minute, "Ironic serving with its conductor", func() bool {
		var drivers struct {
			Drivers []struct {
				Name string `json:"name"`
			} `json:"drivers"`
		}
		if s.get("/v1/drivers", &drivers) != nil {
			return false
		}
		return len(drivers.Drivers) == 3
	})
	ctx, stop := context.WithCancel(context.Background())
	s.updated = make(chan struct{})
	polled := make(chan struct{})
	go func() { s.poll(ctx); close(polled) }()
	t.Cleanup(func() { stop(); <-polled })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("Ironic's log (tail):\n%s\nwhole log: %s", s.log.Tail(16<<10), keepLog(t, "ironic.log", &s.log))
		}
	})
	return s
}

// keepLog saves a whole log of a failed test where it outlives the test's
// directories (and CI can collect it) and returns its path.
func keepLog(t *testing.T, name string, log *testkit.Log) string {
	dir := filepath.Join(os.TempDir(), "powerjockey-ironic-logs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err.Error()
	}
	path := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+"-"+name)
	if err := os.WriteFile(path, []byte(log.String()), 0o644); err != nil {
		return err.Error()
	}
	return path
}

// get decodes a GET of Ironic's API at the newest microversion.
func (s *server) get(path string, v any) error {
	return s.do("GET", path, nil, v)
}

// do sends a request with a JSON body (if any) to Ironic's API at the
// newest microversion, as its client does, and decodes the answer into v
// (if not nil).
func (s *server) do(method, path string, body, v any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("X-OpenStack-Ironic-API-Version", "latest")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, data)
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(data, v)
}

// provision asks for a provision state transition ("manage", "provide").
func (s *server) provision(t *testing.T, name, target string) {
	t.Helper()
	if err := s.do("PUT", "/v1/nodes/"+name+"/states/provision", map[string]string{"target": target}, nil); err != nil {
		t.Fatal(err)
	}
}

// setPower asks for a power state ("power on", "power off", "rebooting").
func (s *server) setPower(t *testing.T, name, target string) {
	t.Helper()
	if err := s.do("PUT", "/v1/nodes/"+name+"/states/power", map[string]string{"target": target}, nil); err != nil {
		t.Fatal(err)
	}
}

// validate checks Ironic's validation of the node's power and management
// interfaces through the API (GET /v1/nodes/NAME/validate).
func (s *server) validate(t *testing.T, name string) {
	t.Helper()
	var res map[string]struct {
		Result *bool  `json:"result"`
		Reason string `json:"reason"`
	}
	if err := s.get("/v1/nodes/"+name+"/validate", &res); err != nil {
		t.Fatal(err)
	}
	for _, iface := range []string{"power", "management"} {
		if r := res[iface]; r.Result == nil || !*r.Result {
			t.Fatalf("validate %s: %s: %s", name, iface, r.Reason)
		}
	}
}

// baremetal runs Ironic's client (`baremetal`, python3-ironicclient's
// OpenStack client plugin) against the server and returns its standard
// output; a failure carries its standard error.
func (s *server) baremetal(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	full := append([]string{"--os-auth-type", "none", "--os-endpoint", s.url}, args...)
	cmd := exec.CommandContext(ctx, "baremetal", full...)
	cmd.Env = ironicEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("baremetal %s: %w\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// mustBaremetal fails the test unless the client succeeds.
func (s *server) mustBaremetal(t *testing.T, args ...string) string {
	t.Helper()
	out, err := s.baremetal(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ironicNode is what the flows read of a node in Ironic's database.
type ironicNode struct {
	UUID              string  `json:"uuid"`
	Name              string  `json:"name"`
	Driver            string  `json:"driver"`
	PowerState        *string `json:"power_state"`
	TargetPowerState  *string `json:"target_power_state"`
	ProvisionState    string  `json:"provision_state"`
	TargetProvision   *string `json:"target_provision_state"`
	LastError         *string `json:"last_error"`
	Maintenance       bool    `json:"maintenance"`
	MaintenanceReason *string `json:"maintenance_reason"`
	Fault             *string `json:"fault"`
	Reservation       *string `json:"reservation"`
}

// nodeFields are the fields ironicNode reads: asking for these only
// spares Ironic serializing the rest on every poll.
const nodeFields = "uuid,name,driver,power_state,target_power_state,provision_state,target_provision_state," +
	"last_error,maintenance,maintenance_reason,fault,reservation"

func str(p *string) string {
	if p == nil {
		return "<none>"
	}
	return *p
}

func (n ironicNode) String() string {
	return fmt.Sprintf("%s: power %s (target %s), provision %s (target %s), maintenance %v (%s), fault %s, last_error %s",
		n.Name, str(n.PowerState), str(n.TargetPowerState), n.ProvisionState, str(n.TargetProvision),
		n.Maintenance, str(n.MaintenanceReason), str(n.Fault), str(n.LastError))
}

// poll lists the nodes every 500 ms until ctx ends.
func (s *server) poll(ctx context.Context) {
	for {
		at := time.Now()
		var list struct {
			Nodes []ironicNode `json:"nodes"`
		}
		err := s.get("/v1/nodes?fields="+nodeFields, &list)
		nodes := make(map[string]ironicNode, len(list.Nodes))
		for _, n := range list.Nodes {
			nodes[n.Name] = n
		}
		s.mu.Lock()
		s.snap = snapshot{at: at, nodes: nodes, err: err}
		close(s.updated)
		s.updated = make(chan struct{})
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// listedAfter waits until deadline for a listing asked for after since.
func (s *server) listedAfter(since, deadline time.Time) (snapshot, bool) {
	for {
		s.mu.Lock()
		snap, updated := s.snap, s.updated
		s.mu.Unlock()
		if snap.at.After(since) {
			return snap, true
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return snap, false
		}
		select {
		case <-updated:
		case <-time.After(wait):
		}
	}
}

// node reads a node from a listing asked for after the call: what a
// request before it changed is seen.
func (s *server) node(t *testing.T, name string) ironicNode {
	t.Helper()
	snap, ok := s.listedAfter(time.Now(), time.Now().Add(60*time.Second))
	switch {
	case !ok:
		t.Fatalf("Ironic did not list its nodes for 60 s: %v", snap.err)
	case snap.err != nil:
		t.Fatal(snap.err)
	}
	n, ok := snap.nodes[name]
	if !ok {
		t.Fatalf("Ironic has no node %s", name)
	}
	return n
}

// waitNode reads the node from every listing after the call until cond
// holds and returns it; seen, if not nil, is called with every reading. A
// timeout fails the test with the node's last state and Ironic's log lines
// about it.
func (s *server) waitNode(t *testing.T, name string, within time.Duration, what string, cond func(ironicNode) bool, seen func(ironicNode)) ironicNode {
	t.Helper()
	deadline := time.Now().Add(within)
	since := time.Now()
	var n ironicNode
	var lastErr error
	for {
		snap, ok := s.listedAfter(since, deadline)
		if !ok {
			break
		}
		since, lastErr = snap.at, snap.err
		if snap.err != nil {
			continue
		}
		n = snap.nodes[name]
		if seen != nil {
			seen(n)
		}
		if cond(n) {
			return n
		}
	}
	t.Fatalf("Ironic node %s: not %s within %v; last:\n%v (listing error: %v)\nIronic's log about it:\n%s",
		name, what, within, n, lastErr, strings.Join(s.log.Lines(n.UUID), "\n"))
	return n
}

// idle reports a node with no power or provision change in progress.
func idle(n ironicNode) bool {
	return n.TargetPowerState == nil && n.TargetProvision == nil && n.Reservation == nil
}

// historyEvent is one entry of a node's history in Ironic, where every
// error that sets last_error is kept.
type historyEvent struct {
	Severity  string `json:"severity"`
	EventType string `json:"event_type"`
	Event     string `json:"event"`
}

// history reads the node's whole history, oldest first (GET
// /v1/nodes/NAME/history?detail=true).
func (s *server) history(t *testing.T, name string) []historyEvent {
	t.Helper()
	var h struct {
		History []historyEvent `json:"history"`
	}
	if err := s.get("/v1/nodes/"+name+"/history?detail=true", &h); err != nil {
		t.Fatal(err)
	}
	return h.History
}
