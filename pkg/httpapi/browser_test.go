//go:build linux

package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
)

// browserRack is demoRack grown to a screenful (22 nodes).
func browserRack(t *testing.T) *fakeRack {
	return newRack(t,
		meteredNode("compute-0", true, 142),
		meteredNode("compute-1", true, 118),
		meteredNode("compute-2", false, 95),
		meteredNode("compute-3", true, 3),
		meteredNode("compute-4", true, 131),
		meteredNode("compute-5", true, 127),
		meteredNode("compute-6", false, 90),
		meteredNode("compute-7", true, 164),
		outletNode("storage-0", true),
		outletNode("storage-1", false),
		outletNode("storage-2", true),
		outletNode("storage-3", true),
		probeNode("probe-0", true),
		probeNode("probe-1", false),
		deadNode("dead-0"),
		deadNode("dead-1"),
		manualNode("manual-0", power.On),
		manualNode("manual-1", 0),
		manualNode("manual-2", power.Off),
		busyNode("busy-0"),
		failedNode("failed-0"),
		nodeSpec{name: "strict-0", fallbackError: true},
	)
}

// flaky serves h until down is set; then it drops every connection, as a
// stopped daemon would.
func flaky(h http.Handler, down *atomic.Bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
			return
		}
		h.ServeHTTP(w, r)
	})
}

// cspWatcher records Content-Security-Policy violations in the page; DevTools
// installs it before the page's own code runs.
const cspWatcher = `window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));`

// cardJS extracts what each card shows.
const cardJS = `[...document.querySelectorAll('#nodes > li')].map((li) => ({
	name: li.dataset.node, power: li.dataset.power, hidden: li.hidden,
	badge: li.querySelector('.badge').textContent, src: li.querySelector('.src').textContent,
	serr: li.querySelector('.serr').textContent, wait: li.querySelector('.wait').textContent,
	last: li.querySelector('.last').textContent,
	busy: li.classList.contains('busy'), waiting: li.classList.contains('waiting')}))`

type card struct {
	Name, Power, Badge, Src, Serr, Wait, Last string
	Hidden, Busy, Waiting                     bool
}

