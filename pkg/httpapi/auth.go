package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/powerjockey/powerjockey/pkg/account"
)

// Auth says who may use the server. A nil *Auth means anyone who can
// connect may (the loopback default, where the Host check and the CSRF
// rules are the defence).
type Auth struct {
	// Tokens are bearer tokens, each with one role on every node.
	Tokens []Token
	// Grants returns the nodes' BMC users, when they may log in (nil:
	// they may not). It is called per login and per request, so a reload
	// that changes a password takes effect at once, sessions included.
	Grants func() []account.Grant
	// MetricsToken, when set, is what /metrics requires as a bearer
	// token (an authenticated user is accepted too); else /metrics is open.
	MetricsToken *account.Hash
	// FailuresPerMinute is how many failed logins a source address may
	// make in a minute before it is answered 429 (0: 30; -1: no limit).
	FailuresPerMinute int
}

// Token is one bearer token, known by its hash.
type Token struct {
	Name string
	Role account.Role
	Hash account.Hash
}

// Session cookie and lifetimes of the page's logins.
const (
	// SessionCookie holds a login of the page: HttpOnly, SameSite=Strict,
	// Secure over HTTPS.
	SessionCookie = "powerjockey_session"
	// sessionIdle ends a session unused this long; sessionMax any session.
	sessionIdle = 30 * time.Minute
	sessionMax  = 12 * time.Hour
	// maxSessions bounds the table; maxSessionsPerUser one principal's
	// part of it (its least recently used session gives way).
	maxSessions        = 1024
	maxSessionsPerUser = 16
	// loginBodyLimit bounds a login request's body.
	loginBodyLimit = 4096
)

// principal is who authenticated: a bearer token (one role everywhere) or
// a BMC account (its role on each node whose credentials it holds,
// decided per request from the current grants).
type principal struct {
	user  string
	token bool
	role  account.Role // a token's
	pw    account.Hash // an account's password, hashed
}

// access is what the request may do. open is set when the server asks for
// no credentials.
type access struct {
	open  bool
	p     principal
	roles map[string]account.Role // an account's role per node
}

func (a *access) roleOn(node string) account.Role {
	switch {
	case a.open:
		return account.Administrator
	case a.p.token:
		return a.p.role
	}
	return a.roles[node]
}

// canSee: a node an account has no grant on is not shown (as Redfish hides
// systems of other credentials).
func (a *access) canSee(node string) bool { return a.roleOn(node) != "" }

// canOperate: power actions and acknowledgements need ConfigureComponents,
// as Redfish's resets do.
func (a *access) canOperate(node string) bool {
	return a.roleOn(node).Can(account.ConfigureComponents)
}

func (a *access) user() string {
	if a.open {
		return ""
	}
	return a.p.user
}

type accessKey struct{}

func accessFrom(ctx context.Context) *access {
	if a, ok := ctx.Value(accessKey{}).(*access); ok {
		return a
	}
	return &access{open: true}
}

// resolve turns a principal into access with the current grants; ok is
// false when an account's credentials are no longer any node's.
func resolve(auth *Auth, p principal) (*access, bool) {
	a := &access{p: p}
	if p.token {
		for _, t := range auth.Tokens {
			if t.Name == p.user && t.Role == p.role {
				return a, true
			}
		}
		return nil, false // the token was removed by a reload
	}
	if auth.Grants == nil {
		return nil, false
	}
	a.roles = map[string]account.Role{}
	for _, g := range auth.Grants() {
		if g.MatchesHash(p.user, p.pw) {
			a.roles[g.Node] = g.Role
		}
	}
	return a, len(a.roles) > 0
}

