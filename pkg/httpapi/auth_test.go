package httpapi

import (
	"crypto/sha256"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/account"
	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/test/testkit"
)

const (
	readToken     = "read-only-token-0123456789"
	operatorToken = "operator-token-0123456789"
	metricsToken  = "metrics-token-0123456789"
)

// testAuth: a read-only and an operator token, a metrics token, and the
// BMC accounts of the demo rack: admin (Administrator) on compute-0 and
// manual-0, viewer (ReadOnly) on compute-1.
func testAuth(metrics bool) *Auth {
	a := &Auth{
		Tokens: []Token{{Name: "noc", Role: account.ReadOnly, Hash: sha256.Sum256([]byte(readToken))},
			{Name: "ops", Role: account.Operator, Hash: sha256.Sum256([]byte(operatorToken))}},
		Grants: func() []account.Grant {
			return []account.Grant{
				{Node: "compute-0", Username: "admin", Password: "hunter2", Role: account.Administrator},
				{Node: "manual-0", Username: "admin", Password: "hunter2", Role: account.Administrator},
				{Node: "compute-1", Username: "viewer", Password: "look", Role: account.ReadOnly},
			}
		},
		FailuresPerMinute: 5,
	}
	if metrics {
		h := account.HashPassword(metricsToken)
		a.MetricsToken = &h
	}
	return a
}

type authClient struct {
	*client
	clock *testkit.Clock
	logs  *testkit.Log
}

func newAuthClient(t *testing.T, auth *Auth) *authClient {
	clock := testkit.NewClock(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	logs := &testkit.Log{}
	r := demoRack(t)
	h := NewWithOptions(r, Options{Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Auth: func() *Auth { return auth }, Now: clock.Now, Metrics: r.metrics.Registry})
	return &authClient{client: &client{t: t, h: h}, clock: clock, logs: logs}
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

func names(t *testing.T, w *httptest.ResponseRecorder) []string {
	t.Helper()
	var out []string
	for _, n := range decode[[]node.View](t, w) {
		out = append(out, n.Name)
	}
	return out
}

func TestAuthRequired(t *testing.T) {
	c := newAuthClient(t, testAuth(false))
	for _, path := range []string{"/api/v1/nodes", "/api/v1/nodes/compute-0", "/api/v1/nodes/compute-0/history", "/api/v1/pdus", "/api/v1/version", "/api/v1/session"} {
		w := c.do("GET", path, "")
		wantStatus(t, w, http.StatusUnauthorized)
		if !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer ") {
			t.Errorf("%s: WWW-Authenticate %q", path, w.Header().Get("WWW-Authenticate"))
		}
	}
	w := c.post("/api/v1/nodes/compute-0/power", `{"action":"off"}`)
	wantStatus(t, w, http.StatusUnauthorized)
	// What needs no credentials: health, the page (it logs in), open metrics.
	for _, path := range []string{"/healthz", "/", "/static/app.js", "/metrics"} {
		wantStatus(t, c.do("GET", path, ""), http.StatusOK)
	}
	if !strings.Contains(c.logs.String(), `msg="http request without credentials" audit=true channel=http`) {
		t.Errorf("no audit line:\n%s", c.logs)
	}
}

func TestBearerTokens(t *testing.T) {
	c := newAuthClient(t, testAuth(false))
	w := c.do("GET", "/api/v1/nodes", "", bearer(readToken)...)
	wantStatus(t, w, 200)
	if got := names(t, w); len(got) != 14 {
		t.Errorf("a token sees %d nodes, want all 14", len(got))
	}
	// ReadOnly may not switch.
	w = c.do("POST", "/api/v1/nodes/compute-0/power", `{"action":"off"}`, "Content-Type", "application/json", "Authorization", "Bearer "+readToken)
	wantStatus(t, w, http.StatusForbidden)
	if !strings.Contains(c.logs.String(), `msg="http request refused: the credentials may not operate this node" audit=true channel=http source=192.0.2.1:1234 user=noc`) {
		t.Errorf("no audit line for the 403:\n%s", c.logs)
	}
	// Operator may; the node records who.
	w = c.do("POST", "/api/v1/nodes/compute-0/power", `{"action":"off"}`, "Content-Type", "application/json", "Authorization", "Bearer "+operatorToken)
	wantStatus(t, w, 200)
	w = c.do("GET", "/api/v1/nodes/compute-0/history", "", bearer(operatorToken)...)
	h := decode[HistoryJSON](t, w)
	last := h.Events[len(h.Events)-1]
	if last.By == nil || last.By.User != "ops" || last.By.Channel != "http" {
		t.Errorf("the event does not say who: %+v", last)
	}
	// A wrong token is refused and audited; the CSRF rule still holds
	// for a token (it is checked first).
	wantStatus(t, c.do("GET", "/api/v1/nodes", "", bearer("wrong-token-0123456789")...), http.StatusUnauthorized)
	if !strings.Contains(c.logs.String(), `msg="http authentication failed" audit=true channel=http source=192.0.2.1:1234 user="" method=GET path=/api/v1/nodes reason="unknown bearer token"`) {
		t.Errorf("no audit line for the refused token:\n%s", c.logs)
	}
	wantStatus(t, c.do("POST", "/api/v1/nodes/compute-0/power", `{"action":"on"}`, "Content-Type", "text/plain", "Authorization", "Bearer "+operatorToken), http.StatusForbidden)
}

func TestAccountLogin(t *testing.T) {
	c := newAuthClient(t, testAuth(false))
	w := c.post("/api/v1/session", `{"username":"admin","password":"hunter2"}`)
	wantStatus(t, w, 200)
	if s := decode[SessionJSON](t, w); s.User != "admin" || s.Kind != "account" || s.Role != "Administrator" || !s.Operator {
		t.Errorf("session %+v", s)
	}
	cookie := w.Result().Cookies()[0]
	if cookie.Name != SessionCookie || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" {
		t.Errorf("cookie %+v", cookie)
	}
	withCookie := []string{"Cookie", SessionCookie + "=" + cookie.Value}
	// The account sees its own nodes only; another's is not revealed.
	w = c.do("GET", "/api/v1/nodes", "", withCookie...)
	if got := names(t, w); !slices.Equal(got, []string{"compute-0", "manual-0"}) {
		t.Errorf("admin sees %v", got)
	}
	wantStatus(t, c.do("GET", "/api/v1/nodes/compute-1", "", withCookie...), http.StatusNotFound)
	w = c.do("GET", "/api/v1/pdus", "", withCookie...)
	for _, p := range decode[[]PDUJSON](t, w) {
		for _, o := range p.Outlets {
			if o.Node != "compute-0" && o.Node != "manual-0" {
				t.Errorf("the PDU view shows %s's outlet", o.Node)
			}
		}
	}
	// POSTs with the cookie keep their CSRF defence.
	wantStatus(t, c.do("POST", "/api/v1/nodes/manual-0/acknowledge", "", withCookie...), http.StatusForbidden)
	wantStatus(t, c.do("POST", "/api/v1/nodes/manual-0/acknowledge", "", append(withCookie, RequestedByHeader, "powerjockey")...), 200)

	// A read-only account may read, not switch.
	w = c.post("/api/v1/session", `{"username":"viewer","password":"look"}`)
	wantStatus(t, w, 200)
	viewer := []string{"Cookie", SessionCookie + "=" + w.Result().Cookies()[0].Value, "Content-Type", "application/json"}
	wantStatus(t, c.do("POST", "/api/v1/nodes/compute-1/power", `{"action":"off"}`, viewer...), http.StatusForbidden)

	// Idle for longer than the session lives: log in again.
	c.clock.Advance(sessionIdle + time.Second)
	w = c.do("GET", "/api/v1/nodes", "", withCookie...)
	wantStatus(t, w, http.StatusUnauthorized)

	// Logout ends a session.
	w = c.post("/api/v1/session", `{"username":"","password":"`+readToken+`"}`)
	wantStatus(t, w, 200)
	if s := decode[SessionJSON](t, w); s.User != "noc" || s.Kind != "token" || s.Operator {
		t.Errorf("token login %+v", s)
	}
	tokCookie := []string{"Cookie", SessionCookie + "=" + w.Result().Cookies()[0].Value}
	wantStatus(t, c.do("GET", "/api/v1/session", "", tokCookie...), 200)
	wantStatus(t, c.do("DELETE", "/api/v1/session", "", append(tokCookie, RequestedByHeader, "powerjockey")...), http.StatusNoContent)
	wantStatus(t, c.do("GET", "/api/v1/session", "", tokCookie...), http.StatusUnauthorized)

	// HTTP basic with an account, for scripts.
	r := httptest.NewRequest("GET", "/api/v1/nodes", nil)
	r.SetBasicAuth("viewer", "look")
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, r)
	if got := names(t, rec); !slices.Equal(got, []string{"compute-1"}) {
		t.Errorf("basic viewer sees %v", got)
	}
}

