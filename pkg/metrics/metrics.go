// Package metrics exposes powerjockey's Prometheus series (all prefixed
// powerjockey_). Event counters are fed by the IPMI, node and PDU layers
// through their observer interfaces; gauges of state (power, sessions,
// manual actions) are read from the live objects at scrape time, so they can
// never drift from the truth.
package metrics

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/powerjockey/powerjockey/pkg/buildinfo"
	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
)

// Metrics owns a registry and implements ipmi.Observer, node.Observer and
// pdu.Observer.
type Metrics struct {
	Registry *prometheus.Registry

	ipmiRequests    *prometheus.CounterVec
	ipmiDropped     *prometheus.CounterVec
	authFailures    *prometheus.CounterVec
	retransmissions *prometheus.CounterVec
	panics          *prometheus.CounterVec
	snmpRequests    *prometheus.CounterVec
	snmpErrors      *prometheus.CounterVec
	snmpDuration    *prometheus.HistogramVec
	wolSent         *prometheus.CounterVec
	actions         *prometheus.CounterVec
	actionDuration  *prometheus.HistogramVec
	listeners       *listenerCollector
}

// Nodes are read at scrape time (the inventory).
type Nodes interface {
	// Snapshots returns a snapshot of every node.
	Snapshots() []node.Snapshot
}

// Sessions are counted at scrape time (the IPMI face's *ipmi.Manager).
type Sessions interface {
	// Sessions returns the number of open IPMI sessions.
	Sessions() int
}

// New registers every series but the scrape-time ones (SetState).
func New() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry(), listeners: &listenerCollector{stats: map[string]func() ListenerStats{}}}
	m.ipmiRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "powerjockey_ipmi_requests_total",
		Help: "IPMI requests dispatched, by node, command and completion code.",
	}, []string{"node", "command", "completion_code"})
	m.ipmiDropped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "powerjockey_ipmi_dropped_datagrams_total",
		Help: "Datagrams dropped before dispatch (malformed, rate-limited), by node and reason.",
	}, []string{"node", "reason"})
	m.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "powerjockey_ipmi_auth_failures_total",
		Help: "Failed IPMI authentications, by node.",
	}, []string{"node"})
	m.retransmissions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "powerjockey_ipmi_retransmissions_total",
		Help: "Resent IPMI requests answered from the replay cache instead of running again.",
	}, []string{"node"})
	m.panics = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "powerjockey_ipmi_panics_total",
		Help: "Panics recovered on the IPMI path (the datagram or command was dropped or answered 0xFF), by node and where.",
	}, []string{"node", "where"})
	m.snmpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "powerjockey_pdu_snmp_requests_total",
		Help: "SNMP requests to PDUs, by PDU and operation (get, set, poll).",
	}, []string{"pdu", "op"})
	m.snmpErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "powerjockey_pdu_snmp_errors_total",
		Help: "Failed SNMP requests to PDUs, by PDU and operation.",
	}, []string{"pdu", "op"})
	m.snmpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "powerjockey_pdu_snmp_duration_seconds",
		Help:    "Latency of SNMP requests to PDUs.",
		Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"pdu", "op"})
	m.wolSent = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "powerjockey_wol_packets_sent_total",
		Help: "Wake-on-LAN magic packets sent, by node.",
	}, []string{"node"})
	m.actions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "powerjockey_power_actions_total",
		Help: "Finished power actions, by node, action, means and result.",
	}, []string{"node", "action", "means", "result"})
	m.actionDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "powerjockey_power_action_duration_seconds",
		Help:    "Duration of power actions including background steps, by means.",
		Buckets: []float64{.01, .05, .1, .5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"means"})
	m.Registry.MustRegister(buildInfoGauge(buildinfo.Get()))
	m.Registry.MustRegister(m.ipmiRequests, m.ipmiDropped, m.authFailures, m.retransmissions, m.panics,
		m.snmpRequests, m.snmpErrors, m.snmpDuration, m.wolSent, m.actions, m.actionDuration, m.listeners,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// buildInfoGauge is powerjockey_build_info: always 1, the build in its
// labels, in the form Prometheus' own exporters use (so that
// "count by (version) (powerjockey_build_info)" shows what runs where).
func buildInfoGauge(i buildinfo.Info) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "powerjockey_build_info",
		Help: "The running build: version, VCS revision, build date and Go version; always 1.",
		ConstLabels: prometheus.Labels{"version": i.Version, "revision": i.Commit, "build_date": i.Date,
			"goversion": i.GoVersion, "modified": fmt.Sprint(i.Modified)},
	})
	g.Set(1)
	return g
}

// SetState registers the scrape-time collector of node and session state.
func (m *Metrics) SetState(nodes Nodes, sessions Sessions) {
	m.Registry.MustRegister(&stateCollector{nodes: nodes, sessions: sessions})
}

// ccLabels are the completion-code label values, formatted once: Request
// is on every IPMI request's path.
var ccLabels = func() (l [256]string) {
	for i := range l {
		l[i] = fmt.Sprintf("0x%02x", i)
	}
	return l
}()

