package httpapi

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
)

// HistoryJSON is GET /api/v1/nodes/{name}/history: what happened to the
// node's power, for the page's chart and timeline.
type HistoryJSON struct {
	Node string `json:"node"`
	// Since is the start of the meter window (an hour back unless
	// ?since= says otherwise; never more than node.MeterHistory).
	Since time.Time `json:"since"`
	// BucketSeconds is the width of a meter sample.
	BucketSeconds int `json:"bucket_seconds"`
	// Meter is the metered draw in buckets, oldest first; empty when the
	// node has no meter (or no reading in the window).
	Meter []node.MeterSample `json:"meter"`
	// Events are the newest entries of the node's event log (what the
	// IPMI SEL and the Redfish log show), oldest first: at most ?limit=
	// (default 50).
	Events []node.Event `json:"events"`
	// EventsTotal is how many the log holds.
	EventsTotal int `json:"events_total"`
}

// history limits.
const (
	defaultHistoryEvents = 50
	maxHistoryEvents     = node.DefaultEventLogSize
)

func (s *server) history(w http.ResponseWriter, r *http.Request) {
	n := s.visibleNode(w, r)
	if n == nil {
		return
	}
	now := time.Now()
	since := now.Add(-node.MeterHistory)
	if v := r.URL.Query().Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "since: want an RFC 3339 time, e.g. 2026-11-26T09:00:00Z")
			return
		}
		if t.After(since) {
			since = t
		}
	}
	limit := defaultHistoryEvents
	if v := r.URL.Query().Get("limit"); v != "" {
		l, err := strconv.Atoi(v)
		if err != nil || l < 0 || l > maxHistoryEvents {
			writeError(w, http.StatusBadRequest, "limit: want 0 to "+strconv.Itoa(maxHistoryEvents))
			return
		}
		limit = l
	}
	events, err := n.Events()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	out := HistoryJSON{Node: n.Name(), Since: since, BucketSeconds: int(node.MeterBucket / time.Second),
		Meter: n.MeterSamples(since), EventsTotal: len(events), Events: events[max(0, len(events)-limit):]}
	if out.Meter == nil {
		out.Meter = []node.MeterSample{}
	}
	writeJSON(w, http.StatusOK, out)
}

// PDUInfo is a PDU as configured: its outlets that feed nodes.
type PDUInfo struct {
	Name  string
	Model string
	// Outlets are the outlets nodes are attached to, with their node.
	Outlets []OutletInfo
}

// OutletInfo is one configured outlet and the node it feeds.
type OutletInfo struct {
	Outlet int
	Node   string
}

// PDULister is implemented by a Backend that knows its PDUs (the daemon,
// from its configuration). Without it the PDU view is built from what
// the nodes' readings say of their outlets.
type PDULister interface {
	PDUs() []PDUInfo
}

// PDUJSON is one PDU in GET /api/v1/pdus.
type PDUJSON struct {
	Name    string       `json:"name"`
	Model   string       `json:"model,omitempty"`
	Outlets []OutletJSON `json:"outlets"`
	// Watts sums the metered outlets (absent when none is metered).
	Watts *float64 `json:"watts,omitempty"`
}

// OutletJSON is one outlet: the node it feeds and what the PDU last said of
// it (the node's last reading; a scrape of the page never polls the PDU).
type OutletJSON struct {
	Outlet     int        `json:"outlet"`
	Node       string     `json:"node"`
	State      string     `json:"state"`
	Watts      *float64   `json:"watts,omitempty"`
	ObservedAt *time.Time `json:"observed_at,omitempty"`
	Error      string     `json:"error,omitempty"`
}

func (s *server) listPDUs(w http.ResponseWriter, r *http.Request) {
	a := accessFrom(r.Context())
	// What each visible node's last reading says of its outlets.
	type key struct {
		pdu    string
		outlet int
	}
	seen := map[key]OutletJSON{}
	derived := map[string][]OutletInfo{}
	for _, n := range s.b.Nodes() {
		if !a.canSee(n.Name()) {
			continue
		}
		snap := n.Snapshot()
		for _, o := range snap.Reading.Outlets {
			oj := OutletJSON{Outlet: o.Outlet, Node: n.Name(), State: o.State.String(), Watts: o.Watts}
			at := snap.Reading.At
			oj.ObservedAt = &at
			if snap.ReadingErr != nil {
				oj.Error = snap.ReadingErr.Error()
			}
			seen[key{o.PDU, o.Outlet}] = oj
			derived[o.PDU] = append(derived[o.PDU], OutletInfo{Outlet: o.Outlet, Node: n.Name()})
		}
	}
	var infos []PDUInfo
	if l, ok := s.b.(PDULister); ok {
		infos = l.PDUs()
	} else {
		for name, outs := range derived {
			infos = append(infos, PDUInfo{Name: name, Outlets: outs})
		}
	}
	out := []PDUJSON{}
	for _, p := range infos {
		pj := PDUJSON{Name: p.Name, Model: p.Model, Outlets: []OutletJSON{}}
		var sum float64
		metered := false
		for _, o := range p.Outlets {
			if !a.canSee(o.Node) {
				continue
			}
			oj, ok := seen[key{p.Name, o.Outlet}]
			if !ok || oj.Node != o.Node {
				// No reading of it yet (a node whose probe decides and
				// whose PDU did not answer, a node just added).
				oj = OutletJSON{Outlet: o.Outlet, Node: o.Node, State: power.Unknown.String()}
			}
			if oj.Watts != nil {
				sum += *oj.Watts
				metered = true
			}
			pj.Outlets = append(pj.Outlets, oj)
		}
		if len(pj.Outlets) == 0 {
			continue
		}
		slices.SortFunc(pj.Outlets, func(x, y OutletJSON) int { return x.Outlet - y.Outlet })
		if metered {
			pj.Watts = &sum
		}
		out = append(out, pj)
	}
	slices.SortFunc(out, func(x, y PDUJSON) int { return strings.Compare(x.Name, y.Name) })
	writeJSON(w, http.StatusOK, out)
}
