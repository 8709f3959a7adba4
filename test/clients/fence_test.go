package clients

import (
	"fmt"
	"strings"
	"testing"

	"github.com/powerjockey/powerjockey/pkg/sim"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// fenceStep is one fence agent action and what Pacemaker gets back: the
// agent's exit status (status: 0 on, 2 off; actions: 0 done) and its
// message on stdout. The machine must then be in state.
type fenceStep struct {
	action string
	code   int
	out    string
	state  sim.MachineState
	boots  int // the machine's boot count after the step
}

// fenceSequence: the actions a cluster runs against a node, from off.
var fenceSequence = []fenceStep{
	{"status", 2, "Status: OFF", sim.Off, 0},
	{"on", 0, "Success: Powered ON", sim.Running, 1},
	{"status", 0, "Status: ON", sim.Running, 1},
	{"on", 0, "Success: Already ON", sim.Running, 1},
	{"reboot", 0, "Success: Rebooted", sim.Running, 2},
	{"status", 0, "Status: ON", sim.Running, 2},
	{"off", 0, "Success: Powered OFF", sim.Off, 2},
	{"status", 2, "Status: OFF", sim.Off, 2},
	{"monitor", 0, "", sim.Off, 2},
}

// runFence runs the sequence with agent and its connection arguments.
// (fence_redfish runs a similar sequence in test/e2e's
// TestRedfishFenceAgent.)
func runFence(t *testing.T, r *rack, name, agent string, conn []string) {
	t.Helper()
	m := r.machine(name)
	for _, s := range fenceSequence {
		args := append(append([]string{}, conn...), "-o", s.action)
		res := tool(t, agent, args...)
		if res.code != s.code || !strings.Contains(res.stdout, s.out) {
			t.Fatalf("%s -o %s: want exit %d and %q: %v", agent, s.action, s.code, s.out, res)
		}
		// The agents wait for the state they asked for, as powerjockey
		// reports it; the machine is there by then.
		testkit.Eventually(t, 0, fmt.Sprintf("%s after %s", s.state, s.action), func() bool {
			return m.State() == s.state && m.Boots() == s.boots
		})
	}
}

// TestFenceIPMILAN: fence_ipmilan (fence-agents) as Pacemaker runs it on
// TripleO overclouds, with lanplus and the cipher suites 3 and 17.
func TestFenceIPMILAN(t *testing.T) {
	testkit.Tool(t, "fence_ipmilan")
	testkit.RequireTool(t, "ipmitool")
	r := newRack(t, "fence-3", "fence-17")
	for _, suite := range []string{"3", "17"} {
		t.Run("cs"+suite, func(t *testing.T) {
			t.Parallel()
			name := "fence-" + suite
			runFence(t, r, name, "fence_ipmilan", []string{
				"--ip", "127.0.0.1", "--ipport", fmt.Sprint(r.ports[name]),
				"--username", "admin", "--password", "password", "--lanplus", "--cipher", suite,
			})
		})
	}
}
