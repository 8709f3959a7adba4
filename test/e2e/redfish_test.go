package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/sim"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// redfishRack: one metered PDU node with Wake-on-LAN and inventory, one
// manual node of the same user, a read-only user's node on an outlet, and
// a node on a PDU that never answers, all behind one Redfish endpoint with
// a generated certificate.
const redfishRack = `
state_dir: {{.Dir}}/state
http: {listen: "127.0.0.1:{{.HTTP}}"}
redfish: {listen: "127.0.0.1:{{.RF}}"}
boot: {listen: "127.0.0.1:{{.Boot}}"}   # every BMC has a virtual CD (the walk covers it)
pdus:
  - name: rack1
    address: "127.0.0.1:{{.PDU}}"
    model: apc_rpdu2
    snmp: {version: 2c, community: private}
    stagger: 0s
  - name: dead
    address: "127.0.0.1:{{.Dead}}"
    model: apc_rpdu2
    snmp: {version: 2c, community: private, timeout: 300ms, retries: 0}
nodes:
  - name: metered-0
    ipmi: {listen: "127.0.0.1:{{.P0}}", username: admin, password: password}
    mac: "52:54:00:cc:00:01"
    cpu: 4
    memory: 8192
    disk: 40
    arch: x86_64
    wol: {target: "127.0.0.1:{{.WoL}}", interval: 100ms}
    pdu: {name: rack1, outlets: [1]}
    on_delay: 200ms
    cycle_delay: 300ms
    boot: {script: false}           # simulated: it fetches no script, its power-on uses overrides up
  - name: manual-0
    ipmi: {listen: "127.0.0.1:{{.P1}}", username: admin, password: password}
  - name: viewer-0
    ipmi: {listen: "127.0.0.1:{{.P2}}", username: viewer, password: viewer-secret, privilege: user}
    pdu: {name: rack1, outlets: [3]}
  - name: dead-0
    ipmi: {listen: "127.0.0.1:{{.P3}}", username: dead, password: dead-secret}
    pdu: {name: dead, outlets: [1]}
    fallback: error
`

type redfishEnv struct {
	*env
	ports map[string]int
	url   string
	ca    string
}

func newRedfishEnv(t *testing.T) *redfishEnv {
	t.Helper()
	ports := map[string]int{"RF": freePort(t, "tcp"), "Boot": freePort(t, "tcp")}
	for _, k := range []string{"PDU", "Dead", "WoL", "P0", "P1", "P2", "P3"} {
		ports[k] = freePort(t, "udp")
	}
	data := map[string]any{}
	for k, v := range ports {
		data[k] = v
	}
	e := newEnv(t, redfishRack, data)
	rack := e.startRack(sim.Options{})
	rack.PDU("dead").Agent().SetDropAll(true)
	e.start()
	r := &redfishEnv{env: e, ports: ports, url: fmt.Sprintf("https://127.0.0.1:%d", ports["RF"]),
		ca: filepath.Join(e.dir, "state", "redfish", "ca.crt")}
	r.waitRedfish()
	return r
}

// waitRedfish waits until the Redfish endpoint answers over TLS verified
// against the generated CA (ca.crt), as a client is told to.
func (r *redfishEnv) waitRedfish() {
	r.t.Helper()
	eventually(r.t, 10*time.Second, "the Redfish endpoint to serve", func() bool {
		if _, err := os.Stat(r.ca); err != nil {
			return false
		}
		status, _, _ := r.curl("/redfish/v1/")
		return status == 200
	})
}

// requireSushy skips (or, under CI, fails) unless Debian's python3-sushy
// is importable by /usr/bin/python3.
func requireSushy(t *testing.T) {
	t.Helper()
	testkit.RequirePython(t, "python3-sushy", "sushy")
}

