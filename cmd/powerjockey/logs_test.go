package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/sim"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// secretsConfig gives every secret a distinctive value, so that any trace
// of one in a log is found. PDU "badcomm" is simulated with another
// community and "badv3" with other passphrases: their requests fail
// authentication.
const secretsConfig = `state_dir: {{.Dir}}/state
http: {listen: "127.0.0.1:{{.HTTP}}"}
ipmi:
  v15_auth_types: [md5, password]
pdus:
  - name: v2c
    address: "127.0.0.1:{{.PDU1}}"
    model: auto
    snmp: {version: 2c, community_read: pjRO-c0mm-7f3a91, community_write: pjRW-c0mm-9b1e27, timeout: 300ms, retries: 1}
    stagger: 0s
  - name: v3
    address: "127.0.0.1:{{.PDU2}}"
    model: eatonpower
    snmp:
      version: "3"
      user: pjuser
      auth_protocol: SHA256
      auth_passphrase_file: v3-auth.secret
      priv_protocol: AES
      priv_passphrase: pjPriv-pass-8e6f13
      timeout: 300ms
      retries: 1
  - name: badcomm
    address: "127.0.0.1:{{.PDU3}}"
    model: apc_rpdu2
    snmp: {version: 2c, community: pjBAD-c0mm-1a2b3c, timeout: 200ms, retries: 0}
  - name: badv3
    address: "127.0.0.1:{{.PDU4}}"
    model: eatonpower
    snmp: {version: "3", user: pjuser2, auth_protocol: SHA, auth_passphrase: pjBADauth-5d3c77, priv_protocol: AES, priv_passphrase: pjBADpriv-6e4d88, timeout: 200ms, retries: 0}
nodes:
  - name: n-v2c
    ipmi: {listen: "127.0.0.1:{{.P0}}", username: admin, password_file: n0.pw}
    mac: "52:54:00:dd:00:01"
    wol: {target: "127.0.0.1:{{.WoL}}", password: "5e:c4:e7:a1:b2:c3", interval: 50ms}
    pdu: {name: v2c, outlets: [1]}
    on_delay: 100ms
  - name: n-v3
    ipmi: {listen: "127.0.0.1:{{.P1}}", username: admin, password: pjIPMI-pw-2c3d4e}
    pdu: {name: v3, outlets: [2]}
  - name: n-badcomm
    ipmi: {listen: "127.0.0.1:{{.P2}}", username: admin, password: pjIPMI-pw-3d4e5f}
    pdu: {name: badcomm, outlets: [1]}
  - name: n-badv3
    ipmi: {listen: "127.0.0.1:{{.P3}}", username: admin, password: pjIPMI-pw-4e5f60}
    pdu: {name: badv3, outlets: [1]}
  - name: n-manual
    ipmi: {listen: "127.0.0.1:{{.P4}}", username: admin, password: pjIPMI-pw-5f6071}
`

