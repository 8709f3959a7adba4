package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/types"
)

// twoManualNodes: nodes with no power means (the fake_pxe fallback).
const twoManualNodes = `
state_dir: {{.Dir}}/state
http: {listen: "127.0.0.1:{{.HTTP}}"}
ipmi:
  v15_auth_types: [md5, password]
  # Every suite is exercised: 1, 2, 15 and 16 are opt-in (defaults 3, 17).
  {{- if .CS0}}
  cipher_suites: [0, 1, 2, 3, 15, 16, 17]
  {{- else}}
  cipher_suites: [1, 2, 3, 15, 16, 17]
  {{- end}}
nodes:
  - name: compute-0
    ipmi: {listen: "127.0.0.1:{{.P0}}", username: admin, password_file: {{.Dir}}/pw0}
    mac: "52:54:00:aa:00:01"
  - name: compute-1
    ipmi: {listen: "127.0.0.1:{{.P1}}", username: other, password: other-secret}
    mac: "52:54:00:aa:00:02"
`

func manualEnv(t *testing.T, cs0 bool) (*env, int, int, string) {
	requireTool(t, "ipmitool")
	p0, p1 := freePort(t, "udp"), freePort(t, "udp")
	e := newEnv(t, twoManualNodes, map[string]any{"P0": p0, "P1": p1, "CS0": cs0})
	pw := filepath.Join(e.dir, "pw0")
	if err := os.WriteFile(pw, []byte("password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.start()
	return e, p0, p1, pw
}

// ironic runs one of Ironic's exact ipmitool command lines.
func ironic(t *testing.T, port int, pwfile string, suite int, args ...string) (string, error) {
	base := []string{"-I", "lanplus", "-H", "127.0.0.1", "-L", "ADMINISTRATOR", "-p", fmt.Sprint(port),
		"-U", "admin", "-R", "12", "-N", "5", "-f", pwfile}
	if suite >= 0 {
		base = append(base, "-C", fmt.Sprint(suite))
	}
	return run(t, 60*time.Second, "ipmitool", append(base, args...)...)
}

func TestIronicCommandLines(t *testing.T) {
	e, port, _, pw := manualEnv(t, false)
	// -1: no -C, as Ironic runs it by default (ipmitool picks the best suite).
	for _, suite := range []int{-1, 1, 2, 3, 15, 16, 17} {
		t.Run(fmt.Sprintf("cs%d", suite), func(t *testing.T) {
			steps := []struct {
				args []string
				want string
			}{
				{[]string{"power", "off"}, "Chassis Power Control: Down/Off"},
				{[]string{"power", "status"}, "Chassis Power is off\n"},
				{[]string{"power", "on"}, "Chassis Power Control: Up/On"},
				{[]string{"power", "status"}, "Chassis Power is on\n"},
				{[]string{"power", "soft"}, "Chassis Power Control: Soft"},
				{[]string{"power", "status"}, "Chassis Power is off\n"},
				{[]string{"power", "reset"}, "Chassis Power Control: Reset"},
				{[]string{"power", "cycle"}, "Chassis Power Control: Cycle"},
				{[]string{"power", "status"}, "Chassis Power is on\n"},
				{[]string{"raw", "0x00", "0x08", "0x03", "0x08"}, ""},
				{[]string{"chassis", "bootdev", "pxe", "options=persistent,efiboot"}, "Set Boot Device to pxe"},
				{[]string{"chassis", "bootparam", "get", "5"}, "Boot Device Selector : Force PXE"},
				{[]string{"raw", "0x00", "0x08", "0x05", "0xe0", "0x08", "0x00", "0x00", "0x00"}, ""},
				{[]string{"chassis", "bootparam", "get", "5"}, "Force Boot from default Hard-Drive"},
				{[]string{"raw", "0x00", "0x08", "0x05", "0xe0", "0x04", "0x00", "0x00", "0x00"}, ""},
				{[]string{"mc", "info"}, "IPMI Version              : 2.0"},
				{[]string{"mc", "guid"}, "System GUID"},
				{[]string{"chassis", "status"}, "System Power         : on"},
			}
			for _, s := range steps {
				out, err := ironic(t, port, pw, suite, s.args...)
				if err != nil || !strings.Contains(out, s.want) {
					t.Fatalf("%v: err=%v, want %q in:\n%s", s.args, err, s.want, out)
				}
			}
			out, _ := ironic(t, port, pw, suite, "chassis", "bootparam", "get", "5")
			for _, want := range []string{"Boot Flag Valid", "Options apply to all future boots", "BIOS EFI boot", "Force PXE"} {
				if !strings.Contains(out, want) {
					t.Errorf("bootparam get 5 lacks %q:\n%s", want, out)
				}
			}
		})
	}
	// Every power command on a manual node was announced for the operator.
	if n := len(e.logLines("manual action needed: power compute-0 ON")); n == 0 {
		t.Errorf("no manual-action announcement in the log:\n%s", e.logs())
	}
	// mc guid is stable and is the node's GUID.
	out, _ := ironic(t, port, pw, 17, "mc", "guid")
	guid := regexp.MustCompile(`System GUID\s*:\s*([0-9a-f-]{36})`).FindStringSubmatch(out)
	if guid == nil || !strings.Contains(e.httpGet("/api/v1/nodes/compute-0"), guid[1]) {
		t.Errorf("mc guid %v is not the node's GUID", guid)
	}
}

func TestIPMIv15(t *testing.T) {
	_, port, _, _ := manualEnv(t, false)
	for _, auth := range []string{"MD5", "PASSWORD"} {
		base := []string{"-I", "lan", "-A", auth, "-H", "127.0.0.1", "-p", fmt.Sprint(port), "-U", "admin", "-P", "password"}
		for _, s := range []struct{ args, want string }{
			{"power on", "Up/On"}, {"power status", "Chassis Power is on"},
			{"power off", "Down/Off"}, {"power status", "Chassis Power is off"},
			{"chassis bootdev disk", "Set Boot Device to disk"},
			{"chassis bootparam get 5", "Force Boot from default Hard-Drive"},
			{"mc info", "Device ID"},
		} {
			out, err := run(t, 30*time.Second, "ipmitool", append(base, strings.Fields(s.args)...)...)
			if err != nil || !strings.Contains(out, s.want) {
				t.Fatalf("-A %s %s: err=%v, want %q in:\n%s", auth, s.args, err, s.want, out)
			}
		}
	}
}

func TestFreeIPMI(t *testing.T) {
	requireTool(t, "ipmipower", "bmc-info", "ipmi-chassis")
	_, port, _, _ := manualEnv(t, false)
	host := fmt.Sprintf("127.0.0.1:%d", port)
	free := func(tool string, args ...string) string {
		t.Helper()
		out, err := run(t, 60*time.Second, tool, append([]string{"-h", host, "-u", "admin", "-p", "password"}, args...)...)
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", tool, args, err, out)
		}
		return out
	}
	for _, suite := range []string{"1", "2", "3", "15", "16", "17"} {
		for _, s := range []struct{ op, want string }{
			{"--on", "ok"}, {"--stat", ": on"}, {"--off", "ok"}, {"--stat", ": off"},
			{"--cycle", "ok"}, {"--reset", "ok"}, {"--soft", "ok"},
		} {
			if out := free("ipmipower", "-D", "LAN_2_0", "-I", suite, s.op); !strings.Contains(out, s.want) {
				t.Fatalf("ipmipower -I %s %s: want %q in %q", suite, s.op, s.want, out)
			}
		}
	}
	if out := free("ipmipower", "-D", "LAN", "--stat"); !strings.Contains(out, "127.0.0.1: ") {
		t.Fatalf("ipmipower -D LAN: %q", out)
	}
	if out := free("bmc-info", "-D", "LAN_2_0"); !strings.Contains(out, "IPMI Version          : 2.0") || !strings.Contains(out, "Device GUID") {
		t.Fatalf("bmc-info:\n%s", out)
	}
	if out := free("ipmi-chassis", "-D", "LAN_2_0", "--get-chassis-status"); !strings.Contains(out, "System Power") {
		t.Fatalf("ipmi-chassis --get-chassis-status:\n%s", out)
	}
	if _, err := ipmitool(t, port, "chassis", "bootdev", "pxe", "options=persistent,efiboot"); err != nil {
		t.Fatal(err)
	}
	out := free("ipmi-chassis", "-D", "LAN_2_0", "--get-boot-flags")
	if !strings.Contains(out, "Force PXE") || !strings.Contains(out, "Extensible firmware Interface boot") {
		t.Fatalf("ipmi-chassis --get-boot-flags:\n%s", out)
	}
}

func TestGoIPMIClientAgainstBinary(t *testing.T) {
	_, port, _, _ := manualEnv(t, false)
	for _, suite := range []types.CipherSuiteID{3, 17} {
		c, err := client.NewClient("127.0.0.1", port, "admin", "password")
		if err != nil {
			t.Fatal(err)
		}
		c = c.WithInterface(client.InterfaceLanplus).WithCipherSuiteID(suite).WithTimeout(2 * time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := c.Connect(ctx); err != nil {
			cancel()
			t.Fatalf("cs%d: %v", suite, err)
		}
		if err := c.SetBootDevice(ctx, types.BootDeviceSelectorForcePXE, types.BIOSBootTypeEFI, true); err != nil {
			t.Errorf("cs%d set boot device: %v", suite, err)
		}
		st, err := c.GetChassisStatus(ctx)
		if err != nil {
			t.Errorf("cs%d chassis status: %v", suite, err)
		} else if st.PowerIsOn {
			t.Errorf("cs%d: power on before any command", suite)
		}
		c.Close(ctx)
		cancel()
	}
}

// TestRefusedLogins: every bad login is refused and has no effect.
func TestRefusedLogins(t *testing.T) {
	e, p0, p1, _ := manualEnv(t, false)
	cases := []struct {
		name string
		args []string
	}{
		{"wrong password", []string{"-I", "lanplus", "-p", fmt.Sprint(p0), "-U", "admin", "-P", "wrong"}},
		{"unknown user", []string{"-I", "lanplus", "-p", fmt.Sprint(p0), "-U", "root", "-P", "password"}},
		{"cipher suite 0", []string{"-I", "lanplus", "-C", "0", "-p", fmt.Sprint(p0), "-U", "admin", "-P", "password"}},
		{"auth type NONE", []string{"-I", "lan", "-A", "NONE", "-p", fmt.Sprint(p0), "-U", "admin", "-P", "password"}},
		{"v1.5 wrong password", []string{"-I", "lan", "-A", "MD5", "-p", fmt.Sprint(p0), "-U", "admin", "-P", "wrong"}},
		{"another node's credentials", []string{"-I", "lanplus", "-p", fmt.Sprint(p0), "-U", "other", "-P", "other-secret"}},
		{"this node, other's password", []string{"-I", "lanplus", "-p", fmt.Sprint(p1), "-U", "admin", "-P", "password"}},
	}
	for _, tc := range cases {
		out, err := run(t, 30*time.Second, "ipmitool", append(append([]string{"-H", "127.0.0.1", "-R", "1", "-N", "1"}, tc.args...), "power", "on")...)
		if err == nil || strings.Contains(out, "Up/On") {
			t.Errorf("%s: accepted:\n%s", tc.name, out)
		}
	}
	for _, name := range []string{"compute-0", "compute-1"} {
		if js := e.httpGet("/api/v1/nodes/" + name); strings.Contains(js, `"last_action"`) || !strings.Contains(js, `"recorded_power": "unknown"`) {
			t.Errorf("%s was touched by a refused login:\n%s", name, js)
		}
	}
	eventually(t, 10*time.Second, "auth failures counted", func() bool {
		v := e.metric(`powerjockey_ipmi_auth_failures_total{node="compute-0"}`)
		return v != "" && v != "0"
	})
}

func TestCipherSuiteZeroWhenListed(t *testing.T) {
	_, port, _, _ := manualEnv(t, true)
	// Suite 0 authenticates nothing (CVE-2013-4782): listed explicitly, it works.
	mustIPMItool(t, port, "Chassis Power is", "-C", "0", "power", "status")
}

func TestBackToBackCalls(t *testing.T) {
	e, port, _, _ := manualEnv(t, false)
	const lanplus, lan = 200, 50
	for i := 0; i < lanplus; i++ {
		if out, err := ipmitool(t, port, "power", "status"); err != nil || !strings.Contains(out, "Chassis Power is") {
			t.Fatalf("lanplus call %d: %v\n%s", i, err, out)
		}
	}
	for i := 0; i < lan; i++ {
		out, err := run(t, 30*time.Second, "ipmitool", "-I", "lan", "-H", "127.0.0.1", "-p", fmt.Sprint(port), "-U", "admin", "-P", "password", "power", "status")
		if err != nil || !strings.Contains(out, "Chassis Power is") {
			t.Fatalf("lan call %d: %v\n%s", i, err, out)
		}
	}
	if v := e.metric("powerjockey_ipmi_sessions_open"); v != "0" {
		t.Errorf("sessions left open after %d closed calls: %s", lanplus+lan, v)
	}
}

// TestRetransmittedControlRunsOnce: ipmitool resends a Chassis Control
// whose reply is slow; the node's action runs once and ipmitool succeeds.
func TestRetransmittedControlRunsOnce(t *testing.T) {
	requireTool(t, "ipmitool")
	port := freePort(t, "udp")
	e := newEnv(t, `
state_dir: {{.Dir}}/state
http: {listen: "127.0.0.1:{{.HTTP}}"}
nodes:
  - name: slow-0
    ipmi: {listen: "127.0.0.1:{{.P}}", username: admin, password: password}
    exec:
      on: "echo on >> {{.Dir}}/hook.log; sleep 3"
`, map[string]any{"P": port})
	e.start()
	start := time.Now()
	out, err := run(t, 60*time.Second, "ipmitool", "-I", "lanplus", "-H", "127.0.0.1", "-p", fmt.Sprint(port),
		"-U", "admin", "-P", "password", "-R", "6", "-N", "1", "power", "on")
	if err != nil || !strings.Contains(out, "Up/On") {
		t.Fatalf("power on: %v\n%s", err, out)
	}
	hook, _ := os.ReadFile(filepath.Join(e.dir, "hook.log"))
	if n := strings.Count(string(hook), "on"); n != 1 {
		t.Fatalf("hook ran %d times in %v, want once", n, time.Since(start))
	}
	eventually(t, 5*time.Second, "resends answered from the replay cache", func() bool {
		return e.metric(`powerjockey_ipmi_retransmissions_total{node="slow-0"}`) != ""
	})
}

// TestStatePersistsAcrossSIGKILL: a SIGKILL at any moment loses nothing.
func TestStatePersistsAcrossSIGKILL(t *testing.T) {
	e, port, _, _ := manualEnv(t, false)
	mustIPMItool(t, port, "Up/On", "power", "on")
	mustIPMItool(t, port, "Set Boot Device to pxe", "chassis", "bootdev", "pxe", "options=persistent,efiboot")
	guid := mustIPMItool(t, port, "System GUID", "mc", "guid")
	e.kill()
	e.start()
	mustIPMItool(t, port, "Chassis Power is on", "power", "status")
	out := mustIPMItool(t, port, "Force PXE", "chassis", "bootparam", "get", "5")
	if !strings.Contains(out, "all future boots") || !strings.Contains(out, "EFI") {
		t.Fatalf("boot flags lost:\n%s", out)
	}
	if again := mustIPMItool(t, port, "System GUID", "mc", "guid"); again != guid {
		t.Fatalf("GUID changed across restart:\n%s\n%s", guid, again)
	}
}

func TestConfigErrorRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bad.yaml")
	os.WriteFile(cfg, []byte("state_dir: /tmp/x\nnodes:\n  - name: n0\n    ipmi:\n      listn: \"127.0.0.1:623\"\n"), 0o600)
	out, err := run(t, 10*time.Second, binary, "serve", "--config", cfg)
	if err == nil {
		t.Fatal("daemon started with an invalid config")
	}
	want := cfg + `:5:7: nodes[0].ipmi.listn: unknown key "listn" (did you mean "listen"?)`
	if !strings.Contains(out, want) {
		t.Fatalf("want %q in:\n%s", want, out)
	}
}

// TestDefaultCipherSuites: without ipmi.cipher_suites an endpoint offers
// 3 and 17 only. ipmitool logs in with those and is refused the suites
// without integrity (1, 15) or confidentiality (2, 16), and Get Channel
// Cipher Suites lists exactly 3 and 17. A configuration that lists the
// weak suites gets a warning in the start-up log.
func TestDefaultCipherSuites(t *testing.T) {
	requireTool(t, "ipmitool")
	port := freePort(t, "udp")
	e := newEnv(t, `
state_dir: {{.Dir}}/state
http: {listen: "127.0.0.1:{{.HTTP}}"}
nodes:
  - name: n0
    ipmi: {listen: "127.0.0.1:{{.P}}", username: admin, password: password}
`, map[string]any{"P": port})
	e.start()
	for _, suite := range []int{3, 17} {
		mustIPMItool(t, port, "Chassis Power is", "-C", fmt.Sprint(suite), "power", "status")
	}
	for _, suite := range []int{0, 1, 2, 15, 16} {
		out, err := run(t, 30*time.Second, "ipmitool", "-I", "lanplus", "-H", "127.0.0.1", "-p", fmt.Sprint(port),
			"-U", "admin", "-P", "password", "-R", "1", "-N", "1", "-C", fmt.Sprint(suite), "power", "status")
		if err == nil || strings.Contains(out, "Chassis Power is") {
			t.Errorf("cipher suite %d is not configured but ipmitool logged in:\n%s", suite, out)
		}
	}
	out := mustIPMItool(t, port, "ID", "channel", "getciphers", "ipmi")
	var ids []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] != "ID" {
			ids = append(ids, f[0])
		}
	}
	if strings.Join(ids, ",") != "3,17" {
		t.Errorf("Get Channel Cipher Suites lists %v, want [3 17]:\n%s", ids, out)
	}
	if w := e.logLines("no integrity protection"); len(w) != 0 {
		t.Errorf("default suites warned about: %q", w)
	}

	// The fixture that opts in to every suite is warned about at start.
	m, _, _, _ := manualEnv(t, false)
	for _, want := range []string{"cipher suite 1 has no integrity protection", "cipher suite 15 has no integrity protection",
		"straight-password authentication sends the password in clear text"} {
		if len(m.logLines(want)) == 0 {
			t.Errorf("start-up log lacks a warning %q:\n%s", want, m.logs())
		}
	}
}