func TestLoginRateLimit(t *testing.T) {
	c := newAuthClient(t, testAuth(false))
	for i := range 5 {
		wantStatus(t, c.post("/api/v1/session", `{"username":"admin","password":"guess`+string(rune('a'+i))+`"}`), http.StatusUnauthorized)
	}
	// Even the right password is refused from this address for a minute.
	w := c.post("/api/v1/session", `{"username":"admin","password":"hunter2"}`)
	wantStatus(t, w, http.StatusTooManyRequests)
	if w.Header().Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	logs := c.logs.String()
	if !strings.Contains(logs, `msg="http login failed" audit=true channel=http source=192.0.2.1:1234 user=admin reason="no node has this username and password"`) ||
		!strings.Contains(logs, `msg="http authentication refused: too many failed logins from this address"`) {
		t.Errorf("audit lines:\n%s", logs)
	}
	if strings.Contains(logs, "guess") || strings.Contains(logs, "hunter2") {
		t.Errorf("a password is in the log:\n%s", logs)
	}
	c.clock.Advance(time.Minute)
	wantStatus(t, c.post("/api/v1/session", `{"username":"admin","password":"hunter2"}`), 200)
}

func TestMetricsToken(t *testing.T) {
	c := newAuthClient(t, testAuth(true))
	wantStatus(t, c.do("GET", "/metrics", ""), http.StatusUnauthorized)
	wantStatus(t, c.do("GET", "/metrics", "", bearer("not-the-metrics-token")...), http.StatusUnauthorized)
	w := c.do("GET", "/metrics", "", bearer(metricsToken)...)
	wantStatus(t, w, 200)
	if !strings.Contains(w.Body.String(), "powerjockey_build_info{") {
		t.Error("no metrics")
	}
	wantStatus(t, c.do("GET", "/metrics", "", bearer(readToken)...), 200)
	// The metrics token is for /metrics only.
	wantStatus(t, c.do("GET", "/api/v1/nodes", "", bearer(metricsToken)...), http.StatusUnauthorized)
}
