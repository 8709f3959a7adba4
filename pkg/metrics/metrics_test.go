package metrics

import (
	"errors"
	"fmt"
	"maps"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

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
func (f *fakeState) IPMISessions() int          { return f.sessions }

func watts(w float64) *float64 { return &w }

var errSNMP = errors.New("snmp: request timeout")

func fakeRack() *fakeState {
	now := time.Now()
	return &fakeState{sessions: 3, snaps: []node.Snapshot{
		{Name: "compute-0", Reading: power.Reading{State: power.StateOn, Source: "metering", Watts: watts(142), At: now}},
		{Name: "compute-1", Reading: power.Reading{State: power.StateOff, Source: "outlet", At: now},
			State: node.State{Power: power.StateOn}},
		// No sensor (or no reading since the last action): the recorded state.
		{Name: "manual-0", State: node.State{Power: power.StateOn,
			Manual: &node.ManualAction{Action: "on", Since: now}}},
		{Name: "manual-1", State: node.State{Manual: &node.ManualAction{Action: "off", Since: now}}},
		// Busy: a cycle's background steps are running.
		{Name: "busy-0", Busy: true, Reading: power.Reading{State: power.StateOff, Source: "probe", At: now}},
		// Failing sensors with a reading young enough to be served still...
		{Name: "flaky-0", ReadingErr: errSNMP, Reading: power.Reading{State: power.StateOn, Source: "outlet", At: now.Add(-5 * time.Second)}},
		// ...and one that is too old, or none at all: unknown.
		{Name: "dead-0", ReadingErr: errSNMP, Reading: power.Reading{State: power.StateOn, Source: "metering",
			Watts: watts(120), At: now.Add(-time.Minute)}},
		{Name: "dead-1", ReadingErr: errSNMP, State: node.State{Power: power.StateOn}},
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

// series is a parsed exposition: "name{l1="v1",...}" (labels sorted, as the
// text format writes them) -> value.
type series map[string]string

func scrape(t *testing.T, m *Metrics) series {
	t.Helper()
	w := httptest.NewRecorder()
	promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}).ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != 200 {
		t.Fatalf("scrape: %d %s", w.Code, w.Body)
	}
	out := series{}
	for _, line := range strings.Split(w.Body.String(), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		out[normalize(t, line[:i])] = line[i+1:]
	}
	return out
}

// normalize sorts the labels of `name{l="v",...}`.
func normalize(t *testing.T, key string) string {
	name, rest, ok := strings.Cut(key, "{")
	if !ok {
		return key
	}
	rest = strings.TrimSuffix(rest, "}")
	var pairs []string
	for rest != "" {
		l, v, ok := strings.Cut(rest, `="`)
		if !ok {
			t.Fatalf("cannot parse %s", key)
		}
		end := 0
		for end < len(v) && v[end] != '"' {
			if v[end] == '\\' {
				end++
			}
			end++
		}
		pairs = append(pairs, l+`="`+v[:end]+`"`)
		rest = strings.TrimPrefix(v[min(end+1, len(v)):], ",")
	}
	slices.Sort(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}

func (s series) want(t *testing.T, key, value string) {
	t.Helper()
	got, ok := s[key]
	switch {
	case !ok:
		t.Errorf("no series %s; have:\n%s", key, s.named(key))
	case got != value:
		t.Errorf("%s = %s, want %s", key, got, value)
	}
}

// named lists the series with key's name, for failure messages.
func (s series) named(key string) string {
	name, _, _ := strings.Cut(key, "{")
	var out []string
	for _, k := range slices.Sorted(maps.Keys(s)) {
		if n, _, _ := strings.Cut(k, "{"); n == name {
			out = append(out, "  "+k+" "+s[k])
		}
	}
	return strings.Join(out, "\n")
}

// TestIssueSeries checks every series issue 4 asks for, with its labels,
// after the observers were fed.
func TestIssueSeries(t *testing.T) {
	m := New()
	m.SetState(fakeRack())
	feed(m)
	s := scrape(t, m)

	// Per node power state (and where it came from), draw, sensor errors.
	s.want(t, `powerjockey_node_power_state{node="compute-0",source="metering"}`, "1")
	s.want(t, `powerjockey_node_power_state{node="compute-1",source="outlet"}`, "0")
	s.want(t, `powerjockey_node_power_state{node="manual-0",source="recorded"}`, "1")
	s.want(t, `powerjockey_node_power_state{node="manual-1",source="recorded"}`, "-1")
	s.want(t, `powerjockey_node_power_state{node="flaky-0",source="outlet"}`, "1")
	s.want(t, `powerjockey_node_power_state{node="dead-0",source="none"}`, "-1")
	s.want(t, `powerjockey_node_power_state{node="dead-1",source="none"}`, "-1")
	s.want(t, `powerjockey_node_power_watts{node="compute-0"}`, "142")
	if _, ok := s[`powerjockey_node_power_watts{node="dead-0"}`]; ok {
		t.Error("a reading too old to serve still exports its watts")
	}
	s.want(t, `powerjockey_node_status_error{node="compute-0"}`, "0")
	s.want(t, `powerjockey_node_status_error{node="flaky-0"}`, "1")
	s.want(t, `powerjockey_nodes`, "8")

	// Actions in progress and manual actions pending, per node and in all.
	s.want(t, `powerjockey_node_action_in_progress{node="busy-0"}`, "1")
	s.want(t, `powerjockey_node_action_in_progress{node="compute-0"}`, "0")
	s.want(t, `powerjockey_node_manual_action_pending{action="on",node="manual-0"}`, "1")
	s.want(t, `powerjockey_node_manual_action_pending{action="off",node="manual-1"}`, "1")
	s.want(t, `powerjockey_manual_actions_pending`, "2")

	// IPMI: requests by command and completion code, sessions, auth failures.
	s.want(t, `powerjockey_ipmi_requests_total{command="Get Chassis Status",completion_code="0x00",node="compute-0"}`, "2")
	s.want(t, `powerjockey_ipmi_requests_total{command="Chassis Control",completion_code="0xc3",node="compute-0"}`, "1")
	s.want(t, `powerjockey_ipmi_requests_total{command="unknown",completion_code="0xc1",node="compute-1"}`, "1")
	s.want(t, `powerjockey_ipmi_sessions_open`, "3")
	s.want(t, `powerjockey_ipmi_auth_failures_total{node="compute-0"}`, "2")
	s.want(t, `powerjockey_ipmi_dropped_datagrams_total{node="compute-0",reason="malformed"}`, "1")
	s.want(t, `powerjockey_ipmi_retransmissions_total{node="compute-1"}`, "1")

	// PDU SNMP: requests, errors, latency.
	s.want(t, `powerjockey_pdu_snmp_requests_total{op="poll",pdu="rack1"}`, "2")
	s.want(t, `powerjockey_pdu_snmp_requests_total{op="set",pdu="rack1"}`, "1")
	s.want(t, `powerjockey_pdu_snmp_errors_total{op="poll",pdu="rack1"}`, "1")
	s.want(t, `powerjockey_pdu_snmp_duration_seconds_count{op="poll",pdu="rack1"}`, "2")
	s.want(t, `powerjockey_pdu_snmp_duration_seconds_bucket{le="0.005",op="poll",pdu="rack1"}`, "1")
	s.want(t, `powerjockey_pdu_snmp_duration_seconds_bucket{le="2.5",op="poll",pdu="rack1"}`, "2")
	s.want(t, `powerjockey_pdu_snmp_duration_seconds_sum{op="poll",pdu="rack1"}`, "1.503")

	// Wake-on-LAN and power actions.
	s.want(t, `powerjockey_wol_packets_sent_total{node="compute-0"}`, "3")
	s.want(t, `powerjockey_power_actions_total{action="on",means="pdu+wol",node="compute-0",result="ok"}`, "1")
	s.want(t, `powerjockey_power_actions_total{action="off",means="pdu",node="compute-1",result="error"}`, "1")
	s.want(t, `powerjockey_power_action_duration_seconds_count{means="pdu+wol"}`, "1")

	// The build.
	bi := buildinfo.Get()
	s.want(t, fmt.Sprintf(`powerjockey_build_info{build_date=%q,goversion=%q,modified="%v",revision=%q,version=%q}`,
		bi.Date, bi.GoVersion, bi.Modified, bi.Commit, bi.Version), "1")
}

// TestNoManualActionPending: the total is exported as 0 (an alert on it
// needs a series, not an absence), the per-node series disappear.
func TestNoManualActionPending(t *testing.T) {
	m := New()
	m.SetState(&fakeState{snaps: []node.Snapshot{{Name: "compute-0"}}})
	s := scrape(t, m)
	s.want(t, `powerjockey_manual_actions_pending`, "0")
	s.want(t, `powerjockey_ipmi_sessions_open`, "0")
	for k := range s {
		if strings.HasPrefix(k, "powerjockey_node_manual_action_pending") {
			t.Errorf("unexpected %s", k)
		}
	}
}

// TestLabelCardinality: every powerjockey_ series is labelled only by
// bounded sets (configured names, commands, codes, reasons), never by
// anything a client picks, such as its address.
func TestLabelCardinality(t *testing.T) {
	m := New()
	m.SetState(fakeRack())
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
	m.SetState(st)
	s := scrape(t, m)
	s.want(t, `powerjockey_nodes`, "1000")
	s.want(t, `powerjockey_node_power_state{node="n-0999",source="outlet"}`, "1")
}
