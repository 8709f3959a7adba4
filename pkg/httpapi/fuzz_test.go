package httpapi

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzAuthRequest feeds the authentication path what a client controls:
// the Authorization header, the session cookie and a login body. Nothing
// panics, and nothing but the configured credentials is let in.
func FuzzAuthRequest(f *testing.F) {
	f.Add("Bearer "+readToken, "", `{"username":"admin","password":"hunter2"}`)
	f.Add("Basic YWRtaW46aHVudGVyMg==", "deadbeef", `{"token":"`+operatorToken+`"}`)
	f.Add("Basic !!!", "x", `{"username":`)
	f.Add("bearer  ", "", `{"username":"","password":""}`)
	f.Add("Digest x", strings.Repeat("a", 300), `[]`)
	auth := testAuth(true)
	auth.FailuresPerMinute = -1 // every input reaches the credential checks
	r := demoRack(f)
	h := NewWithOptions(r, Options{Logger: slog.New(slog.DiscardHandler), Auth: func() *Auth { return auth }, Metrics: r.metrics.Registry})
	f.Fuzz(func(t *testing.T, authz, cookie, body string) {
		for _, req := range []*http.Request{
			httptest.NewRequest("GET", "/api/v1/nodes", nil),
			httptest.NewRequest("POST", "/api/v1/session", strings.NewReader(body)),
			httptest.NewRequest("GET", "/metrics", nil),
		} {
			if authz != "" {
				req.Header.Set("Authorization", authz)
			}
			if cookie != "" {
				req.Header.Set("Cookie", SessionCookie+"="+cookie)
			}
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code == http.StatusOK && req.URL.Path == "/api/v1/nodes" {
				// Only a configured token or account gets in.
				ok := authz == "Bearer "+readToken || authz == "Bearer "+operatorToken
				if u, p, basic := req.BasicAuth(); basic {
					ok = ok || u == "admin" && p == "hunter2" || u == "viewer" && p == "look"
				}
				if !ok {
					t.Fatalf("let in with Authorization %q cookie %q", authz, cookie)
				}
			}
		}
	})
}