// TestLogsNeverHoldSecrets runs the daemon on secretsConfig, drives it
// with ipmitool (RMCP+, IPMI v1.5 MD5 and straight password, a wrong
// password), SNMP v2c and v3 PDUs with right and wrong credentials, the
// HTTP API and the CLI, and requires that no secret appears in the log,
// the API or the CLI's output; and that every power action is logged
// exactly once with node, action, means, result and duration.
func TestLogsNeverHoldSecrets(t *testing.T) {
	testkit.RequireTool(t, "ipmitool")
	secrets := []string{
		"pjRO-c0mm-7f3a91", "pjRW-c0mm-9b1e27", "pjAuth-pass-4c2d88", "pjPriv-pass-8e6f13",
		"pjBAD-c0mm-1a2b3c", "pjBADauth-5d3c77", "pjBADpriv-6e4d88",
		"pjIPMI-pw-0a1b2c", "pjIPMI-pw-2c3d4e", "pjIPMI-pw-3d4e5f", "pjIPMI-pw-4e5f60", "pjIPMI-pw-5f6071",
		"pjWRONG-pw-6e7f80", // the wrong password a client tried
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "n0.pw"), "pjIPMI-pw-0a1b2c\n", 0o600)
	writeFile(t, filepath.Join(dir, "v3-auth.secret"), "pjAuth-pass-4c2d88\n", 0o600)
	data := ports(t, "PDU1", "PDU2", "PDU3", "PDU4", "WoL", "P0", "P1", "P2", "P3", "P4")
	path := writeConfig(t, dir, secretsConfig, data)
	startRack(t, path, func(c *sim.Config) {
		for i := range c.PDUs {
			switch c.PDUs[i].Name {
			case "badcomm":
				c.PDUs[i].ReadCommunity, c.PDUs[i].WriteCommunity = "some-other-community", "some-other-community"
			case "badv3":
				c.PDUs[i].Users = []sim.USMUser{{
					Name: "pjuser2", AuthProtocol: c.PDUs[i].Users[0].AuthProtocol, AuthPassphrase: "another-auth-pass",
					PrivProtocol: c.PDUs[i].Users[0].PrivProtocol, PrivPassphrase: "another-priv-pass", ReadWrite: true,
				}}
			}
		}
	})
	httpPort := data["HTTP"].(int)
	d := startServe(t, path, httpPort)
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)

	pwFile := func(pw string) string {
		f := filepath.Join(t.TempDir(), "pw")
		writeFile(t, f, pw, 0o600)
		return f
	}
	// ipmitool as Ironic runs it.
	ipmitool := func(port any, pw string, extra ...string) (string, error) {
		args := []string{"-I", "lanplus", "-H", "127.0.0.1", "-L", "ADMINISTRATOR", "-p", fmt.Sprint(port), "-U", "admin", "-R", "3", "-N", "2", "-f", pwFile(pw)}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "ipmitool", append(args, extra...)...).CombinedOutput()
		return string(out), err
	}
	must := func(port any, pw, want string, args ...string) {
		t.Helper()
		out, err := ipmitool(port, pw, args...)
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("ipmitool %v: %v, want %q in:\n%s", args, err, want, out)
		}
	}
	idle := func(name string) {
		t.Helper()
		testkit.Eventually(t, 10*time.Second, name+" idle", func() bool {
			resp, err := http.Get(base + "/api/v1/nodes/" + name)
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			var n struct{ Busy bool }
			return json.NewDecoder(resp.Body).Decode(&n) == nil && !n.Busy
		})
	}

	// First a wrong password over RMCP+: pkg/ipmi logs the abandoned
	// handshake 5s later, by when the rest has run.
	wrongAt := time.Now()
	if out, err := ipmitool(data["P4"], "pjWRONG-pw-6e7f80", "power", "status"); err == nil {
		t.Errorf("a wrong password was accepted:\n%s", out)
	}
	must(data["P0"], "pjIPMI-pw-0a1b2c", "Chassis Power Control: Up/On", "power", "on")
	idle("n-v2c")
	must(data["P0"], "pjIPMI-pw-0a1b2c", "Chassis Power is", "power", "status")
	must(data["P0"], "pjIPMI-pw-0a1b2c", "Set Boot Device to pxe", "chassis", "bootdev", "pxe")
	must(data["P0"], "pjIPMI-pw-0a1b2c", "Chassis Power Control: Down/Off", "power", "off")
	must(data["P1"], "pjIPMI-pw-2c3d4e", "Chassis Power Control: Up/On", "power", "on")
	must(data["P1"], "pjIPMI-pw-2c3d4e", "Chassis Power Control: Down/Off", "power", "off")
	must(data["P4"], "pjIPMI-pw-5f6071", "Chassis Power Control: Down/Off", "power", "off")
	must(data["P4"], "pjIPMI-pw-5f6071", "Manufacturer ID", "mc", "info")
	for _, c := range []struct {
		port any
		what string
	}{{data["P2"], "wrong community"}, {data["P3"], "wrong SNMPv3 passphrases"}} {
		pw := map[any]string{data["P2"]: "pjIPMI-pw-3d4e5f", data["P3"]: "pjIPMI-pw-4e5f60"}[c.port]
		if out, err := ipmitool(c.port, pw, "power", "on"); err == nil {
			t.Errorf("power on through a PDU with a %s succeeded:\n%s", c.what, out)
		}
	}
	// IPMI v1.5 with MD5 and with the straight (clear text) password,
	// right and wrong.
	for _, c := range []struct{ auth, pw string }{
		{"MD5", "pjIPMI-pw-5f6071"}, {"PASSWORD", "pjIPMI-pw-5f6071"}, {"MD5", "pjWRONG-pw-6e7f80"}, {"PASSWORD", "pjWRONG-pw-6e7f80"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, "ipmitool", "-I", "lan", "-A", c.auth, "-H", "127.0.0.1", "-p", fmt.Sprint(data["P4"]),
			"-U", "admin", "-P", c.pw, "-R", "1", "-N", "1", "power", "status").CombinedOutput()
		cancel()
		if ok := err == nil && strings.Contains(string(out), "Chassis Power is off"); ok != (c.pw != "pjWRONG-pw-6e7f80") {
			t.Errorf("ipmitool -I lan -A %s -P %s: %v\n%s", c.auth, c.pw, err, out)
		}
	}
	// The operator's side: the CLI through the API.
	cliOut, cliErr, code := runCmd(t, "power", "n-manual", "on", "--config", path)
	if code != 0 {
		t.Fatalf("power n-manual on: exit %d: %s", code, cliErr)
	}
	statusOut, _, _ := runCmd(t, "status", "--config", path)
	jsonOut, _, _ := runCmd(t, "status", "--config", path, "--json")
	idle("n-v2c")

	testkit.Eventually(t, time.Until(wrongAt.Add(10*time.Second)), "the refused RMCP+ login logged", func() bool {
		for _, line := range strings.Split(d.log.String(), "\n") {
			if strings.Contains(line, `"msg":"login refused","node":"n-manual"`) && strings.Contains(line, `"channel":"ipmi"`) &&
				strings.Contains(line, `"user":"admin"`) && strings.Contains(line, `"reason":"handshake abandoned after RAKP 2 (wrong password or unknown user)"`) {
				return true
			}
		}
		return false
	})
	var api strings.Builder
	for _, p := range []string{"/api/v1/nodes", "/metrics", "/api/v1/nodes/n-v3"} {
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		api.Write(b)
	}
	d.stop(t)
	log := d.log.String()

	// Every power action exactly once, with its attributes.
	type rec struct {
		Msg, Node, Action, Means, Result string
		Duration                         any
	}
	counts := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r rec
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("log line is not JSON: %v\n%s", err, sc.Text())
		}
		if r.Msg != "power action" {
			continue
		}
		if r.Node == "" || r.Action == "" || r.Means == "" || r.Result == "" || r.Duration == nil {
			t.Errorf("power action logged without node, action, means, result or duration: %s", sc.Text())
		}
		counts[fmt.Sprintf("%s %s %s %s", r.Node, r.Action, r.Means, r.Result)]++
	}
	want := map[string]int{
		"n-v2c on pdu+wol ok": 1, "n-v2c off pdu ok": 1,
		"n-v3 on pdu ok": 1, "n-v3 off pdu ok": 1,
		"n-badcomm on pdu error": 1, "n-badv3 on pdu error": 1,
		"n-manual off manual ok": 1, "n-manual on manual ok": 1,
	}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("power action %q logged %d times, want %d", k, counts[k], n)
		}
	}
	for k, n := range counts {
		if want[k] == 0 {
			t.Errorf("unexpected power action %q logged %d times", k, n)
		}
	}
	// The failures were logged (so the log was looked at where secrets
	// would most likely leak: authentication and SNMP errors).
	for _, s := range []string{`"msg":"chassis control failed","node":"n-badcomm"`, `"msg":"chassis control failed","node":"n-badv3"`} {
		if !strings.Contains(log, s) {
			t.Errorf("the log lacks %s", s)
		}
	}
	// The refused logins were counted.
	if !regexp.MustCompile(`(?m)^powerjockey_ipmi_auth_failures_total\{node="n-manual"\} [1-9]`).MatchString(api.String()) {
		t.Errorf("the wrong password was not counted as an authentication failure")
	}

	places := map[string]string{
		"log": log, "HTTP API": api.String(), "power output": cliOut + cliErr,
		"status output": statusOut, "status --json output": jsonOut,
	}
	wolPW := []string{"5e:c4:e7:a1:b2:c3", "5ec4e7a1b2c3", "5e c4 e7 a1 b2 c3", "XsTnobLD"}
	for where, text := range places {
		lower := strings.ToLower(text)
		for _, s := range secrets {
			for _, form := range []string{s, hex.EncodeToString([]byte(s)), fmt.Sprintf("% x", s), base64.StdEncoding.EncodeToString([]byte(s))} {
				if strings.Contains(lower, strings.ToLower(form)) {
					t.Errorf("the %s holds secret %q (as %q)", where, s, form)
				}
			}
		}
		for _, form := range wolPW {
			if strings.Contains(lower, strings.ToLower(form)) {
				t.Errorf("the %s holds the SecureOn password (as %q)", where, form)
			}
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", log)
	}
}