func TestPageInBrowser(t *testing.T) {
	bin := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	rack := browserRack(t)
	var down atomic.Bool
	srv := httptest.NewServer(flaky(New(rack, slog.New(slog.DiscardHandler)), &down))
	defer srv.Close()

	b := startBrowser(ctx, t, bin)
	b.must(ctx, "Page.addScriptToEvaluateOnNewDocument", map[string]any{"source": cspWatcher}, nil)
	b.must(ctx, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 1280, "height": 800,
		"deviceScaleFactor": 1, "mobile": false}, nil)
	b.must(ctx, "Page.navigate", map[string]any{"url": srv.URL + "/"}, nil)
	b.waitFor(ctx, "the rack rendered", `document.querySelectorAll('#nodes > li').length === 22 &&
		document.getElementById('conn').dataset.state === 'live'`, 15*time.Second)

	t.Run("CSP is enforced", func(t *testing.T) {
		// A positive control: an inline script added at run time must not run.
		var ran bool
		b.mustEval(ctx, `(() => { const s = document.createElement('script');
			s.textContent = 'window.__inlineRan = true'; document.head.appendChild(s);
			return window.__inlineRan === true; })()`, &ran)
		if ran {
			t.Error("an inline script ran: the page is served without its CSP")
		}
		b.waitFor(ctx, "the CSP violation", `window.__csp.some((v) => v.startsWith('script-src'))`, 5*time.Second)
		b.mustEval(ctx, `window.__csp = []`, nil)
		b.takeProblems() // the control's own violation report
	})

	t.Run("cards show the API's truth", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/api/v1/nodes")
		if err != nil {
			t.Fatal(err)
		}
		var truth []node.View
		json.NewDecoder(resp.Body).Decode(&truth)
		resp.Body.Close()
		var cards []card
		b.mustEval(ctx, cardJS, &cards)
		if len(cards) != len(truth) {
			t.Fatalf("%d cards for %d nodes", len(cards), len(truth))
		}
		for i, n := range truth {
			c := cards[i]
			if c.Name != n.Name || c.Power != n.Power.String() || c.Badge != strings.ToUpper(n.Power.String()) || c.Hidden {
				t.Errorf("card %d: %+v, want node %s power %s", i, c, n.Name, n.Power)
			}
			if n.Source != "" && !strings.Contains(c.Src, "source: "+string(n.Source)) {
				t.Errorf("%s: source line %q, want %s", n.Name, c.Src, n.Source)
			}
			if n.Watts != nil && !strings.Contains(c.Src, fmt.Sprintf("%.0f W", *n.Watts)) {
				t.Errorf("%s: source line %q lacks %.0f W", n.Name, c.Src, *n.Watts)
			}
			if (n.StatusErr != "") != strings.Contains(c.Serr, "did not answer") {
				t.Errorf("%s: status error %q, want %q", n.Name, c.Serr, n.StatusErr)
			}
			if c.Busy != n.Busy || (n.Busy && !strings.Contains(c.Last, "running since")) {
				t.Errorf("%s: busy %v, last %q; want busy %v", n.Name, c.Busy, c.Last, n.Busy)
			}
			if a := n.LastAction; a != nil && !n.Busy && !strings.Contains(c.Last, a.Action.String()+" via "+a.Means+", "+string(a.Result)) {
				t.Errorf("%s: last action %q, want %s via %s, %s", n.Name, c.Last, a.Action, a.Means, a.Result)
			}
			if m := n.Manual; (m != nil) != c.Waiting || (m != nil && !strings.Contains(c.Wait, "power "+strings.ToUpper(m.Action.String())+" since")) {
				t.Errorf("%s: waiting %v %q, want %+v", n.Name, c.Waiting, c.Wait, m)
			}
		}
		byName := map[string]card{}
		for _, c := range cards {
			byName[c.Name] = c
		}
		for name, want := range map[string]string{"compute-0": "on", "compute-2": "off", "compute-3": "off",
			"dead-0": "unknown", "manual-0": "on", "manual-1": "unknown", "probe-1": "off"} {
			if byName[name].Power != want {
				t.Errorf("%s shows %q, want %q", name, byName[name].Power, want)
			}
		}
		if c := byName["failed-0"]; !strings.Contains(c.Last, "error: power on failed-0: snmp set") {
			t.Errorf("failed-0: last action %q", c.Last)
		}

		var banner struct {
			Hidden  bool
			Heading string
			Items   []string
		}
		b.mustEval(ctx, `({hidden: document.getElementById('manual').hidden,
			heading: document.getElementById('manual-h').textContent,
			items: [...document.querySelectorAll('#manual-list li')].map((li) => li.textContent.replace(/\s+/g, ' ').trim())})`, &banner)
		if banner.Hidden || len(banner.Items) != 2 ||
			!strings.HasPrefix(banner.Items[0], "power manual-0 ON since ") || !strings.HasSuffix(banner.Items[0], " Done") ||
			!strings.HasPrefix(banner.Items[1], "power manual-2 OFF since ") {
			t.Errorf("manual banner: %+v", banner)
		}
		var summary string
		b.mustEval(ctx, `document.getElementById('summary').textContent`, &summary)
		if want := "22 nodes: 11 on, 7 off, 4 unknown, 1 acting, 2 waiting for a human"; summary != want {
			t.Errorf("summary %q, want %q", summary, want)
		}
		b.screenshot(ctx, "rack.png")
		b.must(ctx, "Emulation.setEmulatedMedia", map[string]any{"features": []map[string]string{
			{"name": "prefers-color-scheme", "value": "dark"}}}, nil)
		b.screenshot(ctx, "rack-dark.png")
		b.must(ctx, "Emulation.setEmulatedMedia", map[string]any{"features": []map[string]string{}}, nil)
	})

	t.Run("Done acknowledges a manual action", func(t *testing.T) {
		b.click(ctx, `#manual-list li[data-node="manual-0"] button.done`)
		b.waitFor(ctx, "manual-0 gone from the banner", `!document.querySelector('#manual-list li[data-node="manual-0"]') &&
			!document.querySelector('#nodes li[data-node="manual-0"]').classList.contains('waiting')`, 5*time.Second)
		if m := rack.byName["manual-0"].Snapshot().Persisted.Manual; m != nil {
			t.Errorf("the node still waits: %+v", m)
		}
		if rack.byName["manual-2"].Snapshot().Persisted.Manual == nil {
			t.Error("manual-2 was acknowledged too")
		}
		select {
		case d := <-b.dialogs:
			t.Errorf("Done asked %q; it needs no confirmation", d)
		default:
		}
	})

	feed := rack.feeds["compute-0"]
	offButton := `#nodes li[data-node="compute-0"] button[data-action="off"]`
	t.Run("a refused confirm does nothing", func(t *testing.T) {
		b.acceptDialogs.Store(false)
		defer b.acceptDialogs.Store(true)
		b.click(ctx, offButton)
		select {
		case d := <-b.dialogs:
			if !strings.HasPrefix(d, "Power OFF compute-0?") {
				t.Errorf("confirm asked %q", d)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no confirm dialog")
		}
		time.Sleep(500 * time.Millisecond)
		if got := feed.Journal().Actions(); len(got) != 0 {
			t.Errorf("the PDU was switched: %v", got)
		}
	})

	t.Run("power off after confirm", func(t *testing.T) {
		b.click(ctx, offButton)
		select {
		case <-b.dialogs:
		case <-time.After(5 * time.Second):
			t.Fatal("no confirm dialog")
		}
		b.waitFor(ctx, "compute-0 off", `(() => { const li = document.querySelector('#nodes li[data-node="compute-0"]');
			return li.dataset.power === 'off' && li.querySelector('.last').textContent.includes('off via pdu, ok'); })()`, 5*time.Second)
		if got := feed.Journal().Actions(); !slices.Equal(got, []power.Action{power.Off}) {
			t.Errorf("PDU calls %v, want [off]", got)
		}
	})

	t.Run("a failed action is reported", func(t *testing.T) {
		setDoErr(rack.feeds["storage-1"], fmt.Errorf("snmp set: %w", power.ErrTimeout))
		b.click(ctx, `#nodes li[data-node="storage-1"] button[data-action="on"]`)
		<-b.dialogs
		b.waitFor(ctx, "the error", `(() => { const e = document.getElementById('error');
			return !e.hidden && e.textContent.includes('power on storage-1 failed') && e.textContent.includes('did not answer'); })()`, 5*time.Second)
	})

	t.Run("filter", func(t *testing.T) {
		visible := func() (names []string) {
			t.Helper()
			var cards []card
			b.mustEval(ctx, cardJS, &cards)
			for _, c := range cards {
				if !c.Hidden {
					names = append(names, c.Name)
				}
			}
			return names
		}
		b.mustEval(ctx, `document.getElementById('q').focus()`, nil)
		b.must(ctx, "Input.insertText", map[string]any{"text": "storage"}, nil)
		if got := visible(); !slices.Equal(got, []string{"storage-0", "storage-1", "storage-2", "storage-3"}) {
			t.Errorf("filter storage: %v", got)
		}
		var shown string
		b.mustEval(ctx, `document.getElementById('shown').textContent`, &shown)
		if shown != "showing 4 of 22" {
			t.Errorf("shown %q", shown)
		}
		b.mustEval(ctx, `(() => { const q = document.getElementById('q'); q.value = '';
			q.dispatchEvent(new Event('input'));
			const s = document.getElementById('state'); s.value = 'unknown'; s.dispatchEvent(new Event('change')); })()`, nil)
		if got := visible(); !slices.Equal(got, []string{"dead-0", "dead-1", "manual-1", "strict-0"}) {
			t.Errorf("filter state unknown: %v", got)
		}
		// The filter holds across polls.
		time.Sleep(2500 * time.Millisecond)
		if got := visible(); len(got) != 4 {
			t.Errorf("after a poll: %v", got)
		}
		b.mustEval(ctx, `(() => { const s = document.getElementById('state'); s.value = 'manual';
			s.dispatchEvent(new Event('change')); })()`, nil)
		if got := visible(); !slices.Equal(got, []string{"manual-2"}) {
			t.Errorf("filter manual: %v", got)
		}
		b.mustEval(ctx, `(() => { const s = document.getElementById('state'); s.value = '';
			s.dispatchEvent(new Event('change')); })()`, nil)
		if got := visible(); len(got) != 22 {
			t.Errorf("no filter: %d visible", len(got))
		}
	})

	t.Run("disconnected and back", func(t *testing.T) {
		down.Store(true)
		b.waitFor(ctx, "the disconnected state", `document.getElementById('conn').dataset.state === 'down' &&
			document.getElementById('conn').textContent.startsWith('Disconnected') &&
			document.body.classList.contains('offline') && !document.getElementById('retry').hidden`, 10*time.Second)
		b.screenshot(ctx, "disconnected.png")
		// The last known rack stays on screen.
		var n int
		b.mustEval(ctx, `document.querySelectorAll('#nodes > li').length`, &n)
		if n != 22 {
			t.Errorf("%d cards while disconnected", n)
		}
		down.Store(false)
		b.waitFor(ctx, "reconnection", `document.getElementById('conn').dataset.state === 'live' &&
			!document.body.classList.contains('offline')`, 15*time.Second)
	})

	var csp []string
	b.mustEval(ctx, `window.__csp`, &csp)
	if len(csp) > 0 {
		t.Errorf("CSP violations: %v", csp)
	}
	if p := b.takeProblems(); len(p) > 0 {
		t.Errorf("the page reported problems:\n%s", strings.Join(p, "\n"))
	}
}

