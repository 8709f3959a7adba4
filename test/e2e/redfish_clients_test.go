package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/redfish/redfishtest"
	"github.com/powerjockey/powerjockey/pkg/sim"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// TestRedfishConformance walks every resource of the real binary's
// service over TLS (verified with the generated certificate), as admin
// and as the read-only viewer, checking DSP0266's rules resource by
// resource (pkg/redfish/redfishtest).
func TestRedfishConformance(t *testing.T) {
	r := newRedfishEnv(t)
	pem, err := os.ReadFile(r.ca)
	if err != nil {
		t.Fatal(err)
	}
	client := redfishtest.Client(testkit.TrustingTransport(pem))
	// A power action first, so the event log has entries.
	if status, _, body := r.curl("/redfish/v1/Systems/manual-0/Actions/ComputerSystem.Reset", "-u", "admin:password",
		"-H", "Content-Type: application/json", "--data-binary", `{"ResetType": "On"}`); status != 204 {
		t.Fatalf("reset: %d %s", status, body)
	}
	res := redfishtest.Walk(t, redfishtest.Config{Base: r.url, Client: client, User: "admin", Password: "password",
		ReadOnlyUser: "viewer", ReadOnlyPassword: "viewer-secret"})
	for _, p := range []string{"/redfish/v1/Systems/metered-0/EthernetInterfaces/525400cc0001", "/redfish/v1/Chassis/metered-0/Power",
		"/redfish/v1/Systems/manual-0/LogServices/EventLog/Entries/1", "/redfish/v1/Systems/metered-0/Processors/CPU",
		"/redfish/v1/Managers/metered-0/VirtualMedia/Cd"} {
		if res.Resources[p] == "" {
			t.Errorf("%s was not walked", p)
		}
	}
	if n := len(r.logLines(`msg="power action" node=viewer-0`)); n != 0 {
		t.Errorf("the read-only walk moved viewer-0 (%d power actions)", n)
	}
	if r.rack.PDU("rack1").Outlet(3) {
		t.Error("the read-only walk switched viewer-0's outlet on")
	}
}