// Request implements ipmi.Observer.
func (m *Metrics) Request(node, command string, cc uint8) {
	m.ipmiRequests.WithLabelValues(node, command, ccLabels[cc]).Inc()
}

// Dropped implements ipmi.Observer.
func (m *Metrics) Dropped(node, reason string) { m.ipmiDropped.WithLabelValues(node, reason).Inc() }

// AuthFailure implements ipmi.Observer.
func (m *Metrics) AuthFailure(node string) { m.authFailures.WithLabelValues(node).Inc() }

// Retransmission implements ipmi.Observer.
func (m *Metrics) Retransmission(node string) { m.retransmissions.WithLabelValues(node).Inc() }

// Panic implements ipmi.Observer.
func (m *Metrics) Panic(node, where string) { m.panics.WithLabelValues(node, where).Inc() }

// SNMPRequest implements pdu.Observer.
func (m *Metrics) SNMPRequest(pdu, op string, took time.Duration, err error) {
	m.snmpRequests.WithLabelValues(pdu, op).Inc()
	m.snmpDuration.WithLabelValues(pdu, op).Observe(took.Seconds())
	if err != nil {
		m.snmpErrors.WithLabelValues(pdu, op).Inc()
	}
}

// WoLSent counts one magic packet.
func (m *Metrics) WoLSent(node string) { m.wolSent.WithLabelValues(node).Inc() }

// ActionDone implements node.Observer.
func (m *Metrics) ActionDone(node string, a power.Action, means string, took time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.actions.WithLabelValues(node, a.String(), means, result).Inc()
	m.actionDuration.WithLabelValues(means).Observe(took.Seconds())
}

// stateCollector reads node and session state at scrape time. It never
// touches a device: a scrape reports what the node layer last saw.
type stateCollector struct {
	nodes    Nodes
	sessions Sessions
}

var (
	powerStateDesc = prometheus.NewDesc("powerjockey_node_power_state",
		"Last observed power state: 1 on, 0 off, -1 unknown; source says where it came from "+
			"(metering, outlet, probe, exec, recorded, or none when the sensors stopped answering).",
		[]string{"node", "source"}, nil)
	wattsDesc = prometheus.NewDesc("powerjockey_node_power_watts",
		"Last metered draw of the node's outlets.", []string{"node"}, nil)
	statusErrorDesc = prometheus.NewDesc("powerjockey_node_status_error",
		"1 while the node's last power status refresh failed.", []string{"node"}, nil)
	busyDesc = prometheus.NewDesc("powerjockey_node_action_in_progress",
		"1 while background steps of a power action run (WoL repeats, the delays of on and cycle).",
		[]string{"node"}, nil)
	nodeManualDesc = prometheus.NewDesc("powerjockey_node_manual_action_pending",
		"1 while a manual power action on the node waits for a human.", []string{"node", "action"}, nil)
	manualDesc = prometheus.NewDesc("powerjockey_manual_actions_pending",
		"Manual power actions waiting for a human, across all nodes.", nil, nil)
	sessionsDesc = prometheus.NewDesc("powerjockey_ipmi_sessions_open",
		"Open IPMI sessions across all endpoints.", nil, nil)
	nodesDesc = prometheus.NewDesc("powerjockey_nodes", "Configured nodes.", nil, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{powerStateDesc, wattsDesc, statusErrorDesc, busyDesc,
		nodeManualDesc, manualDesc, sessionsDesc, nodesDesc} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	snaps := c.nodes.Snapshots()
	ch <- prometheus.MustNewConstMetric(nodesDesc, prometheus.GaugeValue, float64(len(snaps)))
	ch <- prometheus.MustNewConstMetric(sessionsDesc, prometheus.GaugeValue, float64(c.sessions.Sessions()))
	pending := 0
	for _, s := range snaps {
		state, src := s.Power()
		source := string(src)
		if source == "" {
			source = "none" // the sensors stopped answering
		}
		v := -1.0
		switch state {
		case power.StateOn:
			v = 1
		case power.StateOff:
			v = 0
		}
		ch <- prometheus.MustNewConstMetric(powerStateDesc, prometheus.GaugeValue, v, s.Name, source)
		if s.Reading.Watts != nil && source != "none" {
			ch <- prometheus.MustNewConstMetric(wattsDesc, prometheus.GaugeValue, *s.Reading.Watts, s.Name)
		}
		ch <- prometheus.MustNewConstMetric(statusErrorDesc, prometheus.GaugeValue, bool01(s.ReadingErr != nil), s.Name)
		ch <- prometheus.MustNewConstMetric(busyDesc, prometheus.GaugeValue, bool01(s.Busy), s.Name)
		if s.Persisted.Manual != nil {
			pending++
			ch <- prometheus.MustNewConstMetric(nodeManualDesc, prometheus.GaugeValue, 1, s.Name, s.Persisted.Manual.Action.String())
		}
	}
	ch <- prometheus.MustNewConstMetric(manualDesc, prometheus.GaugeValue, float64(pending))
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