// tokenPrincipal finds the bearer token, in constant time per token.
func tokenPrincipal(auth *Auth, token string) (principal, bool) {
	h := sha256.Sum256([]byte(token))
	found := -1
	for i, t := range auth.Tokens {
		if subtle.ConstantTimeCompare(h[:], t.Hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return principal{}, false
	}
	t := auth.Tokens[found]
	return principal{user: t.Name, token: true, role: t.Role}, true
}

func accountPrincipal(auth *Auth, user, password string) (principal, bool) {
	p := principal{user: user, pw: account.HashPassword(password)}
	if auth.Grants == nil || user == "" {
		return p, false
	}
	_, ok := resolve(auth, p)
	return p, ok
}

// sessionTable holds the page's logins by the hash of their cookie.
// Expired ones are dropped lazily: no goroutine to stop.
type sessionTable struct {
	now func() time.Time

	mu     sync.Mutex
	byHash map[[32]byte]*session
}

type session struct {
	p           principal
	created, at time.Time
}

func newSessionTable(now func() time.Time) *sessionTable {
	return &sessionTable{now: now, byHash: map[[32]byte]*session{}}
}

func (t *sessionTable) expired(s *session, now time.Time) bool {
	return now.Sub(s.at) > sessionIdle || now.Sub(s.created) > sessionMax
}

// create opens a session for p and returns its cookie value.
func (t *sessionTable) create(p principal) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	cookie := hex.EncodeToString(b)
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	var oldest, lru *session
	var oldestKey, lruKey [32]byte
	mine := 0
	for k, s := range t.byHash {
		if t.expired(s, now) {
			delete(t.byHash, k)
			continue
		}
		if oldest == nil || s.at.Before(oldest.at) {
			oldest, oldestKey = s, k
		}
		if s.p == p {
			mine++
			if lru == nil || s.at.Before(lru.at) {
				lru, lruKey = s, k
			}
		}
	}
	switch {
	case mine >= maxSessionsPerUser:
		delete(t.byHash, lruKey)
	case len(t.byHash) >= maxSessions:
		delete(t.byHash, oldestKey)
	}
	t.byHash[sha256.Sum256([]byte(cookie))] = &session{p: p, created: now, at: now}
	return cookie
}

// lookup returns the session's principal and marks it used.
func (t *sessionTable) lookup(cookie string) (principal, bool) {
	k := sha256.Sum256([]byte(cookie))
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.byHash[k]
	if !ok {
		return principal{}, false
	}
	if t.expired(s, now) {
		delete(t.byHash, k)
		return principal{}, false
	}
	s.at = now
	return s.p, true
}

func (t *sessionTable) remove(cookie string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.byHash, sha256.Sum256([]byte(cookie)))
}

// failureLimiter counts failed logins per source address and minute.
type failureLimiter struct {
	now func() time.Time

	mu    sync.Mutex
	count map[string]*failures
}

type failures struct {
	start time.Time
	n     int
}

// maxLimiterSources bounds the table; beyond it new addresses are not
// counted until the next sweep (the audit log still limits their lines).
const maxLimiterSources = 4096

