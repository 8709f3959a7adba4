package metrics

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/powerjockey/powerjockey/pkg/buildinfo"
	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
)

// fakeState is a State with fixed snapshots.
type fakeState struct {
	snaps    []node.Snapshot
	sessions int
}

func (f *fakeState) Snapshots() []node.Snapshot { return f.snaps }
func (f *fakeState) Sessions() int              { return f.sessions }

func watts(w float64) *float64 { return &w }

var errSNMP = errors.New("snmp: request timeout")

func fakeRack() *fakeState {
	now := time.Now()
	return &fakeState{sessions: 3, snaps: []node.Snapshot{
		{Name: "compute-0", Reading: power.Reading{State: power.StateOn, Source: "metering", Watts: watts(142), At: now}},
		{Name: "compute-1", Reading: power.Reading{State: power.StateOff, Source: "outlet", At: now},
			Persisted: node.Persisted{Power: power.StateOn}},
		// No sensor (or no reading since the last action): the recorded state.
		{Name: "manual-0", Persisted: node.Persisted{Power: power.StateOn,
			Manual: &node.ManualAction{Action: power.On, Since: now}}},
		{Name: "manual-1", Persisted: node.Persisted{Manual: &node.ManualAction{Action: power.Off, Since: now}}},
		// Busy: a cycle's background steps are running.
		{Name: "busy-0", Busy: true, Reading: power.Reading{State: power.StateOff, Source: "probe", At: now}},
		// Failing sensors with a reading young enough to be served still...
		{Name: "flaky-0", ReadingErr: errSNMP, Reading: power.Reading{State: power.StateOn, Source: "outlet", At: now.Add(-5 * time.Second)}},
		// ...and one that is too old, or none at all: unknown.
		{Name: "dead-0", ReadingErr: errSNMP, Stale: true, Reading: power.Reading{State: power.StateOn, Source: "metering",
			Watts: watts(120), At: now.Add(-time.Minute)}},
		{Name: "dead-1", ReadingErr: errSNMP, Stale: true, Persisted: node.Persisted{Power: power.StateOn}},
	}}
}

// feed calls every observer method the IPMI, node and PDU layers call.
func feed(m *Metrics) {
	m.Request("compute-0", "Get Chassis Status", 0x00)
	m.Request("compute-0", "Get Chassis Status", 0x00)
	m.Request("compute-0", "Chassis Control", 0xc3)
	m.Request("compute-1", "unknown", 0xc1)
	m.Dropped("compute-0", "malformed")
	m.AuthFailure("compute-0")
	m.AuthFailure("compute-0")
	m.Retransmission("compute-1")
	m.SNMPRequest("rack1", "set", 20*time.Millisecond, nil)
	m.SNMPRequest("rack1", "poll", 3*time.Millisecond, nil)
	m.SNMPRequest("rack1", "poll", 1500*time.Millisecond, errSNMP)
	m.WoLSent("compute-0")
	m.WoLSent("compute-0")
	m.WoLSent("compute-0")
	m.ActionDone("compute-0", power.On, "pdu+wol", 6*time.Second, nil)
	m.ActionDone("compute-1", power.Off, "pdu", 30*time.Millisecond, errSNMP)
}

// wantFamilies compares the named families of m's registry with the
// exposition text want (client_golang's testutil parses and compares).
func wantFamilies(t *testing.T, m *Metrics, want string, names ...string) {
	t.Helper()
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}