// TestRedfishInspectionAndMonitoring: what Ironic's redfish inspection,
// indicator API and sensor data read, through sushy; the health, power
// and log a monitoring client reads, through curl, for a metered node and
// for one whose PDU never answers.
func TestRedfishInspectionAndMonitoring(t *testing.T) {
	requireSushy(t)
	r := newRedfishEnv(t)
	const sys = "/redfish/v1/Systems/metered-0"
	res := r.sushy("admin", "password",
		map[string]any{"op": "system", "id": sys},
		map[string]any{"op": "inspect"},
		map[string]any{"op": "indicator", "value": "Blinking"},
		map[string]any{"op": "reset", "value": "On"},
		map[string]any{"op": "wait_power", "value": "On", "timeout": 10},
		map[string]any{"op": "power"},
	)
	in := mustStep(t, res[2])
	if in.MACs["52:54:00:cc:00:01"] != "Enabled" || len(in.MACs) != 1 {
		t.Errorf("NICs %v: Ironic creates ports from enabled, healthy NICs", in.MACs)
	}
	if in.MemoryGiB == nil || *in.MemoryGiB != 8 || in.CPUs == nil || *in.CPUs != 4 || in.Arch != "x86" ||
		!slices.Equal(in.Disks, []int64{40 << 30}) {
		t.Errorf("inventory: memory %v GiB, %v CPUs, arch %q, disks %v", in.MemoryGiB, in.CPUs, in.Arch, in.Disks)
	}
	if ind := mustStep(t, res[3]); ind.Indicator != "Blinking" || ind.ChassisIndicator != "Blinking" {
		t.Errorf("indicator %q, chassis %q", ind.Indicator, ind.ChassisIndicator)
	}
	if w := mustStep(t, res[5]); w.power() != "On" {
		t.Fatalf("power after On: %s", w.power())
	}
	ps := mustStep(t, res[6]).Supplies
	if len(ps) != 1 || ps[0].Name != "Power supply on PDU rack1 outlet 1" || ps[0].State != "Enabled" || ps[0].Health != "OK" {
		t.Errorf("power supplies %+v", ps)
	}

	get := func(user, path string) map[string]any {
		t.Helper()
		status, hdr, body := r.curl(path, "-u", user)
		if status != 200 || headerValue(hdr, "Link") == "" || headerValue(hdr, "Allow") == "" {
			t.Fatalf("GET %s: %d\n%s%s", path, status, hdr, body)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	// The metered draw and the supply's input: what the simulated PDU meters.
	var power map[string]any
	eventually(t, 10*time.Second, "metered watts in the Power resource", func() bool {
		power = get("admin:password", "/redfish/v1/Chassis/metered-0/Power")
		pc, _ := power["PowerControl"].([]any)
		if len(pc) != 1 {
			return false
		}
		w, ok := pc[0].(map[string]any)["PowerConsumedWatts"].(float64)
		return ok && w > 0
	})
	supply := power["PowerSupplies"].([]any)[0].(map[string]any)
	if w, ok := supply["PowerInputWatts"].(float64); !ok || w <= 0 {
		t.Errorf("supply %v: no input watts", supply)
	}
	// The event log has the power action, who asked, and the indicator.
	entries := get("admin:password", sys+"/LogServices/EventLog/Entries")
	var msgs []string
	for _, e := range entries["Members"].([]any) {
		msgs = append(msgs, e.(map[string]any)["Message"].(string))
	}
	joined := strings.Join(msgs, "\n")
	for _, want := range []string{"Power on via", "by admin over redfish", "Identify indicator set to Blinking"} {
		if !strings.Contains(joined, want) {
			t.Errorf("event log lacks %q:\n%s", want, joined)
		}
	}

	// A PDU that never answers: Critical, with the reason; no watts.
	dead := get("dead:dead-secret", "/redfish/v1/Systems/dead-0")
	if dead["PowerState"] != nil || testkit.Field(dead, "Status", "Health") != "Critical" {
		t.Errorf("dead-0: PowerState %v, Status %v", dead["PowerState"], dead["Status"])
	}
	conds, _ := testkit.Field(dead, "Status", "Conditions").([]any)
	if len(conds) != 1 || !strings.Contains(fmt.Sprint(conds[0]), "do not answer") {
		t.Errorf("dead-0 conditions %v", conds)
	}
	dp := get("dead:dead-secret", "/redfish/v1/Chassis/dead-0/Power")
	pc := dp["PowerControl"].([]any)[0].(map[string]any)
	if _, ok := pc["PowerConsumedWatts"]; ok || testkit.Field(pc, "Status", "Health") != "Critical" {
		t.Errorf("dead-0 power control %v", pc)
	}
	// A node without sensors that was never commanded: unknown, Warning.
	m := get("admin:password", "/redfish/v1/Systems/manual-0")
	conds, _ = testkit.Field(m, "Status", "Conditions").([]any)
	if m["PowerState"] != nil || testkit.Field(m, "Status", "Health") != "Warning" || len(conds) != 1 || !strings.Contains(fmt.Sprint(conds[0]), "no sensor") {
		t.Errorf("manual-0, never commanded: PowerState %v, Status %v", m["PowerState"], m["Status"])
	}
	// A node whose outlet reads off: Off, OK.
	if v := get("viewer:viewer-secret", "/redfish/v1/Systems/viewer-0"); v["PowerState"] != "Off" || testkit.Field(v, "Status", "Health") != "OK" {
		t.Errorf("viewer-0: PowerState %v, Status %v", v["PowerState"], v["Status"])
	}
	// Clearing the log leaves one entry saying who cleared it.
	if status, _, body := r.curl(sys+"/LogServices/EventLog/Actions/LogService.ClearLog", "-u", "admin:password",
		"-H", "Content-Type: application/json", "--data-binary", "{}"); status != 204 {
		t.Fatalf("ClearLog: %d %s", status, body)
	}
	entries = get("admin:password", sys+"/LogServices/EventLog/Entries")
	if list := entries["Members"].([]any); len(list) != 1 || !strings.Contains(fmt.Sprint(list[0]), "cleared by admin over redfish") {
		t.Errorf("after ClearLog: %v", list)
	}
}

// fenceRedfish returns fence_redfish's path (fence-agents installs it in
// /usr/sbin, which a non-root PATH may lack).
func fenceRedfish(t *testing.T) string {
	t.Helper()
	return testkit.Tool(t, "fence_redfish")
}

// fence runs fence_redfish as a cluster manager would and returns its
// output and exit status (status: 0 on, 2 off; actions: 0 done, 1 failed).
func (r *redfishEnv) fence(bin, user, password, system string, args ...string) (string, int) {
	r.t.Helper()
	base := []string{"--ip", "127.0.0.1", "--ipport", fmt.Sprint(r.ports["RF"]), "--username", user, "--password", password,
		"--ssl-insecure", "--power-timeout", "10"}
	if system != "" {
		base = append(base, "--systems-uri", system)
	}
	out, err := run(r.t, 60*time.Second, bin, append(base, args...)...)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out, 0
	case errors.As(err, &ee):
		return out, ee.ExitCode()
	}
	r.t.Fatalf("fence_redfish: %v\n%s", err, out)
	return "", -1
}

// TestRedfishFenceAgent drives the service with fence-agents'
// fence_redfish: status, on, off and reboot move the simulated outlet and
// machine; a node whose power cannot be known fails instead of guessing;
// a read-only login fences nothing.
func TestRedfishFenceAgent(t *testing.T) {
	bin := fenceRedfish(t)
	r := newRedfishEnv(t)
	const sys = "/redfish/v1/Systems/metered-0"
	outlet := func() bool { return r.rack.PDU("rack1").Outlet(1) }
	machine := r.rack.Machine("metered-0")

	if out, code := r.fence(bin, "admin", "password", sys, "-o", "status"); code != 2 || !strings.Contains(out, "Status: OFF") {
		t.Fatalf("status of an off node: %d\n%s", code, out)
	}
	if out, code := r.fence(bin, "admin", "password", sys, "-o", "on"); code != 0 || !outlet() {
		t.Fatalf("on: %d, outlet %v\n%s", code, outlet(), out)
	}
	if machine.State() != sim.Running {
		t.Errorf("after fence on the machine is %v", machine.State())
	}
	if out, code := r.fence(bin, "admin", "password", sys, "-o", "status"); code != 0 || !strings.Contains(out, "Status: ON") {
		t.Errorf("status of an on node: %d\n%s", code, out)
	}
	boots := machine.Boots()
	if out, code := r.fence(bin, "admin", "password", sys, "-o", "reboot"); code != 0 {
		t.Errorf("reboot: %d\n%s", code, out)
	}
	eventually(t, 10*time.Second, "the machine to boot again", func() bool { return machine.Boots() > boots })
	if out, code := r.fence(bin, "admin", "password", sys, "-o", "off"); code != 0 || outlet() {
		t.Errorf("off: %d, outlet %v\n%s", code, outlet(), out)
	}
	// Without --systems-uri it takes a member of the Systems collection.
	if out, code := r.fence(bin, "dead", "dead-secret", "", "-o", "status"); code != 1 || strings.Contains(out, "Status: ON") {
		t.Errorf("status through a silent PDU: %d (want a failure, never a guess)\n%s", code, out)
	}
	// A read-only login: status works, on fails and switches nothing.
	if out, code := r.fence(bin, "viewer", "viewer-secret", "", "-o", "status"); code != 2 {
		t.Errorf("viewer status: %d\n%s", code, out)
	}
	if out, code := r.fence(bin, "viewer", "viewer-secret", "", "-o", "on", "--power-timeout", "3"); code == 0 || r.rack.PDU("rack1").Outlet(3) {
		t.Errorf("viewer on: %d, outlet 3 %v\n%s", code, r.rack.PDU("rack1").Outlet(3), out)
	}
	if len(r.logLines("redfish request refused: read-only credentials")) == 0 {
		t.Error("the refused fence was not logged")
	}
	if n := len(r.logLines(`msg="power action" node=metered-0`)); n < 3 {
		t.Errorf("%d power actions logged for metered-0", n)
	}
}

// redfishtool runs DMTF's redfishtool against the endpoint (HTTPS,
// certificate not verified) and returns its output and whether it exited 0.
func (r *redfishEnv) redfishtool(user, password string, args ...string) (string, bool) {
	r.t.Helper()
	base := []string{"-r", fmt.Sprintf("127.0.0.1:%d", r.ports["RF"]), "-u", user, "-p", password, "-S", "Always", "-T", "20"}
	out, err := run(r.t, 60*time.Second, "redfishtool", append(base, args...)...)
	return out, err == nil
}

// TestRedfishTool drives the service with DMTF's redfishtool: systems,
// power, boot override, indicator, NICs, logs, chassis power, accounts,
// roles, sessions; refused account changes and a read-only reset fail.
func TestRedfishTool(t *testing.T) {
	requireTool(t, "redfishtool")
	r := newRedfishEnv(t)
	jsonOut := func(out string) map[string]any {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal([]byte(out[strings.IndexByte(out, '{'):]), &m); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		return m
	}
	ids := func(m map[string]any) []string {
		var out []string
		for _, x := range m["Members"].([]any) {
			out = append(out, x.(map[string]any)["Id"].(string))
		}
		return out
	}
	for _, auth := range []string{"Basic", "Session"} {
		out, ok := r.redfishtool("admin", "password", "-A", auth, "Systems", "list")
		if !ok || !slices.Equal(ids(jsonOut(out)), []string{"manual-0", "metered-0"}) {
			t.Errorf("Systems list (%s): %v\n%s", auth, ok, out)
		}
	}
	if out, ok := r.redfishtool("admin", "password", "-A", "Session", "Systems", "-I", "metered-0", "reset", "On"); !ok {
		t.Fatalf("reset On: %s", out)
	}
	eventually(t, 10*time.Second, "the outlet and the machine", func() bool {
		return r.rack.PDU("rack1").Outlet(1) && r.rack.Machine("metered-0").State() == sim.Running
	})
	eventually(t, 10*time.Second, "PowerState On", func() bool {
		out, ok := r.redfishtool("admin", "password", "Systems", "-I", "metered-0", "get", "-P", "PowerState")
		return ok && jsonOut(out)["PowerState"] == "On"
	})
	if out, ok := r.redfishtool("admin", "password", "Systems", "-I", "manual-0", "setBootOverride", "Once", "Pxe"); !ok ||
		testkit.Field(jsonOut(out), "Boot", "BootSourceOverrideTarget") != "Pxe" || testkit.Field(jsonOut(out), "Boot", "BootSourceOverrideEnabled") != "Once" {
		t.Errorf("setBootOverride: %v\n%s", ok, out)
	}
	mustIPMItool(t, r.ports["P1"], "Force PXE", "chassis", "bootparam", "get", "5")
	if out, ok := r.redfishtool("admin", "password", "Systems", "-I", "metered-0", "setIndicatorLed", "Lit"); !ok {
		t.Errorf("setIndicatorLed: %s", out)
	}
	if out, _ := r.redfishtool("admin", "password", "Chassis", "-I", "metered-0", "get", "-P", "IndicatorLED"); jsonOut(out)["IndicatorLED"] != "Lit" {
		t.Errorf("the chassis indicator after setIndicatorLed: %s", out)
	}
	if out, ok := r.redfishtool("admin", "password", "Systems", "-I", "metered-0", "EthernetInterfaces", "list"); !ok ||
		!slices.Equal(ids(jsonOut(out)), []string{"525400cc0001"}) {
		t.Errorf("EthernetInterfaces: %s", out)
	}
	if out, ok := r.redfishtool("admin", "password", "Systems", "-I", "metered-0", "Logs", "-i", "EventLog", "-E"); !ok ||
		!strings.Contains(out, "by admin over redfish") {
		t.Errorf("Logs: %s", out)
	}
	if out, ok := r.redfishtool("admin", "password", "Chassis", "-I", "metered-0", "Power"); !ok || len(jsonOut(out)["PowerSupplies"].([]any)) != 1 {
		t.Errorf("Chassis Power: %s", out)
	}
	if out, ok := r.redfishtool("admin", "password", "AccountService", "Accounts", "list"); !ok || !slices.Equal(ids(jsonOut(out)), []string{"admin"}) {
		t.Errorf("Accounts: %s", out)
	}
	if out, ok := r.redfishtool("admin", "password", "AccountService", "Roles", "list"); !ok ||
		!slices.Equal(ids(jsonOut(out)), []string{"Administrator", "Operator", "ReadOnly"}) {
		t.Errorf("Roles: %s", out)
	}
	if out, ok := r.redfishtool("admin", "password", "-A", "Session", "SessionService", "Sessions", "list"); !ok || len(ids(jsonOut(out))) != 1 {
		t.Errorf("Sessions (its own): %s", out)
	}
	for _, args := range [][]string{
		{"AccountService", "adduser", "bob", "bob-secret", "Operator"},
		{"AccountService", "deleteuser", "admin"},
		{"AccountService", "setpassword", "admin", "changed"},
	} {
		if out, ok := r.redfishtool("admin", "password", args...); ok || !strings.Contains(out, "405") {
			t.Errorf("%v: want a refusal (405)\n%s", args, out)
		}
	}
	if out, ok := r.redfishtool("admin", "password", "raw", "GET", "/redfish/v1/Systems?$expand=*"); ok || !strings.Contains(out, "501") {
		t.Errorf("raw GET with $expand: want 501\n%s", out)
	}
	if out, ok := r.redfishtool("viewer", "viewer-secret", "Systems", "-I", "viewer-0", "reset", "On"); ok || !strings.Contains(out, "403") {
		t.Errorf("read-only reset: want 403\n%s", out)
	}
	if r.rack.PDU("rack1").Outlet(3) {
		t.Error("the read-only reset switched the outlet")
	}
	if out, ok := r.redfishtool("viewer", "viewer-secret", "Systems", "-I", "viewer-0", "get", "-P", "PowerState"); !ok || jsonOut(out)["PowerState"] != "Off" {
		t.Errorf("read-only get: %s", out)
	}
}
