package redfish

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// principal is an authenticated caller: the credentials presented, by
// HTTP basic or through a session (the password only as a SHA-256 hash). What
// the caller may see is decided on every request against the nodes'
// current credentials, so a reload that changes a password takes effect at
// once, for sessions too.
type principal struct {
	user   string
	pwHash [32]byte
}

func hashSecret(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// owns reports whether c are the principal's credentials, in constant time.
func (p *principal) owns(c Credentials) bool {
	h := hashSecret(c.Password)
	u := subtle.ConstantTimeCompare([]byte(c.Username), []byte(p.user))
	pw := subtle.ConstantTimeCompare(h[:], p.pwHash[:])
	return u&pw == 1
}

// visible returns the entries whose credentials are the principal's.
func (p *principal) visible(all []Entry) []Entry {
	var out []Entry
	for _, e := range all {
		if p.owns(e.Credentials) {
			out = append(out, e)
		}
	}
	return out
}

const authRealm = `Basic realm="powerjockey Redfish", charset="UTF-8"`

func unauthorized(detail string) *apiError {
	return newError(http.StatusUnauthorized, msg("NoValidSession")).
		withDetail(detail).
		withHeader("WWW-Authenticate", authRealm)
}

// authenticate identifies the caller by X-Auth-Token or HTTP basic and
// returns the nodes its credentials own (at least one).
func (s *Service) authenticate(r *http.Request) (*principal, []Entry, *apiError) {
	ip := remoteIP(r)
	if tok := r.Header.Get("X-Auth-Token"); tok != "" {
		sess, ok := s.sessions.lookup(tok)
		if !ok {
			s.authFailed(r, "", "invalid or expired session token")
			return nil, nil, unauthorized("The X-Auth-Token is not a valid session (it expired after " +
				s.sessions.timeout.String() + " idle, or was deleted); log in again.")
		}
		p := &principal{user: sess.user, pwHash: sess.pwHash}
		entries := p.visible(s.b.Systems())
		if len(entries) == 0 {
			s.sessions.remove(sess.id)
			s.authFailed(r, sess.user, "session credentials are no longer any node's")
			return nil, nil, unauthorized("The session's credentials are no longer accepted by any system; log in again.")
		}
		return p, entries, nil
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		if r.Header.Get("Authorization") != "" {
			s.authFailed(r, "", "unsupported Authorization header")
		} else {
			s.audit.Write(r.Context(), slog.LevelInfo, "redfish request without credentials", r.RemoteAddr, "",
				"method", r.Method, "path", truncate(r.URL.Path))
		}
		return nil, nil, unauthorized("Authentication required: HTTP basic with a node's IPMI username and password, " +
			"or an X-Auth-Token from POST " + sessionsPath + ".")
	}
	if aerr := s.limiter.check(ip); aerr != nil {
		s.rateLimited(r, user)
		return nil, nil, aerr
	}
	p := &principal{user: user, pwHash: hashSecret(pass)}
	entries := p.visible(s.b.Systems())
	if len(entries) == 0 {
		s.limiter.fail(ip)
		s.authFailed(r, user, "no node has this username and password")
		return nil, nil, unauthorized("The username and password are not those of any system.")
	}
	return p, entries, nil
}

// authFailed writes the audit line of a refused login (401): channel
// redfish, the source address, the user name presented (never the
// password or a token), rate-limited per source so that a flood of bad
// logins cannot fill the disk.
func (s *Service) authFailed(r *http.Request, user, reason string) {
	s.audit.Write(r.Context(), slog.LevelWarn, "redfish authentication failed", r.RemoteAddr, truncate(user),
		"method", r.Method, "path", truncate(r.URL.Path), "reason", reason)
}

// rateLimited writes the audit line of a login refused (429) because its
// source failed too often.
func (s *Service) rateLimited(r *http.Request, user string) {
	s.audit.Write(r.Context(), slog.LevelWarn, "redfish authentication refused: too many failed logins from this address", r.RemoteAddr, truncate(user),
		"method", r.Method, "path", truncate(r.URL.Path))
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// session is one Redfish session. Only hashes of its token and of the
// password it was created with are kept.
type session struct {
	id        string
	user      string
	pwHash    [32]byte
	tokenHash [32]byte
	remote    string
	created   time.Time
	lastUsed  time.Time
}

// errSessionLimit is returned when the session table is full.
var errSessionLimit = errors.New("session limit reached")

// sessionTable holds the service's sessions. Expired sessions are dropped
// lazily, on lookup and on create: no goroutine to stop.
type sessionTable struct {
	timeout time.Duration
	max     int
	now     func() time.Time

	mu      sync.Mutex
	byToken map[[32]byte]*session
	byID    map[string]*session
}

func newSessionTable(timeout time.Duration, max int, now func() time.Time) *sessionTable {
	return &sessionTable{timeout: timeout, max: max, now: now,
		byToken: map[[32]byte]*session{}, byID: map[string]*session{}}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// maxPerUser bounds the sessions of one set of credentials: beyond it the
// least recently used one is ended. sushy logs in again whenever a request
// is refused with 401 or 403 and never deletes the session it replaces;
// this keeps such a client from filling the table for everyone.
const maxPerUser = 16

// create opens a session for p and returns it and its token.
func (t *sessionTable) create(p *principal, remote string) (session, string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expireLocked()
	var lru *session
	n := 0
	for _, s := range t.byID {
		if s.ownedBy(p) {
			n++
			if lru == nil || s.lastUsed.Before(lru.lastUsed) {
				lru = s
			}
		}
	}
	if n >= maxPerUser {
		t.removeLocked(lru)
	} else if len(t.byID) >= t.max {
		return session{}, "", errSessionLimit
	}
	token := randomHex(32)
	now := t.now()
	s := &session{id: randomHex(16), user: p.user, pwHash: p.pwHash, tokenHash: hashSecret(token),
		remote: remote, created: now, lastUsed: now}
	t.byToken[s.tokenHash] = s
	t.byID[s.id] = s
	return *s, token, nil
}

// lookup finds the session of token and marks it used.
func (t *sessionTable) lookup(token string) (session, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.byToken[hashSecret(token)]
	if !ok {
		return session{}, false
	}
	now := t.now()
	if now.Sub(s.lastUsed) > t.timeout {
		t.removeLocked(s)
		return session{}, false
	}
	s.lastUsed = now
	return *s, true
}

// get returns the live session id.
func (t *sessionTable) get(id string) (session, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expireLocked()
	s, ok := t.byID[id]
	if !ok {
		return session{}, false
	}
	return *s, true
}

// remove ends session id; it reports whether it existed.
func (t *sessionTable) remove(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.byID[id]
	if ok {
		t.removeLocked(s)
	}
	return ok
}

// list returns the live sessions of p's credentials.
func (t *sessionTable) list(p *principal) []session {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expireLocked()
	var out []session
	for _, s := range t.byID {
		if s.ownedBy(p) {
			out = append(out, *s)
		}
	}
	return out
}

func (t *sessionTable) expireLocked() {
	now := t.now()
	for _, s := range t.byID {
		if now.Sub(s.lastUsed) > t.timeout {
			t.removeLocked(s)
		}
	}
}

func (t *sessionTable) removeLocked(s *session) {
	delete(t.byToken, s.tokenHash)
	delete(t.byID, s.id)
}

// ownedBy reports whether p presented the credentials s was created with.
func (s *session) ownedBy(p *principal) bool {
	u := subtle.ConstantTimeCompare([]byte(s.user), []byte(p.user))
	pw := subtle.ConstantTimeCompare(s.pwHash[:], p.pwHash[:])
	return u&pw == 1
}

// failureLimiter counts failed logins per source address in one-minute
// windows; an address over the limit is refused (429) until its window
// ends, good credentials included, which stops password guessing. It
// mirrors the IPMI face's auth_failures_per_minute.
type failureLimiter struct {
	perMinute int // <= 0: unlimited
	now       func() time.Time

	mu sync.Mutex
	m  map[string]*failWindow
}

type failWindow struct {
	start time.Time
	n     int
}

// maxTracked bounds the limiter's memory; beyond it, expired windows are
// dropped, and if none are, new addresses go uncounted.
const maxTracked = 4096

func (l *failureLimiter) check(ip string) *apiError {
	if l.perMinute <= 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.m[ip]
	if !ok {
		return nil
	}
	left := time.Minute - l.now().Sub(w.start)
	if left <= 0 || w.n < l.perMinute {
		return nil
	}
	secs := strconv.Itoa(int(left.Seconds()) + 1)
	return newError(http.StatusTooManyRequests, msg("ServiceTemporarilyUnavailable", secs)).
		withDetail("Too many failed logins from "+ip+"; retry in "+secs+" seconds.").
		withHeader("Retry-After", secs)
}

func (l *failureLimiter) fail(ip string) {
	if l.perMinute <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	w, ok := l.m[ip]
	if ok && now.Sub(w.start) < time.Minute {
		w.n++
		return
	}
	if !ok && len(l.m) >= maxTracked {
		for k, w := range l.m {
			if now.Sub(w.start) >= time.Minute {
				delete(l.m, k)
			}
		}
		if len(l.m) >= maxTracked {
			return
		}
	}
	l.m[ip] = &failWindow{start: now, n: 1}
}
