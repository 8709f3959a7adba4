//go:build linux

package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/account"
	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
	"github.com/powerjockey/powerjockey/pkg/power/pdu"
	"github.com/powerjockey/powerjockey/pkg/sim"
)

// shiftedFeed is a real PDU feed whose readings are dated back by shift:
// an hour of the simulated rack's real SNMP readings is taken in seconds,
// each landing in its own 15-second bucket of the node's meter ring.
type shiftedFeed struct {
	*pdu.Feed
	shift atomic.Int64 // nanoseconds
}

func (f *shiftedFeed) Read(ctx context.Context) (power.Reading, error) {
	r, err := f.Feed.Read(ctx)
	r.At = r.At.Add(-time.Duration(f.shift.Load()))
	return r, err
}

// simNode is a node on outlet 3 of a simulated metered APC Rack PDU
// (SNMP on loopback), feeding a simulated machine.
func simNode(t *testing.T) (nodeSpec, *shiftedFeed, *sim.Rack) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	rack, err := sim.New(sim.Config{
		PDUs:     []sim.PDUConfig{{Name: "rack1", Model: "apc_rpdu2", Listen: "127.0.0.1:0", ReadCommunity: "public", WriteCommunity: "private"}},
		Machines: []sim.MachineConfig{{Name: "sim-0", PDU: "rack1", Outlets: []int{3}, PowerOnAfterACLoss: true, RunningWatts: 138}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rack.Close)
	go rack.Run(ctx)
	client, err := pdu.New(pdu.Config{Name: "rack1", Address: rack.PDU("rack1").Addr(), Model: "apc_rpdu2",
		SNMP:     pdu.SNMPConfig{Version: "2c", CommunityRead: "public", CommunityWrite: "private", Timeout: time.Second, Retries: 1},
		CacheTTL: time.Nanosecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	feed := &shiftedFeed{Feed: pdu.NewFeed(client, []int{3})}
	return nodeSpec{name: "sim-0", means: &node.Means{Feed: feed}}, feed, rack
}

// fillHour takes the node's last hour from the simulated rack, one real
// reading per 15-second bucket: 20 minutes off, then powered on by a real
// action (the PDU's outlet SET), 30 minutes running, then the machine
// shuts itself down (an unrequested change) and draws standby power.
func fillHour(t *testing.T, n *node.Node, feed *shiftedFeed, rack *sim.Rack) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	read := func(from, to int) {
		for i := from; i > to; i-- {
			feed.shift.Store(int64(time.Duration(i) * node.MeterBucket))
			if _, err := n.Refresh(ctx); err != nil {
				t.Fatalf("reading %d: %v", i, err)
			}
		}
	}
	read(239, 160)
	if err := n.Power(node.WithRequester(ctx, node.Requester{Channel: "http", User: "ops", Source: "192.0.2.9:4242"}), power.On); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for rack.Machine("sim-0").Watts() < 100 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	read(160, 40)
	rack.Machine("sim-0").Shutdown()
	read(40, -1)
}

// spkiHash is what chromium's --ignore-certificate-errors-spki-list wants:
// the base64 SHA-256 of the server certificate's public key, so that the
// browser trusts this test server's certificate and no other.
func spkiHash(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

func TestLoginHistoryAndPDUsInBrowser(t *testing.T) {
	bin := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	spec, feed, simRack := simNode(t)
	rack := newRack(t, spec, meteredNode("compute-0", true, 142), outletNode("storage-0", false), manualNode("manual-0", power.On))
	simN := rack.byName["sim-0"]
	fillHour(t, simN, feed, simRack)

	auth := testAuth(false)
	grants := auth.Grants
	auth.Grants = func() []account.Grant {
		return append(grants(), account.Grant{Node: "sim-0", Username: "admin", Password: "hunter2", Role: account.Administrator})
	}
	srv := httptest.NewTLSServer(NewWithOptions(rack, Options{Logger: slog.New(slog.DiscardHandler), Auth: func() *Auth { return auth }}))
	defer srv.Close()

	b := startBrowser(ctx, t, bin, "--ignore-certificate-errors-spki-list="+spkiHash(srv.Certificate()))
	b.must(ctx, "Page.addScriptToEvaluateOnNewDocument", map[string]any{"source": cspWatcher}, nil)
	b.must(ctx, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 1280, "height": 900,
		"deviceScaleFactor": 1, "mobile": false}, nil)
	b.must(ctx, "Page.navigate", map[string]any{"url": srv.URL + "/"}, nil)

	type2 := func(selector, text string) {
		t.Helper()
		b.mustEval(ctx, fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = ''; e.focus(); })()`, selector), nil)
		if text != "" {
			b.must(ctx, "Input.insertText", map[string]any{"text": text}, nil)
		}
	}
	t.Run("login", func(t *testing.T) {
		b.waitFor(ctx, "the login form", `!document.getElementById('login').hidden && document.body.classList.contains('logged-out')`, 10*time.Second)
		var cards int
		b.mustEval(ctx, `document.querySelectorAll('#nodes > li').length`, &cards)
		if cards != 0 {
			t.Errorf("%d cards before login", cards)
		}
		b.screenshot(ctx, "login.png")
		type2("#login-user", "admin")
		type2("#login-password", "wrong")
		b.click(ctx, `#login-form button[type=submit]`)
		b.waitFor(ctx, "the refusal", `!document.getElementById('login-error').hidden &&
			document.getElementById('login-error').textContent.startsWith('Login failed')`, 5*time.Second)
		b.takeProblems() // the 401 is logged by the browser
		type2("#login-password", "hunter2")
		b.click(ctx, `#login-form button[type=submit]`)
		b.waitFor(ctx, "admin's nodes", `document.getElementById('login').hidden &&
			[...document.querySelectorAll('#nodes > li')].map((li) => li.dataset.node).join() === 'compute-0,manual-0,sim-0' &&
			document.getElementById('who').textContent === 'admin (Administrator)' &&
			document.getElementById('conn').dataset.state === 'live'`, 10*time.Second)
		var cookie bool
		b.mustEval(ctx, `document.cookie.includes('powerjockey_session')`, &cookie)
		if cookie {
			t.Error("the session cookie is readable by scripts (not HttpOnly)")
		}
	})

	var h HistoryJSON
	t.Run("history chart and timeline", func(t *testing.T) {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/nodes/sim-0/history", nil)
		req.Header.Set("Authorization", "Bearer "+readToken)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&h)
		resp.Body.Close()
		if len(h.Meter) < 230 || len(h.Events) < 2 {
			t.Fatalf("the simulated hour: %d samples, %d events: %+v", len(h.Meter), len(h.Events), h.Events)
		}
		b.click(ctx, `#nodes li[data-node="sim-0"] button[data-history]`)
		b.waitFor(ctx, "the chart", `document.getElementById('history').open &&
			document.getElementById('chart').dataset.samples === '`+fmt.Sprint(len(h.Meter))+`'`, 10*time.Second)
		var chart struct {
			Lines, Bands, Marks int
			Points              []string
			Stats, Title        string
			Timeline            []struct{ Text, Class, Kind string }
		}
		b.mustEval(ctx, `(() => { const svg = document.getElementById('chart');
			return {lines: svg.querySelectorAll('polyline.avg').length, bands: svg.querySelectorAll('polygon.band').length,
			marks: svg.querySelectorAll('line.mark').length,
			points: [...svg.querySelectorAll('polyline.avg')].flatMap((p) => p.getAttribute('points').split(' ')),
			stats: document.getElementById('history-stats').textContent, title: document.getElementById('history-h').textContent,
			timeline: [...document.querySelectorAll('#timeline li')].map((li) => ({text: li.textContent, class: li.className, kind: li.dataset.kind}))}; })()`, &chart)
		// One point per sample, in one unbroken line (a reading every bucket).
		if chart.Lines != 1 || chart.Bands != 1 || len(chart.Points) != len(h.Meter) {
			t.Errorf("chart: %d lines, %d bands, %d points for %d samples", chart.Lines, chart.Bands, len(chart.Points), len(h.Meter))
		}
		// The line goes up and down with the real draw: 0 W (outlet off),
		// 138 W (running), the standby draw after the self-shutdown.
		ys := map[string]bool{}
		for _, p := range chart.Points {
			ys[p[strings.Index(p, ",")+1:]] = true
		}
		if len(ys) < 3 {
			t.Errorf("the line has %d heights, want at least off, running and standby", len(ys))
		}
		st := node.Summarise(h.Meter)
		want := fmt.Sprintf("Last hour: min %d W, average %d W, max %d W (%d readings)", int(math.Round(st.Min)), int(math.Round(st.Avg)),
			int(math.Round(st.Max)), st.Count)
		if chart.Stats != want || st.Max < 130 || st.Min != 0 {
			t.Errorf("stats %q, want %q", chart.Stats, want)
		}
		if chart.Title != "sim-0: the last hour" {
			t.Errorf("title %q", chart.Title)
		}
		// The timeline is the node's event log, newest first.
		if len(chart.Timeline) != len(h.Events) {
			t.Fatalf("%d timeline entries for %d events", len(chart.Timeline), len(h.Events))
		}
		for i, e := range h.Events {
			li := chart.Timeline[len(h.Events)-1-i]
			if !strings.HasSuffix(li.Text, e.Message) || li.Class != string(e.Severity) || li.Kind != string(e.Kind) {
				t.Errorf("timeline entry %d: %+v, want %s %s %q", i, li, e.Severity, e.Kind, e.Message)
			}
		}
		var sawAction, sawSelfShutdown bool
		for _, li := range chart.Timeline {
			sawAction = sawAction || strings.Contains(li.Text, "Power on via pdu done by ops over http from 192.0.2.9:4242.")
			sawSelfShutdown = sawSelfShutdown || li.Class == "Warning" && strings.Contains(li.Text, "without a request: the machine powered itself off")
		}
		if !sawAction || !sawSelfShutdown {
			t.Errorf("the timeline lacks the action (%v) or the self-shutdown (%v): %+v", sawAction, sawSelfShutdown, chart.Timeline)
		}
		// Events are real-time, the meter window is too: every event is
		// marked on the chart.
		if chart.Marks != len(h.Events) {
			t.Errorf("%d marks on the chart for %d events", chart.Marks, len(h.Events))
		}
		b.screenshot(ctx, "history.png")
		b.click(ctx, "#history-close")
		b.waitFor(ctx, "the dialog closed", `!document.getElementById('history').open`, 5*time.Second)
	})

	t.Run("PDU view", func(t *testing.T) {
		b.waitFor(ctx, "the PDU table", `!document.getElementById('pdus').hidden &&
			!!document.querySelector('table.pdu[data-pdu="rack1"] tr[data-outlet="3"]')`, 10*time.Second)
		var row struct{ Outlet, Node, State, Watts string }
		b.mustEval(ctx, `(() => { const tr = document.querySelector('table.pdu[data-pdu="rack1"] tr[data-outlet="3"]');
			return {outlet: tr.cells[0].textContent, node: tr.cells[1].textContent, state: tr.cells[2].textContent, watts: tr.cells[3].textContent}; })()`, &row)
		snap := simN.Snapshot()
		o := snap.Reading.Outlets[0]
		if row.Outlet != "3" || row.Node != "sim-0" || row.State != o.State.String() || row.Watts != fmt.Sprintf("%d W", int(math.Round(*o.Watts))) {
			t.Errorf("outlet row %+v, want outlet 3 of sim-0 %s %.0f W", row, o.State, *o.Watts)
		}
		b.screenshot(ctx, "pdus.png")
	})

	t.Run("a read-only login has no power buttons", func(t *testing.T) {
		b.click(ctx, "#logout")
		b.waitFor(ctx, "logged out", `!document.getElementById('login').hidden`, 5*time.Second)
		type2("#login-user", "")
		type2("#login-password", readToken)
		b.click(ctx, `#login-form button[type=submit]`)
		b.waitFor(ctx, "every node for the token", `document.querySelectorAll('#nodes > li').length === 4 &&
			document.body.classList.contains('readonly') && document.getElementById('who').textContent === 'noc (ReadOnly)'`, 10*time.Second)
		var visible int
		b.mustEval(ctx, `[...document.querySelectorAll('#nodes button[data-action]')].filter((e) => e.offsetParent !== null).length`, &visible)
		if visible != 0 {
			t.Errorf("%d power buttons shown to a read-only login", visible)
		}
	})

	var csp []string
	b.mustEval(ctx, `window.__csp`, &csp)
	if len(csp) > 0 {
		t.Errorf("CSP violations: %v", csp)
	}
	for _, p := range b.takeProblems() {
		// The login refused above and the logout's 401 are the browser's
		// own network errors.
		if !strings.Contains(p, "401") {
			t.Errorf("the page reported: %s", p)
		}
	}
}
