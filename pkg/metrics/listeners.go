package metrics

import (
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// ListenerStats are a TCP server's connection counts (connlimit.Stats).
type ListenerStats struct {
	Open, Max, MaxPerSource int
	Refused, Evicted        uint64
}

// listenerCollector reads the TCP servers' connection counts at scrape
// time, like the node state: they cannot drift from the listeners'.
type listenerCollector struct {
	mu    sync.Mutex
	stats map[string]func() ListenerStats
}

var (
	connOpenDesc = prometheus.NewDesc("powerjockey_http_connections_open",
		"TCP connections held by a server (http: the operator API; redfish).", []string{"server"}, nil)
	connMaxDesc = prometheus.NewDesc("powerjockey_http_connections_max",
		"The server's connection cap, after sizing it from the file descriptor limit.", []string{"server"}, nil)
	connPerSourceDesc = prometheus.NewDesc("powerjockey_http_connections_max_per_source",
		"The server's cap of connections from one address.", []string{"server"}, nil)
	connRefusedDesc = prometheus.NewDesc("powerjockey_http_connections_refused_total",
		"Connections closed at accept because every connection under a cap was busy.", []string{"server"}, nil)
	connEvictedDesc = prometheus.NewDesc("powerjockey_http_connections_evicted_total",
		"Idle connections closed at a cap to make room for a new one.", []string{"server"}, nil)
)

func (c *listenerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{connOpenDesc, connMaxDesc, connPerSourceDesc, connRefusedDesc, connEvictedDesc} {
		ch <- d
	}
}

func (c *listenerCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	names := make([]string, 0, len(c.stats))
	for n := range c.stats {
		names = append(names, n)
	}
	fns := make([]func() ListenerStats, 0, len(names))
	slices.Sort(names)
	for _, n := range names {
		fns = append(fns, c.stats[n])
	}
	c.mu.Unlock()
	for i, n := range names {
		s := fns[i]()
		ch <- prometheus.MustNewConstMetric(connOpenDesc, prometheus.GaugeValue, float64(s.Open), n)
		ch <- prometheus.MustNewConstMetric(connMaxDesc, prometheus.GaugeValue, float64(s.Max), n)
		ch <- prometheus.MustNewConstMetric(connPerSourceDesc, prometheus.GaugeValue, float64(s.MaxPerSource), n)
		ch <- prometheus.MustNewConstMetric(connRefusedDesc, prometheus.CounterValue, float64(s.Refused), n)
		ch <- prometheus.MustNewConstMetric(connEvictedDesc, prometheus.CounterValue, float64(s.Evicted), n)
	}
}

// SetListener reports server's connection counts from stats (replacing a
// previous listener of that name); nil stops reporting it.
func (m *Metrics) SetListener(server string, stats func() ListenerStats) {
	m.listeners.mu.Lock()
	defer m.listeners.mu.Unlock()
	if stats == nil {
		delete(m.listeners.stats, server)
		return
	}
	m.listeners.stats[server] = stats
}
