package ironic

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/sim"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// consoleFlow: Ironic's ipmitool-socat console. Ironic runs `ipmitool ...
// sol deactivate`, then socat listening on the node's terminal port with
// `ipmitool ... sol activate` behind it; a client of that port sees the
// machine's serial console (with what it printed before) and types on it.
// Then Ironic's sensor data collection: its own parser over `ipmitool ...
// sdr -v`, run by Ironic's code with the node's driver info.
func consoleFlow(t *testing.T, d *deployment) {
	testkit.RequireTool(t, "socat")
	name := d.node("console")
	port := testkit.FreePort(t, "tcp")
	d.makeAvailable(t, name, false)
	d.ir.mustBaremetal(t, "node", "set", name, "--console-interface", "ipmitool-socat",
		"--driver-info", fmt.Sprintf("ipmi_terminal_port=%d", port))
	d.power(t, name, "on", "power on", false)
	d.agree(t, name, sim.Running)

	d.ir.mustBaremetal(t, "node", "console", "enable", name)
	var state struct {
		Enabled bool `json:"console_enabled"`
		Info    struct {
			Type string `json:"type"`
			URL  string `json:"url"`
		} `json:"console_info"`
	}
	testkit.Eventually(t, 30*time.Second, "Ironic's console enabled", func() bool {
		return d.ir.get("/v1/nodes/"+name+"/states/console", &state) == nil && state.Enabled && state.Info.URL != ""
	})
	if state.Info.Type != "socat" || !strings.Contains(state.Info.URL, fmt.Sprint(port)) {
		t.Errorf("console info: %+v", state.Info)
	}
	var conn net.Conn
	testkit.Eventually(t, 30*time.Second, "socat listens on the terminal port", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			conn = c
		}
		return err == nil
	})
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	r := bufio.NewReader(conn)
	var seen strings.Builder
	expect := func(want string) {
		t.Helper()
		for !strings.Contains(seen.String(), want) {
			b, err := r.ReadByte()
			if err != nil {
				t.Fatalf("Ironic's console: %v; saw %q, want %q", err, seen.String(), want)
			}
			seen.WriteByte(b)
		}
	}
	// The boot happened before anyone watched: the history replays it.
	expect(name + " login: ")
	if _, err := conn.Write([]byte("root\r")); err != nil {
		t.Fatal(err)
	}
	expect("root")
	conn.Close()
	d.ir.mustBaremetal(t, "node", "console", "disable", name)
	testkit.Eventually(t, 30*time.Second, "Ironic's console disabled", func() bool {
		return d.ir.get("/v1/nodes/"+name+"/states/console", &state) == nil && !state.Enabled
	})

	sensorData(t, d, name)
}

// sensorDataScript is Ironic's sensor data collection for one node, from
// its own code: the ipmitool command line it builds from the node's driver
// info (`sdr -v`), and its parser of the output.
const sensorDataScript = `
import json, sys
from ironic.drivers.modules import ipmitool
from ironic.conf import CONF
CONF([], project="ironic")
class Node:
    uuid = "node"
    driver_info = json.loads(sys.argv[1])
    driver_internal_info = {}
info = ipmitool._parse_driver_info(Node())
out, err = ipmitool._exec_ipmitool(info, "sdr -v")
data = ipmitool._parse_ipmi_sensors_data(Node(), out)
print(json.dumps({group: {sid: s.get("Sensor Reading") for sid, s in sensors.items()} for group, sensors in data.items()}))
`

// sensorData runs Ironic's sensor data collection against the node and
// checks the draw the PDU meters is in it.
func sensorData(t *testing.T, d *deployment, name string) {
	t.Helper()
	var node struct {
		DriverInfo map[string]any `json:"driver_info"`
	}
	for _, n := range d.enrolled.Nodes {
		if n.Name == name {
			node.DriverInfo = n.DriverInfo
		}
	}
	info := make([]string, 0, len(node.DriverInfo))
	for k, v := range node.DriverInfo {
		info = append(info, fmt.Sprintf("%q: %q", k, fmt.Sprint(v)))
	}
	cmd := exec.Command(testkit.Python, "-c", sensorDataScript, "{"+strings.Join(info, ", ")+"}")
	cmd.Env = ironicEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("Ironic's sensor data collection: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	js := lines[len(lines)-1]
	m := d.env.Rack.Machine(name)
	want := fmt.Sprintf(`"Total Power (0x1)": "%.0f (+/- 2) Watts"`, m.Watts())
	if !strings.Contains(js, want) {
		t.Errorf("Ironic's sensor data lacks %s (machine draws %v W):\n%s", want, m.Watts(), out)
	}
}

// socatShim works around a fault of Ironic 21.4 (Debian 12) with Debian's
// socat 1.7.4: console_utils.start_socat_console wraps the ipmitool line
// in shlex.quote, so socat receives EXEC:"'ipmitool -I lanplus ...'" and
// execs the whole line as one program name:
//
//	socat[27931] E execvp("ipmitool -I lanplus -H 127.0.0.1 ... sol activate", ...): No such file or directory
//
// and every console client gets an immediate EOF, whatever the BMC. The
// shim, first on Ironic's PATH, drops those single quotes and execs socat
// (same PID, which Ironic checks), so the rest of Ironic's console path
// runs as written. docs/clients.md records it.
const socatShim = `#!/bin/bash
out=()
for a in "$@"; do
  if [[ $a == EXEC:\"\'*\'\"* ]]; then
    inner=${a#EXEC:\"\'}
    a="EXEC:\"${inner%%\'\"*}\"${inner#*\'\"}"
  fi
  out+=("$a")
done
exec %s "${out[@]}"
`

// withSocatShim returns env with the shim's directory first on PATH.
func withSocatShim(t *testing.T, env []string) []string {
	t.Helper()
	real, err := exec.LookPath("socat")
	if err != nil {
		return env // no socat: the console flow skips (or fails under CI)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "socat"), []byte(fmt.Sprintf(socatShim, real)), 0o755); err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(env)+1)
	path := "PATH=" + dir
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path += ":" + v
			continue
		}
		out = append(out, kv)
	}
	return append(out, path)
}