// sushyStep is one line of the driver's output.
type sushyStep struct {
	Op         string  `json:"op"`
	Error      string  `json:"error"`
	Exc        string  `json:"exc"`
	Status     int     `json:"status"`
	Session    bool    `json:"session"`
	ID         string  `json:"id"`
	UUID       string  `json:"uuid"`
	PowerState *string `json:"power_state"`
	Boot       struct {
		Target, Enabled, Mode string
		Allowed               []string
	} `json:"boot"`
	Resets   []string `json:"resets"`
	ETag     string   `json:"etag"`
	Systems  []string `json:"systems"`
	Managers []string `json:"managers"`
	Chassis  []string `json:"chassis"`
	Waited   float64  `json:"waited"`
	// inspect
	MACs      map[string]string `json:"macs"`
	MemoryGiB *float64          `json:"memory_gib"`
	CPUs      *int              `json:"cpus"`
	Arch      string            `json:"arch"`
	Disks     []int64           `json:"disks"`
	// indicator
	Indicator        string `json:"indicator"`
	ChassisIndicator string `json:"chassis_indicator"`
	// power
	Supplies []struct{ ID, Name, State, Health string } `json:"supplies"`
	// virtual media
	VMedia []struct {
		ID, Image      string
		Inserted       bool
		MediaTypes     []string `json:"media_types"`
		ConnectedVia   string   `json:"connected_via"`
		TransferMethod string   `json:"transfer_method"`
	} `json:"vmedia"`
}

func (s sushyStep) power() string {
	if s.PowerState == nil {
		return "null"
	}
	return *s.PowerState
}

// sushy runs the driver script with the given steps as user/password
// (session authentication, as Ironic by default) and returns its per-step
// results (the first is the connection).
func (r *redfishEnv) sushy(user, password string, steps ...map[string]any) []sushyStep {
	r.t.Helper()
	return r.sushyAuth("auto", user, password, steps...)
}

// sushyAuth is sushy with the given authentication: "auto" or "basic".
func (r *redfishEnv) sushyAuth(auth, user, password string, steps ...map[string]any) []sushyStep {
	r.t.Helper()
	plan, _ := json.Marshal(steps)
	cmd := exec.Command("/usr/bin/python3", "testdata/sushy_driver.py", r.url, r.ca, user, password, string(plan), auth)
	// requests lets these override an explicit verify= (requests#3829):
	// the test must verify against the generated CA only.
	cmd.Env = withoutEnv(os.Environ(), "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	done := make(chan struct{})
	timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill(); close(done) })
	out, err := cmd.Output()
	if !timer.Stop() {
		<-done
	}
	if err != nil {
		r.t.Fatalf("sushy driver: %v\nstdout:\n%s\nstderr:\n%s\ndaemon log:\n%s", err, out, stderr.String(), r.logs())
	}
	var res []sushyStep
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var s sushyStep
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			r.t.Fatalf("driver output %q: %v", line, err)
		}
		res = append(res, s)
	}
	if len(res) != len(steps)+1 {
		r.t.Fatalf("driver printed %d results for %d steps:\n%s\nstderr:\n%s", len(res), len(steps), out, stderr.String())
	}
	return res
}

// curl runs curl against the endpoint, verifying against the generated CA,
// and returns the status, the response headers and the body.
func (r *redfishEnv) curl(path string, args ...string) (int, string, string) {
	r.t.Helper()
	hdr := filepath.Join(r.dir, "curl-headers")
	base := []string{"-sS", "--max-time", "20", "--cacert", r.ca, "-D", hdr, "-o", "-", "-w", "\n%{http_code}"}
	out, err := run(r.t, 30*time.Second, "curl", append(append(base, args...), r.url+path)...)
	if err != nil {
		return 0, "", out
	}
	i := strings.LastIndexByte(out, '\n')
	var status int
	fmt.Sscan(out[i+1:], &status)
	h, _ := os.ReadFile(hdr)
	return status, string(h), out[:i]
}