func (l *failureLimiter) limited(ip string, limit int) bool {
	if limit < 0 {
		return false
	}
	if limit == 0 {
		limit = 30
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.count[ip]
	return f != nil && l.now().Sub(f.start) < time.Minute && f.n >= limit
}

func (l *failureLimiter) fail(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	f := l.count[ip]
	if f == nil {
		if len(l.count) >= maxLimiterSources {
			for k, v := range l.count {
				if now.Sub(v.start) >= time.Minute {
					delete(l.count, k)
				}
			}
			if len(l.count) >= maxLimiterSources {
				return
			}
		}
		f = &failures{start: now}
		l.count[ip] = f
	}
	if now.Sub(f.start) >= time.Minute {
		f.start, f.n = now, 0
	}
	f.n++
}

func remoteIP(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

// authenticate finds the request's credentials (a bearer token, HTTP basic
// with a BMC account, or the session cookie). It answers the request
// itself (401, 429) and returns nil when they are missing or wrong.
func (s *server) authenticate(w http.ResponseWriter, r *http.Request, auth *Auth) *access {
	ip := remoteIP(r)
	refuse := func(user, reason string) *access {
		s.failures.fail(ip)
		s.audit.Write(r.Context(), slog.LevelWarn, "http authentication failed", r.RemoteAddr, truncate(user),
			"method", r.Method, "path", truncate(r.URL.Path), "reason", reason)
		unauthorized(w, auth, "the credentials were refused: log in again")
		return nil
	}
	var p principal
	h := r.Header.Get("Authorization")
	switch {
	case h != "":
		if s.failures.limited(ip, auth.FailuresPerMinute) {
			s.rateLimited(w, r, "")
			return nil
		}
		scheme, cred, _ := strings.Cut(h, " ")
		switch {
		case strings.EqualFold(scheme, "Bearer"):
			var ok bool
			if p, ok = tokenPrincipal(auth, strings.TrimSpace(cred)); !ok {
				return refuse("", "unknown bearer token")
			}
		case strings.EqualFold(scheme, "Basic"):
			user, pass, _ := r.BasicAuth()
			var ok bool
			if p, ok = accountPrincipal(auth, user, pass); !ok {
				return refuse(user, "no node has this username and password (or http.accounts is off)")
			}
		default:
			return refuse("", "unsupported Authorization scheme")
		}
	default:
		c, err := r.Cookie(SessionCookie)
		if err != nil {
			s.audit.Write(r.Context(), slog.LevelInfo, "http request without credentials", r.RemoteAddr, "",
				"method", r.Method, "path", truncate(r.URL.Path))
			unauthorized(w, auth, "authentication required: log in, or send Authorization: Bearer TOKEN")
			return nil
		}
		var ok bool
		if p, ok = s.sessions.lookup(c.Value); !ok {
			s.audit.Write(r.Context(), slog.LevelInfo, "http session expired or unknown", r.RemoteAddr, "",
				"method", r.Method, "path", truncate(r.URL.Path))
			unauthorized(w, auth, "the session expired: log in again")
			return nil
		}
	}
	a, ok := resolve(auth, p)
	if !ok {
		if c, err := r.Cookie(SessionCookie); err == nil {
			s.sessions.remove(c.Value)
		}
		return refuse(p.user, "the credentials are no longer configured")
	}
	return a
}

func unauthorized(w http.ResponseWriter, auth *Auth, msg string) {
	challenge := `Bearer realm="powerjockey"`
	if auth.Grants != nil {
		// No Basic challenge: a browser would answer it with its own
		// dialog instead of the page's login.
		challenge += `, charset="UTF-8"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	writeJSON(w, http.StatusUnauthorized, map[string]any{"error": msg, "login_required": true})
}

func (s *server) rateLimited(w http.ResponseWriter, r *http.Request, user string) {
	s.audit.Write(r.Context(), slog.LevelWarn, "http authentication refused: too many failed logins from this address", r.RemoteAddr,
		truncate(user), "method", r.Method, "path", truncate(r.URL.Path))
	w.Header().Set("Retry-After", "60")
	writeError(w, http.StatusTooManyRequests, "too many failed logins from this address: try again in a minute")
}

// requireAuth wraps the API: with authentication configured every request
// carries credentials, and the handler finds what they allow in its
// context.
func (s *server) requireAuth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		auth := s.auth()
		if auth == nil {
			next(w, r)
			return
		}
		a := s.authenticate(w, r, auth)
		if a == nil {
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), accessKey{}, a)))
	}
}

// forbidden refuses an action the credentials do not allow, as an audit line.
func (s *server) forbidden(w http.ResponseWriter, r *http.Request, a *access, node string) {
	s.audit.Write(r.Context(), slog.LevelWarn, "http request refused: the credentials may not operate this node", r.RemoteAddr,
		truncate(a.user()), "method", r.Method, "path", truncate(r.URL.Path), "node", node, "role", string(a.roleOn(node)))
	writeError(w, http.StatusForbidden, "your role on "+node+" ("+string(a.roleOn(node))+") may not change its power")
}

// SessionJSON is GET /api/v1/session: whether the server asks for
// credentials, and whose these are.
type SessionJSON struct {
	AuthRequired bool   `json:"auth_required"`
	User         string `json:"user,omitempty"`
	// Kind is "token" or "account".
	Kind string `json:"kind,omitempty"`
	// Role is a token's role, or an account's highest role on its nodes.
	Role string `json:"role,omitempty"`
	// Operator says whether the page may offer power buttons (for an
	// account: on at least one node; each node's own role decides).
	Operator bool `json:"operator"`
}

func sessionJSON(a *access) SessionJSON {
	if a.open {
		return SessionJSON{Operator: true, Role: string(account.Administrator)}
	}
	out := SessionJSON{AuthRequired: true, User: a.p.user, Kind: "account"}
	role := a.p.role
	if a.p.token {
		out.Kind = "token"
	} else {
		var roles []account.Role
		for _, r := range a.roles {
			roles = append(roles, r)
		}
		role = account.Highest(roles...)
	}
	out.Role = string(role)
	out.Operator = role.Can(account.ConfigureComponents)
	return out
}

func (s *server) getSession(w http.ResponseWriter, r *http.Request) {
	auth := s.auth()
	if auth == nil {
		writeJSON(w, http.StatusOK, sessionJSON(&access{open: true}))
		return
	}
	if a := s.authenticate(w, r, auth); a != nil {
		writeJSON(w, http.StatusOK, sessionJSON(a))
	}
}

// login is POST /api/v1/session: {"username": U, "password": P} for a BMC
// account, or {"token": T} (or an empty username and the token as the
// password) for a bearer token. It sets the session cookie.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	auth := s.auth()
	if auth == nil {
		writeJSON(w, http.StatusOK, sessionJSON(&access{open: true}))
		return
	}
	var body struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Token    string `json:"token"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, loginBodyLimit)).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, `want a JSON body like {"username": "admin", "password": "..."} or {"token": "..."}`)
		return
	}
	ip := remoteIP(r)
	if s.failures.limited(ip, auth.FailuresPerMinute) {
		s.rateLimited(w, r, body.Username)
		return
	}
	if body.Token == "" && body.Username == "" {
		body.Token = body.Password
	}
	var p principal
	var ok bool
	if body.Token != "" {
		p, ok = tokenPrincipal(auth, body.Token)
	} else {
		p, ok = accountPrincipal(auth, body.Username, body.Password)
	}
	if !ok {
		s.failures.fail(ip)
		reason := "no node has this username and password"
		switch {
		case body.Token != "":
			reason = "unknown token"
		case auth.Grants == nil:
			reason = "account logins are off (http.accounts)"
		}
		s.audit.Write(r.Context(), slog.LevelWarn, "http login failed", r.RemoteAddr, truncate(body.Username), "reason", reason)
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "wrong user name and password, or token", "login_required": true})
		return
	}
	a, _ := resolve(auth, p)
	cookie := s.sessions.create(p)
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: cookie, Path: "/", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: int(sessionMax / time.Second)})
	s.log.Info("http login", "audit", true, "channel", "http", "source", r.RemoteAddr, "user", p.user,
		"kind", sessionJSON(a).Kind, "role", sessionJSON(a).Role)
	writeJSON(w, http.StatusOK, sessionJSON(a))
}

// logout is DELETE /api/v1/session.
func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil {
		s.sessions.remove(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)
}

// metricsAuth guards /metrics with the metrics token when one is set.
func (s *server) metricsAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := s.auth()
		if auth == nil || auth.MetricsToken == nil {
			next.ServeHTTP(w, r)
			return
		}
		if scheme, cred, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
			h := sha256.Sum256([]byte(strings.TrimSpace(cred)))
			if subtle.ConstantTimeCompare(h[:], auth.MetricsToken[:]) == 1 {
				next.ServeHTTP(w, r)
				return
			}
		}
		if a := s.authenticate(w, r, auth); a != nil {
			next.ServeHTTP(w, r)
		}
	})
}

// truncate bounds what a client chose (a user name, a path) in a log line.
func truncate(s string) string {
	if len(s) > 128 {
		return s[:128] + "…"
	}
	return s
}