// TestPageInBrowserManyNodes checks the page stays cheap with 1,000 nodes:
// a poll that changes nothing touches no card, one that changes one node
// touches only its card.
func TestPageInBrowserManyNodes(t *testing.T) {
	bin := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const count = 1000
	nodes := make([]node.View, count)
	for i := range nodes {
		w := 100.0 + float64(i%50)
		nodes[i] = node.View{Name: fmt.Sprintf("node-%04d", i), GUID: node.NewGUID(), Power: power.StateOn, Source: power.SourceMetering,
			Watts: &w, Recorded: power.StateOn, Boot: node.BootView{Device: "none"}}
	}
	var current atomic.Pointer[[]byte]
	var polls atomic.Int64
	publish := func() {
		b, _ := json.Marshal(nodes)
		current.Store(&b)
	}
	publish()
	page := New(demoRack(t), slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/nodes" {
			polls.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.Write(*current.Load())
			return
		}
		page.ServeHTTP(w, r)
	}))
	defer srv.Close()

	b := startBrowser(ctx, t, bin)
	b.must(ctx, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 1280, "height": 800,
		"deviceScaleFactor": 1, "mobile": false}, nil)
	start := time.Now()
	b.must(ctx, "Page.navigate", map[string]any{"url": srv.URL + "/"}, nil)
	b.waitFor(ctx, "1000 cards", fmt.Sprintf(`document.querySelectorAll('#nodes > li').length === %d`, count), 20*time.Second)
	t.Logf("%d cards rendered %v after navigation", count, time.Since(start).Round(time.Millisecond))

	// Count DOM mutations inside the grid from now on.
	b.mustEval(ctx, `window.__mut = []; new MutationObserver((rs) => { for (const r of rs) window.__mut.push(r.type + ' ' +
		(r.target.closest ? (r.target.closest('li') || {}).dataset?.node : r.target.parentElement.closest('li').dataset.node)); })
		.observe(document.getElementById('nodes'), {subtree: true, childList: true, attributes: true, characterData: true});
		// What screen readers hear: the live regions must stay quiet too.
		window.__live = []; const lo = new MutationObserver((rs) => { for (const r of rs) window.__live.push(r.target.textContent); });
		for (const id of ['conn-text', 'announce']) lo.observe(document.getElementById(id), {subtree: true, childList: true, characterData: true});`, nil)
	waitPolls := func(n int64) {
		t.Helper()
		target := polls.Load() + n
		for polls.Load() < target {
			if ctx.Err() != nil {
				t.Fatal("no poll")
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond) // let the page render the answer
	}
	waitPolls(2)
	var muts []string
	b.mustEval(ctx, `window.__mut.splice(0)`, &muts)
	if len(muts) != 0 {
		t.Errorf("polls that changed nothing mutated the grid %d times: %v", len(muts), muts[:min(len(muts), 10)])
	}

	var live []string
	b.mustEval(ctx, `window.__live.splice(0)`, &live)
	if len(live) != 0 {
		t.Errorf("polls that changed nothing changed the live regions: %q", live)
	}

	nodes[500].Power, nodes[500].Source, nodes[500].Watts = power.StateOff, power.SourceOutlet, nil
	publish()
	waitPolls(1)
	b.mustEval(ctx, `window.__mut.splice(0)`, &muts)
	for _, m := range muts {
		if !strings.HasSuffix(m, " node-0500") {
			t.Errorf("a poll that changed node-0500 touched %s", m)
		}
	}
	if len(muts) == 0 || len(muts) > 12 {
		t.Errorf("%d mutations for one node's change: %v", len(muts), muts)
	}
	b.mustEval(ctx, `window.__live.splice(0)`, &live)
	if !slices.Equal(live, []string{"node-0500 is now off"}) {
		t.Errorf("announced %q, want node-0500 is now off", live)
	}
	var power string
	b.mustEval(ctx, `document.querySelector('#nodes li[data-node="node-0500"]').dataset.power`, &power)
	if power != "off" {
		t.Errorf("node-0500 shows %q", power)
	}
	if p := b.takeProblems(); len(p) > 0 {
		t.Errorf("the page reported problems:\n%s", strings.Join(p, "\n"))
	}
}