// redfishErrorIDs are the MessageIds of a Redfish error body.
func redfishErrorIDs(t *testing.T, body string) []string {
	t.Helper()
	var e struct {
		Error struct {
			Ext []struct{ MessageId string } `json:"@Message.ExtendedInfo"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("not a Redfish error body: %v\n%s", err, body)
	}
	var ids []string
	for _, m := range e.Error.Ext {
		ids = append(ids, m.MessageId[strings.LastIndexByte(m.MessageId, '.')+1:])
	}
	return ids
}

func mustStep(t *testing.T, s sushyStep) sushyStep {
	t.Helper()
	if s.Error != "" {
		t.Fatalf("sushy %s: %s: %s", s.Op, s.Exc, s.Error)
	}
	return s
}

// TestRedfishSushyIronicCalls makes Ironic's redfish calls through sushy:
// get the system, read power_state, reset_system, set_system_boot_options
// with target, enabled and mode, and read the boot settings back; the
// power actions move the simulated outlet and boot the simulated machine,
// and the boot override is what IPMI's chassis bootparam get 5 shows.
func TestRedfishSushyIronicCalls(t *testing.T) {
	requireSushy(t)
	requireTool(t, "ipmitool")
	r := newRedfishEnv(t)
	const sys = "/redfish/v1/Systems/metered-0"
	res := r.sushy("admin", "password",
		map[string]any{"op": "systems"},
		map[string]any{"op": "system", "id": sys},
		map[string]any{"op": "links"},
		map[string]any{"op": "boot", "target": "Pxe", "enabled": "Once", "mode": "UEFI"},
	)
	if !res[0].Session {
		t.Error("sushy fell back to basic authentication: session login failed")
	}
	if got := strings.Join(mustStep(t, res[1]).Systems, " "); got != "manual-0 metered-0" {
		t.Errorf("admin's systems: %s", got)
	}
	s := mustStep(t, res[2])
	if s.ID != "metered-0" || s.power() != "Off" {
		t.Errorf("system %s power %s, want metered-0 Off", s.ID, s.power())
	}
	var api struct{ GUID string }
	json.Unmarshal([]byte(r.httpGet("/api/v1/nodes/metered-0")), &api)
	if s.UUID == "" || s.UUID != api.GUID {
		t.Errorf("UUID %q, node GUID %q", s.UUID, api.GUID)
	}
	if want := "ForceOff ForceRestart GracefulRestart GracefulShutdown On PowerCycle"; strings.Join(s.Resets, " ") != want {
		t.Errorf("allowed resets %v, want %s", s.Resets, want)
	}
	if l := mustStep(t, res[3]); strings.Join(l.Managers, ",") != "metered-0" || strings.Join(l.Chassis, ",") != "metered-0" {
		t.Errorf("managers %v chassis %v", l.Managers, l.Chassis)
	}
	if b := mustStep(t, res[4]).Boot; b.Target != "Pxe" || b.Enabled != "Once" || b.Mode != "UEFI" {
		t.Errorf("boot after set: %+v", b)
	}
	// IPMI sees what Redfish set.
	out := mustIPMItool(t, r.ports["P0"], "Force PXE", "chassis", "bootparam", "get", "5")
	for _, want := range []string{"Boot Flag Valid", "Options apply to only next boot", "BIOS EFI boot"} {
		if !strings.Contains(out, want) {
			t.Errorf("bootparam get 5 lacks %q:\n%s", want, out)
		}
	}

	// Ironic's power calls; each must move the hardware.
	machine := r.rack.Machine("metered-0")
	res = r.sushy("admin", "password",
		map[string]any{"op": "system", "id": sys},
		map[string]any{"op": "reset", "value": "On"},
		map[string]any{"op": "wait_power", "value": "On", "timeout": 10},
		map[string]any{"op": "read"},
	)
	mustStep(t, res[2])
	if w := mustStep(t, res[3]); w.power() != "On" {
		t.Fatalf("power after On: %s (waited %vs)\n%s", w.power(), w.Waited, r.logs())
	}
	if !r.rack.PDU("rack1").Outlet(1) || machine.State() != sim.Running {
		t.Errorf("after On: outlet %v, machine %v", r.rack.PDU("rack1").Outlet(1), machine.State())
	}
	if b := mustStep(t, res[4]).Boot; b.Enabled != "Disabled" || b.Target != "Pxe" {
		t.Errorf("the power-on did not consume the one-time override: %+v", b)
	}
	boots := machine.Boots()
	res = r.sushy("admin", "password",
		map[string]any{"op": "system", "id": sys},
		map[string]any{"op": "reset", "value": "ForceRestart"},
		map[string]any{"op": "wait_power", "value": "On", "timeout": 10},
		map[string]any{"op": "reset", "value": "ForceOff"},
		map[string]any{"op": "wait_power", "value": "Off", "timeout": 10},
		map[string]any{"op": "reset", "value": "Nmi"},
	)
	mustStep(t, res[2])
	if w := mustStep(t, res[3]); w.power() != "On" {
		t.Errorf("power after ForceRestart: %s", w.power())
	}
	mustStep(t, res[4])
	if w := mustStep(t, res[5]); w.power() != "Off" || r.rack.PDU("rack1").Outlet(1) {
		t.Errorf("after ForceOff: power %s, outlet %v", w.power(), r.rack.PDU("rack1").Outlet(1))
	}
	if machine.Boots() <= boots {
		t.Errorf("ForceRestart did not reboot the machine (boots %d, before %d)", machine.Boots(), boots)
	}
	if res[6].Exc != "InvalidParameterValueError" {
		t.Errorf("Nmi on a node without a diag hook: %+v", res[6])
	}
	if n := len(r.logLines(`msg="power action" node=metered-0`)); n < 3 {
		t.Errorf("%d power actions logged for metered-0, want at least 3", n)
	}
}

// TestRedfishBootSharedWithIPMI: what ipmitool sets (Ironic's own raw
// lines included), sushy reads; and the other way round.
func TestRedfishBootSharedWithIPMI(t *testing.T) {
	requireSushy(t)
	requireTool(t, "ipmitool")
	r := newRedfishEnv(t)
	port := r.ports["P1"]
	const sys = "/redfish/v1/Systems/manual-0"
	steps := []struct {
		ipmi []string
		want [3]string // target, enabled, mode
	}{
		{[]string{"chassis", "bootdev", "disk", "options=persistent"}, [3]string{"Hdd", "Continuous", "Legacy"}},
		{[]string{"chassis", "bootdev", "bios", "options=efiboot"}, [3]string{"BiosSetup", "Once", "UEFI"}},
		// Ironic's raw Set System Boot Options: persistent, EFI, PXE.
		{[]string{"raw", "0x00", "0x08", "0x05", "0xe0", "0x04", "0x00", "0x00", "0x00"}, [3]string{"Pxe", "Continuous", "UEFI"}},
		{[]string{"chassis", "bootdev", "cdrom"}, [3]string{"Cd", "Once", "Legacy"}},
		{[]string{"chassis", "bootdev", "none"}, [3]string{"None", "Once", "Legacy"}},
	}
	for _, s := range steps {
		mustIPMItool(t, port, "", s.ipmi...)
		res := r.sushy("admin", "password", map[string]any{"op": "system", "id": sys})
		b := mustStep(t, res[1]).Boot
		if got := [3]string{b.Target, b.Enabled, b.Mode}; got != s.want {
			t.Errorf("after ipmitool %v: sushy reads %v, want %v", s.ipmi, got, s.want)
		}
	}
	// And back: sushy sets, ipmitool reads.
	for _, s := range []struct {
		target, enabled, mode string
		want                  []string
	}{
		{"Hdd", "Continuous", "Legacy", []string{"Force Boot from default Hard-Drive", "Options apply to all future boots", "BIOS PC Compatible (legacy) boot", "Boot Flag Valid"}},
		{"Cd", "Once", "UEFI", []string{"Force Boot from CD/DVD", "Options apply to only next boot", "BIOS EFI boot", "Boot Flag Valid"}},
		{"BiosSetup", "Disabled", "UEFI", []string{"Force Boot into BIOS Setup", "Boot Flag Invalid"}},
	} {
		res := r.sushy("admin", "password", map[string]any{"op": "system", "id": sys},
			map[string]any{"op": "boot", "target": s.target, "enabled": s.enabled, "mode": s.mode})
		mustStep(t, res[2])
		out := mustIPMItool(t, port, "Boot parameter data", "chassis", "bootparam", "get", "5")
		for _, want := range s.want {
			if !strings.Contains(out, want) {
				t.Errorf("sushy set %s/%s/%s; bootparam get 5 lacks %q:\n%s", s.target, s.enabled, s.mode, want, out)
			}
		}
	}
	// A Redfish "Once" does not lapse after IPMI's 60 seconds: the node's
	// stored override has no expiry.
	var api struct{ Boot struct{ Valid bool } }
	res := r.sushy("admin", "password", map[string]any{"op": "system", "id": sys},
		map[string]any{"op": "boot", "target": "Pxe", "enabled": "Once"})
	mustStep(t, res[2])
	state, err := os.ReadFile(filepath.Join(r.dir, "state", "nodes", "manual-0.json"))
	if err != nil || strings.Contains(string(state), "expires_at") {
		t.Errorf("a Redfish next-boot override lapses: %v\n%s", err, state)
	}
	json.Unmarshal([]byte(r.httpGet("/api/v1/nodes/manual-0")), &api)
	if !api.Boot.Valid {
		t.Error("override not valid in the status API")
	}
}

// TestRedfishOtherUsersAndFailures: a read-only user, a node on a PDU that
// never answers, and the default system of credentials that own one node.
func TestRedfishOtherUsersAndFailures(t *testing.T) {
	requireSushy(t)
	r := newRedfishEnv(t)
	refused := []map[string]any{
		{"op": "reset", "value": "On"},
		{"op": "boot", "target": "Pxe", "enabled": "Once"},
	}
	// HTTP basic: sushy raises the 403.
	res := r.sushyAuth("basic", "viewer", "viewer-secret", append([]map[string]any{{"op": "systems"}, {"op": "system"}}, refused...)...)
	if got := strings.Join(mustStep(t, res[1]).Systems, " "); got != "viewer-0" {
		t.Errorf("viewer sees %s", got)
	}
	if mustStep(t, res[2]).ID != "viewer-0" {
		t.Errorf("default system %s", res[2].ID)
	}
	for _, s := range res[3:] {
		if s.Exc != "AccessError" || s.Status != 403 {
			t.Errorf("read-only %s with basic auth: %+v", s.Op, s)
		}
	}
	// A session: sushy answers a 403 by logging in again and retrying,
	// and returns the second 403 without raising (sushy's connector does
	// not check the retried response). The service must still refuse.
	res = r.sushy("viewer", "viewer-secret", append(append([]map[string]any{{"op": "system"}}, refused...), map[string]any{"op": "read"})...)
	if s := mustStep(t, res[4]); s.Boot.Enabled != "Disabled" || s.Boot.Target != "None" {
		t.Errorf("a read-only session changed the boot override: %+v", s.Boot)
	}
	if n := len(r.logLines("redfish request refused: read-only credentials")); n < 4 {
		t.Errorf("%d refusals logged, want 4", n)
	}
	if n := len(r.logLines(`msg="power action" node=viewer-0`)); n != 0 {
		t.Errorf("a read-only user moved viewer-0 (%d power actions)", n)
	}
	start := time.Now()
	res = r.sushy("dead", "dead-secret",
		map[string]any{"op": "system"},
		map[string]any{"op": "reset", "value": "On"},
		map[string]any{"op": "read"},
	)
	if s := mustStep(t, res[1]); s.power() != "null" {
		t.Errorf("power of a node whose PDU is silent: %s, want null", s.power())
	}
	if s := res[2]; s.Exc != "ServerSideError" || s.Status != 503 || !strings.Contains(s.Error, "did not answer") {
		t.Errorf("reset On through a silent PDU: %+v", s)
	}
	if s := mustStep(t, res[3]); s.power() != "null" {
		t.Errorf("power after the failed On: %s, want null (never a false success)", s.power())
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("the silent PDU took %v", d)
	}
}

// TestRedfishCurl: authentication failures, unknown systems, bad PATCH
// bodies (no state change), ETags, read-only users, unsupported resets and
// the session life cycle, seen by curl.
func TestRedfishCurl(t *testing.T) {
	requireTool(t, "curl")
	r := newRedfishEnv(t)
	const sys = "/redfish/v1/Systems/manual-0"
	adminAuth := []string{"-u", "admin:password"}
	jsonBody := func(method, body string) []string {
		return []string{"-X", method, "-H", "Content-Type: application/json", "--data-binary", body}
	}

	// Authentication.
	status, hdr, body := r.curl("/redfish/v1/Systems")
	if status != 401 || !strings.Contains(strings.ToLower(hdr), "www-authenticate: basic realm=") || redfishErrorIDs(t, body)[0] != "NoValidSession" {
		t.Errorf("no credentials: %d\n%s%s", status, hdr, body)
	}
	if status, hdr, _ := r.curl("/redfish/v1/Systems", "-u", "admin:wrong-password"); status != 401 || !strings.Contains(strings.ToLower(hdr), "www-authenticate") {
		t.Errorf("wrong password: %d", status)
	}
	if status, _, _ := r.curl("/redfish/v1/Systems", "-H", "X-Auth-Token: 0123"); status != 401 {
		t.Errorf("bogus token: %d", status)
	}
	if status, hdr, _ := r.curl("/redfish/v1/"); status != 200 || headerValue(hdr, "OData-Version") != "4.0" {
		t.Errorf("service root without credentials: %d\n%s", status, hdr)
	}
	// Unknown systems, and another user's.
	for _, path := range []string{"/redfish/v1/Systems/nosuch", "/redfish/v1/Systems/viewer-0"} {
		status, _, body := r.curl(path, adminAuth...)
		if status != 404 || redfishErrorIDs(t, body)[0] != "ResourceNotFound" {
			t.Errorf("%s: %d\n%s", path, status, body)
		}
	}

	// Bad PATCH bodies change nothing.
	_, hdr0, body0 := r.curl(sys, adminAuth...)
	etag0 := headerValue(hdr0, "ETag")
	if !strings.HasPrefix(etag0, `W/"`) {
		t.Fatalf("ETag %q", etag0)
	}
	for _, c := range []struct{ body, want string }{
		{`{"Boot": {"BootSourceOverrideTarget": "Pxe"`, "MalformedJSON"},
		{`{"Boot": {"BootSourceOverrideTarget": "Pxe"}, "AssetTag": "x"}`, "PropertyUnknown"},
		{`{"Boot": {"BootSourceOverrideTarget": "Floppy", "BootSourceOverrideEnabled": "Always"}}`, "PropertyValueNotInList"},
		{`{"Boot": {"BootSourceOverrideMode": "uefi"}}`, "PropertyValueNotInList"},
		{`{"PowerState": "On"}`, "PropertyNotWritable"},
	} {
		status, _, body := r.curl(sys, append(adminAuth, jsonBody("PATCH", c.body)...)...)
		ids := redfishErrorIDs(t, body)
		if status != 400 || ids[0] != c.want {
			t.Errorf("PATCH %s: %d %v, want 400 %s\n%s", c.body, status, ids, c.want, body)
		}
	}
	_, hdr1, body1 := r.curl(sys, adminAuth...)
	if headerValue(hdr1, "ETag") != etag0 || bootOf(t, body1) != bootOf(t, body0) {
		t.Errorf("a refused PATCH changed the system: %s → %s", bootOf(t, body0), bootOf(t, body1))
	}
	// ETags: a stale If-Match is refused, the current one accepted.
	good := `{"Boot": {"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Continuous"}}`
	status, _, body = r.curl(sys, append(adminAuth, append(jsonBody("PATCH", good), "-H", `If-Match: W/"0000000000000000"`)...)...)
	if status != 412 || redfishErrorIDs(t, body)[0] != "PreconditionFailed" {
		t.Errorf("stale If-Match: %d\n%s", status, body)
	}
	status, hdr, body = r.curl(sys, append(adminAuth, append(jsonBody("PATCH", good), "-H", "If-Match: "+etag0)...)...)
	if status != 200 || headerValue(hdr, "ETag") == etag0 || bootOf(t, body) != "Pxe/Continuous/Legacy" {
		t.Errorf("PATCH with the current ETag: %d, ETag %s\n%s", status, headerValue(hdr, "ETag"), body)
	}

	// Read-only user; unsupported reset.
	status, _, body = r.curl("/redfish/v1/Systems/viewer-0/Actions/ComputerSystem.Reset",
		append([]string{"-u", "viewer:viewer-secret"}, jsonBody("POST", `{"ResetType": "On"}`)...)...)
	if status != 403 || redfishErrorIDs(t, body)[0] != "InsufficientPrivilege" {
		t.Errorf("read-only reset: %d\n%s", status, body)
	}
	status, _, body = r.curl(sys+"/Actions/ComputerSystem.Reset", append(adminAuth, jsonBody("POST", `{"ResetType": "Nmi"}`)...)...)
	if status != 400 || redfishErrorIDs(t, body)[0] != "ActionParameterNotSupported" || !strings.Contains(body, "diag hook") {
		t.Errorf("Nmi: %d\n%s", status, body)
	}
	status, _, body = r.curl(sys+"/Actions/ComputerSystem.Reset", append(adminAuth, jsonBody("POST", `{"ResetType": "Off"}`)...)...)
	if status != 400 || redfishErrorIDs(t, body)[0] != "ActionParameterValueNotInList" {
		t.Errorf("ResetType Off: %d\n%s", status, body)
	}

	// Sessions.
	status, hdr, body = r.curl("/redfish/v1/SessionService/Sessions", jsonBody("POST", `{"UserName": "admin", "Password": "password"}`)...)
	token, loc := headerValue(hdr, "X-Auth-Token"), headerValue(hdr, "Location")
	if status != 201 || token == "" || !strings.HasPrefix(loc, "/redfish/v1/SessionService/Sessions/") {
		t.Fatalf("login: %d\n%s%s", status, hdr, body)
	}
	if status, _, _ := r.curl(sys, "-H", "X-Auth-Token: "+token); status != 200 {
		t.Errorf("GET with the token: %d", status)
	}
	if status, _, _ := r.curl(loc, "-X", "DELETE", "-H", "X-Auth-Token: "+token); status != 204 {
		t.Errorf("DELETE the session: %d", status)
	}
	if status, _, _ := r.curl(sys, "-H", "X-Auth-Token: "+token); status != 401 {
		t.Errorf("token after logout: %d", status)
	}
	if status, _, _ := r.curl("/redfish/v1/SessionService/Sessions", jsonBody("POST", `{"UserName": "admin", "Password": "nope-nope"}`)...); status != 401 {
		t.Errorf("login with a wrong password: %d", status)
	}

	logs := r.logs()
	if !strings.Contains(logs, "redfish authentication failed") {
		t.Error("refused logins not logged")
	}
	for _, secret := range []string{"wrong-password", "nope-nope", token} {
		if strings.Contains(logs, secret) {
			t.Errorf("%q reached the log", secret)
		}
	}
}

// TestRedfishCertificateKeptAcrossRestarts: the generated CA and
// certificate and the service UUID survive a restart.
func TestRedfishCertificateKeptAcrossRestarts(t *testing.T) {
	requireTool(t, "curl")
	r := newRedfishEnv(t)
	fingerprint := func() string {
		h := sha256.New()
		for _, f := range []string{r.ca, filepath.Join(filepath.Dir(r.ca), "tls.crt")} {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			h.Write(b)
		}
		return hex.EncodeToString(h.Sum(nil))
	}
	uuid := func() string {
		_, _, body := r.curl("/redfish/v1/")
		var root struct{ UUID string }
		json.Unmarshal([]byte(body), &root)
		return root.UUID
	}
	fp, u := fingerprint(), uuid()
	r.stop()
	r.start()
	r.waitRedfish()
	if fingerprint() != fp || uuid() != u || u == "" {
		t.Errorf("restart changed the certificate or the service UUID (%s)", u)
	}
}

func headerValue(headers, name string) string {
	for _, line := range strings.Split(headers, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func bootOf(t *testing.T, body string) string {
	t.Helper()
	var s struct {
		Boot struct{ BootSourceOverrideTarget, BootSourceOverrideEnabled, BootSourceOverrideMode string }
	}
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("system body: %v\n%s", err, body)
	}
	return s.Boot.BootSourceOverrideTarget + "/" + s.Boot.BootSourceOverrideEnabled + "/" + s.Boot.BootSourceOverrideMode
}