// wantValue checks one counter or gauge.
func wantValue(t *testing.T, what string, c prometheus.Collector, want float64) {
	t.Helper()
	if got := testutil.ToFloat64(c); got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// TestIssueSeries checks every series issue 4 asks for, with its labels,
// after the observers were fed.
func TestIssueSeries(t *testing.T) {
	m := New()
	r := fakeRack()
	m.SetState(r, r)
	feed(m)

	// Per node power state (and where it came from), draw, sensor errors;
	// a reading too old to serve exports no watts. Actions in progress and
	// manual actions pending, per node and in all; sessions; nodes.
	wantFamilies(t, m, `
# HELP powerjockey_node_power_state Last observed power state: 1 on, 0 off, -1 unknown; source says where it came from (metering, outlet, probe, exec, recorded, or none when the sensors stopped answering).
# TYPE powerjockey_node_power_state gauge
powerjockey_node_power_state{node="busy-0",source="probe"} 0
powerjockey_node_power_state{node="compute-0",source="metering"} 1
powerjockey_node_power_state{node="compute-1",source="outlet"} 0
powerjockey_node_power_state{node="dead-0",source="none"} -1
powerjockey_node_power_state{node="dead-1",source="none"} -1
powerjockey_node_power_state{node="flaky-0",source="outlet"} 1
powerjockey_node_power_state{node="manual-0",source="recorded"} 1
powerjockey_node_power_state{node="manual-1",source="recorded"} -1
# HELP powerjockey_node_power_watts Last metered draw of the node's outlets.
# TYPE powerjockey_node_power_watts gauge
powerjockey_node_power_watts{node="compute-0"} 142
# HELP powerjockey_node_status_error 1 while the node's last power status refresh failed.
# TYPE powerjockey_node_status_error gauge
powerjockey_node_status_error{node="busy-0"} 0
powerjockey_node_status_error{node="compute-0"} 0
powerjockey_node_status_error{node="compute-1"} 0
powerjockey_node_status_error{node="dead-0"} 1
powerjockey_node_status_error{node="dead-1"} 1
powerjockey_node_status_error{node="flaky-0"} 1
powerjockey_node_status_error{node="manual-0"} 0
powerjockey_node_status_error{node="manual-1"} 0
# HELP powerjockey_node_action_in_progress 1 while background steps of a power action run (WoL repeats, the delays of on and cycle).
# TYPE powerjockey_node_action_in_progress gauge
powerjockey_node_action_in_progress{node="busy-0"} 1
powerjockey_node_action_in_progress{node="compute-0"} 0
powerjockey_node_action_in_progress{node="compute-1"} 0
powerjockey_node_action_in_progress{node="dead-0"} 0
powerjockey_node_action_in_progress{node="dead-1"} 0
powerjockey_node_action_in_progress{node="flaky-0"} 0
powerjockey_node_action_in_progress{node="manual-0"} 0
powerjockey_node_action_in_progress{node="manual-1"} 0
# HELP powerjockey_node_manual_action_pending 1 while a manual power action on the node waits for a human.
# TYPE powerjockey_node_manual_action_pending gauge
powerjockey_node_manual_action_pending{action="off",node="manual-1"} 1
powerjockey_node_manual_action_pending{action="on",node="manual-0"} 1
# HELP powerjockey_manual_actions_pending Manual power actions waiting for a human, across all nodes.
# TYPE powerjockey_manual_actions_pending gauge
powerjockey_manual_actions_pending 2
# HELP powerjockey_ipmi_sessions_open Open IPMI sessions across all endpoints.
# TYPE powerjockey_ipmi_sessions_open gauge
powerjockey_ipmi_sessions_open 3
# HELP powerjockey_nodes Configured nodes.
# TYPE powerjockey_nodes gauge
powerjockey_nodes 8
`, "powerjockey_node_power_state", "powerjockey_node_power_watts", "powerjockey_node_status_error",
		"powerjockey_node_action_in_progress", "powerjockey_node_manual_action_pending",
		"powerjockey_manual_actions_pending", "powerjockey_ipmi_sessions_open", "powerjockey_nodes")

	// IPMI: requests by command and completion code, auth failures,
	// drops, retransmissions.
	wantValue(t, "Get Chassis Status 0x00", m.ipmiRequests.WithLabelValues("compute-0", "Get Chassis Status", "0x00"), 2)
	wantValue(t, "Chassis Control 0xc3", m.ipmiRequests.WithLabelValues("compute-0", "Chassis Control", "0xc3"), 1)
	wantValue(t, "unknown 0xc1", m.ipmiRequests.WithLabelValues("compute-1", "unknown", "0xc1"), 1)
	wantValue(t, "auth failures", m.authFailures.WithLabelValues("compute-0"), 2)
	wantValue(t, "dropped", m.ipmiDropped.WithLabelValues("compute-0", "malformed"), 1)
	wantValue(t, "retransmissions", m.retransmissions.WithLabelValues("compute-1"), 1)

	// PDU SNMP: requests, errors, latency.
	wantValue(t, "polls", m.snmpRequests.WithLabelValues("rack1", "poll"), 2)
	wantValue(t, "sets", m.snmpRequests.WithLabelValues("rack1", "set"), 1)
	wantValue(t, "poll errors", m.snmpErrors.WithLabelValues("rack1", "poll"), 1)
	wantFamilies(t, m, `
# HELP powerjockey_pdu_snmp_duration_seconds Latency of SNMP requests to PDUs.
# TYPE powerjockey_pdu_snmp_duration_seconds histogram
powerjockey_pdu_snmp_duration_seconds_bucket{op="poll",pdu="rack1",le="0.001"} 0
powerjockey_pdu_snmp_duration_seconds_bucket{op="poll",pdu="rack1",le="0.005"} 1
powerjockey_pdu_snmp_duration_seconds_bucket{op="poll",pdu="rack1",le="0.01"} 1
powerjockey_pdu_snmp_duration_seconds_bucket{op="poll",pdu="rack1",le="0.025"} 1
powerjockey_pdu_snmp_duration_seconds_bucket{op="poll",pdu="rack1",le="0.05"} 1
powerjockey_pdu_snmp_duration_seconds_bucket{op="poll",pdu="rack1",le="0.1"} 1
powerjockey_pdu_snmp_duration_seconds_bucket{op="poll",pdu="rack1",le="0.25"} 1
powerjockey_pdu_snmp_duration_seconds_bucket{op="poll",pdu="rack1",le="0.5"} 1
powerjockey_pdu_snmp_duration_seconds_bucket{op="poll",pdu="rack1",le="1"} 1
powerjockey_pdu_snmp_duration_seconds_bucket{op="poll",pdu="rack1",le="2.5"} 2
powerjockey_pdu_snmp_duration_seconds_bucket{op="poll",pdu="rack1",le="5"} 2
powerjockey_pdu_snmp_duration_seconds_bucket{op="poll",pdu="rack1",le="10"} 2
powerjockey_pdu_snmp_duration_seconds_bucket{op="poll",pdu="rack1",le="+Inf"} 2
powerjockey_pdu_snmp_duration_seconds_sum{op="poll",pdu="rack1"} 1.503
powerjockey_pdu_snmp_duration_seconds_count{op="poll",pdu="rack1"} 2
powerjockey_pdu_snmp_duration_seconds_bucket{op="set",pdu="rack1",le="0.001"} 0
powerjockey_pdu_snmp_duration_seconds_bucket{op="set",pdu="rack1",le="0.005"} 0
powerjockey_pdu_snmp_duration_seconds_bucket{op="set",pdu="rack1",le="0.01"} 0
powerjockey_pdu_snmp_duration_seconds_bucket{op="set",pdu="rack1",le="0.025"} 1
powerjockey_pdu_snmp_duration_seconds_bucket{op="set",pdu="rack1",le="0.05"} 1
powerjockey_pdu_snmp_duration_seconds_bucket{op="set",pdu="rack1",le="0.1"} 1
powerjockey_pdu_snmp_duration_seconds_bucket{op="set",pdu="rack1",le="0.25"} 1
powerjockey_pdu_snmp_duration_seconds_bucket{op="set",pdu="rack1",le="0.5"} 1
powerjockey_pdu_snmp_duration_seconds_bucket{op="set",pdu="rack1",le="1"} 1
powerjockey_pdu_snmp_duration_seconds_bucket{op="set",pdu="rack1",le="2.5"} 1
powerjockey_pdu_snmp_duration_seconds_bucket{op="set",pdu="rack1",le="5"} 1
powerjockey_pdu_snmp_duration_seconds_bucket{op="set",pdu="rack1",le="10"} 1
powerjockey_pdu_snmp_duration_seconds_bucket{op="set",pdu="rack1",le="+Inf"} 1
powerjockey_pdu_snmp_duration_seconds_sum{op="set",pdu="rack1"} 0.02
powerjockey_pdu_snmp_duration_seconds_count{op="set",pdu="rack1"} 1
`, "powerjockey_pdu_snmp_duration_seconds")

	// Wake-on-LAN and power actions.
	wantValue(t, "magic packets", m.wolSent.WithLabelValues("compute-0"), 3)
	wantValue(t, "on ok", m.actions.WithLabelValues("compute-0", "on", "pdu+wol", "ok"), 1)
	wantValue(t, "off error", m.actions.WithLabelValues("compute-1", "off", "pdu", "error"), 1)
	if n := testutil.CollectAndCount(m.actionDuration, "powerjockey_power_action_duration_seconds"); n != 2 {
		t.Errorf("%d action duration series, want one per means (2)", n)
	}

	// The build.
	bi := buildinfo.Get()
	wantFamilies(t, m, fmt.Sprintf(`
# HELP powerjockey_build_info The running build: version, VCS revision, build date and Go version; always 1.
# TYPE powerjockey_build_info gauge
powerjockey_build_info{build_date=%q,goversion=%q,modified="%v",revision=%q,version=%q} 1
`, bi.Date, bi.GoVersion, bi.Modified, bi.Commit, bi.Version), "powerjockey_build_info")
}

// TestNoManualActionPending: the total is exported as 0 (an alert on it
// needs a series, not an absence), the per-node series disappear.
func TestNoManualActionPending(t *testing.T) {
	m := New()
	st := &fakeState{snaps: []node.Snapshot{{Name: "compute-0"}}}
	m.SetState(st, st)
	wantFamilies(t, m, `
# HELP powerjockey_manual_actions_pending Manual power actions waiting for a human, across all nodes.
# TYPE powerjockey_manual_actions_pending gauge
powerjockey_manual_actions_pending 0
# HELP powerjockey_ipmi_sessions_open Open IPMI sessions across all endpoints.
# TYPE powerjockey_ipmi_sessions_open gauge
powerjockey_ipmi_sessions_open 0
`, "powerjockey_manual_actions_pending", "powerjockey_ipmi_sessions_open", "powerjockey_node_manual_action_pending")
}

// TestLabelCardinality: every powerjockey_ series is labelled only by
// bounded sets (configured names, commands, codes, reasons), never by
// anything a client picks, such as its address.
func TestLabelCardinality(t *testing.T) {
	m := New()
	r := fakeRack()
	m.SetState(r, r)
	feed(m)
	allowed := map[string]bool{"node": true, "command": true, "completion_code": true, "reason": true,
		"pdu": true, "op": true, "action": true, "means": true, "result": true, "source": true, "le": true,
		// powerjockey_build_info: one series, fixed for the process's life.
		"version": true, "revision": true, "build_date": true, "goversion": true, "modified": true}
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "powerjockey_") {
			continue
		}
		seen++
		if f.GetHelp() == "" {
			t.Errorf("%s has no help", f.GetName())
		}
		for _, mt := range f.GetMetric() {
			for _, l := range mt.GetLabel() {
				if !allowed[l.GetName()] {
					t.Errorf("%s has label %q", f.GetName(), l.GetName())
				}
			}
		}
	}
	if seen < 18 {
		t.Errorf("only %d powerjockey_ families", seen)
	}
}

// TestScrapeWithManyNodes is a smoke test of a 1,000-node rack's scrape.
func TestScrapeWithManyNodes(t *testing.T) {
	st := &fakeState{}
	for i := range 1000 {
		st.snaps = append(st.snaps, node.Snapshot{Name: fmt.Sprintf("n-%04d", i),
			Reading: power.Reading{State: power.StateOn, Source: "outlet", At: time.Now()}})
	}
	m := New()
	m.SetState(st, st)
	// The scrape as Prometheus does it: the handler's whole exposition.
	w := httptest.NewRecorder()
	promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}).ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != 200 {
		t.Fatalf("scrape: %d %s", w.Code, w.Body)
	}
	if n, err := testutil.GatherAndCount(m.Registry, "powerjockey_node_power_state"); err != nil || n != 1000 {
		t.Errorf("%d power state series (%v), want 1000", n, err)
	}
	wantFamilies(t, m, `
# HELP powerjockey_nodes Configured nodes.
# TYPE powerjockey_nodes gauge
powerjockey_nodes 1000
`, "powerjockey_nodes")
}
