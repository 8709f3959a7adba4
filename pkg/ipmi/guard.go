package ipmi

import (
	"context"
	"encoding/binary"
	"hash/fnv"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/protocol"
)

// GuardConfig tunes the per-source protections shared by all endpoints.
type GuardConfig struct {
	// AuthFailuresPerMinute is how many failed authentications a source
	// address may accumulate (leaking at that rate) before its new
	// handshakes are dropped; <= 0 disables the limit.
	AuthFailuresPerMinute int
	// HalfOpenPerSource is how many handshakes a source may leave
	// unfinished (leaking over HalfOpenWindow) before its new ones are
	// dropped; it keeps a flood of abandoned Open Session requests from
	// evicting other consoles' handshakes. <= 0 disables the limit.
	HalfOpenPerSource int
	HalfOpenWindow    time.Duration
}

// DefaultGuardConfig returns the defaults documented in the README.
func DefaultGuardConfig() GuardConfig {
	return GuardConfig{AuthFailuresPerMinute: 30, HalfOpenPerSource: 64, HalfOpenWindow: 10 * time.Second}
}

// maxSources bounds the per-source table against spoofed-address floods.
const maxSources = 1 << 16

// rakpTimeout is how long a console has between our RAKP 2 and its RAKP 3.
// ipmitool and freeipmi verify RAKP 2 against the password and simply stop
// when it does not match, so a handshake abandoned here is, in practice, a
// wrong password (or a flood).
const rakpTimeout = 5 * time.Second

// Guard tracks authentication failures and unfinished handshakes per
// source address, across every endpoint.
type Guard struct {
	cfg     GuardConfig
	mu      sync.Mutex
	sources map[sourceKey]*sourceState
	// awaitingRAKP3 holds handshakes that got a RAKP 2 and owe a RAKP 3.
	awaitingRAKP3 map[rakpKey]rakpEntry
}

type rakpKey struct {
	ep        *Endpoint
	sessionID uint32 // the BMC's (managed system) session ID
}

type rakpEntry struct {
	src netip.Addr
	at  time.Time
}

// sourceKey is one source address talking to one endpoint. Limits are per
// endpoint: Ironic reaches every node from one conductor address, and a
// wrong password configured for one node must not lock it out of the others.
type sourceKey struct {
	ep   *Endpoint
	addr netip.Addr
}

type sourceState struct {
	failures float64 // leaky bucket of failed authentications
	halfOpen float64 // leaky bucket of unfinished handshakes
	last     time.Time
}

// NewGuard returns a guard with cfg.
func NewGuard(cfg GuardConfig) *Guard {
	if cfg.HalfOpenWindow <= 0 {
		cfg.HalfOpenWindow = 10 * time.Second
	}
	return &Guard{cfg: cfg, sources: make(map[sourceKey]*sourceState), awaitingRAKP3: make(map[rakpKey]rakpEntry)}
}

// Run counts abandoned handshakes as they time out, until ctx ends.
func (g *Guard) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			g.sweepAbandoned(now)
		}
	}
}

// pendingSession reports whether sess never completed its handshake. The
// state is written under the session's ProcMu, which the handshake holds
// only briefly; a handshake five seconds old is long finished with it.
func pendingSession(sess *bmc.Session) bool {
	sess.ProcMu.Lock()
	defer sess.ProcMu.Unlock()
	return sess.State == bmc.SessionStatePending
}

func (g *Guard) rakp1(ep *Endpoint, sessionID uint32, src netip.Addr) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.awaitingRAKP3) >= maxSources {
		clear(g.awaitingRAKP3) // a spoofed flood: forget rather than grow
	}
	g.awaitingRAKP3[rakpKey{ep, sessionID}] = rakpEntry{src: src, at: time.Now()}
}

func (g *Guard) rakp3(ep *Endpoint, sessionID uint32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.awaitingRAKP3, rakpKey{ep, sessionID})
}

// sweepAbandoned turns handshakes whose RAKP 3 never came into failures.
func (g *Guard) sweepAbandoned(now time.Time) {
	var expired []rakpKey
	var sources []netip.Addr
	g.mu.Lock()
	for k, e := range g.awaitingRAKP3 {
		if now.Sub(e.at) > rakpTimeout {
			delete(g.awaitingRAKP3, k)
			expired = append(expired, k)
			sources = append(sources, e.src)
		}
	}
	g.mu.Unlock()
	var failed []rakpKey
	for i, k := range expired {
		// Only a handshake that reached RAKP 2 for a real session was
		// abandoned; a RAKP 1 naming no session is junk, not a login.
		if sess, err := k.ep.bmc.Sessions.Get(k.sessionID); err != nil || !pendingSession(sess) {
			continue
		}
		g.mu.Lock()
		s := g.state(sourceKey{k.ep, sources[i]}, now)
		s.halfOpen = max(0, s.halfOpen-1)
		s.failures++
		g.mu.Unlock()
		failed = append(failed, k)
	}
	for _, k := range failed {
		k.ep.obs.AuthFailure(k.ep.Name())
		k.ep.log.Warn("authentication failed: handshake abandoned after RAKP 2 (wrong password or unknown user)")
	}
}

// state returns src's buckets, drained for the time since last seen. g.mu must be held.
func (g *Guard) state(src sourceKey, now time.Time) *sourceState {
	s, ok := g.sources[src]
	if !ok {
		if len(g.sources) >= maxSources {
			g.sweepLocked(now)
		}
		s = &sourceState{last: now}
		g.sources[src] = s
		return s
	}
	dt := now.Sub(s.last).Seconds()
	s.last = now
	if g.cfg.AuthFailuresPerMinute > 0 {
		s.failures = max(0, s.failures-dt*float64(g.cfg.AuthFailuresPerMinute)/60)
	}
	if g.cfg.HalfOpenPerSource > 0 {
		s.halfOpen = max(0, s.halfOpen-dt*float64(g.cfg.HalfOpenPerSource)/g.cfg.HalfOpenWindow.Seconds())
	}
	return s
}

// sweepLocked forgets sources idle long enough for both buckets to be
// empty; if that frees nothing (a spoofed flood), it forgets everything
// rather than grow without bound.
func (g *Guard) sweepLocked(now time.Time) {
	for a, s := range g.sources {
		if now.Sub(s.last) > time.Minute+g.cfg.HalfOpenWindow {
			delete(g.sources, a)
		}
	}
	if len(g.sources) >= maxSources {
		clear(g.sources)
	}
}

// allowHandshake reports whether src may start a new session, and if not, why.
func (g *Guard) allowHandshake(src sourceKey) (bool, string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.state(src, time.Now())
	// Refuse when one more would exceed the limit; the buckets leak
	// continuously, so a full one frees a place after 1/limit of its window.
	if g.cfg.AuthFailuresPerMinute > 0 && s.failures > float64(g.cfg.AuthFailuresPerMinute-1) {
		return false, "auth_rate_limited"
	}
	if g.cfg.HalfOpenPerSource > 0 && s.halfOpen > float64(g.cfg.HalfOpenPerSource-1) {
		return false, "half_open_limited"
	}
	return true, ""
}

func (g *Guard) handshakeOpened(src sourceKey) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.state(src, time.Now()).halfOpen++
}

func (g *Guard) handshakeDone(src sourceKey, failed bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.state(src, time.Now())
	s.halfOpen = max(0, s.halfOpen-1)
	if failed {
		s.failures++
	}
}

// guardedConn wraps an endpoint's socket. On the way in it drops (and
// counts) datagrams go-ipmi would only discard later, after spawning a
// goroutine for each, and handshakes from sources over their limits; on
// the way out it watches handshake results to keep the guard's books.
type guardedConn struct {
	udp   udpConn
	guard *Guard
	ep    *Endpoint

	// seen remembers recent in-session datagrams per RMCP+ session, to drop
	// byte-identical copies: go-ipmi accepts any sequence number inside the
	// window, including one already processed, so a verbatim resend or a
	// captured packet would run its command again. Only the serve loop
	// touches it.
	seen map[uint32]*seenRing
}

// seenRing holds digests of the last datagrams of one session.
type seenRing struct {
	digests [32]uint64
	next    int
	last    time.Time
}

func (r *seenRing) contains(d uint64) bool {
	for _, x := range r.digests {
		if x == d {
			return true
		}
	}
	return false
}

func (r *seenRing) add(d uint64, now time.Time) {
	r.digests[r.next] = d
	r.next = (r.next + 1) % len(r.digests)
	r.last = now
}

// udpConn is what the guard needs of a socket; *net.UDPConn implements it,
// and tests substitute an in-memory one.
type udpConn interface {
	ReadFromUDP(b []byte) (int, *net.UDPAddr, error)
	WriteToUDP(b []byte, addr *net.UDPAddr) (int, error)
	Close() error
	LocalAddr() net.Addr
}

func newGuardedConn(udp udpConn, g *Guard, ep *Endpoint) *guardedConn {
	return &guardedConn{udp: udp, guard: g, ep: ep, seen: map[uint32]*seenRing{}}
}

// replayed reports whether an in-session RMCP+ datagram is a byte-identical
// copy of one already received, remembering it otherwise.
func (c *guardedConn) replayed(pkt []byte) bool {
	sessionID := binary.LittleEndian.Uint32(pkt[6:10])
	h := fnv.New64a()
	h.Write(pkt)
	d := h.Sum64()
	now := time.Now()
	r := c.seen[sessionID]
	if r == nil {
		if len(c.seen) >= 256 {
			c.pruneSeen(now)
		}
		r = &seenRing{}
		c.seen[sessionID] = r
	} else if r.contains(d) {
		return true
	}
	r.add(d, now)
	return false
}

// reclaimIdleSession makes room for a new RMCP+ session when the table is
// full of established sessions that have gone quiet: consoles killed
// mid-session (a timed-out ipmitool, a crashed script) never close theirs,
// and go-ipmi would refuse everyone until the idle timeout. The session
// silent for longest goes, if it has been silent for at least the
// endpoint's reclaim delay. go-ipmi itself evicts pending (half-open)
// sessions when full.
func (c *guardedConn) reclaimIdleSession() {
	store := c.ep.bmc.Sessions
	if store.Count() < store.Cap() {
		return
	}
	var idlest uint32
	var since time.Time
	for id, r := range c.seen {
		if since.IsZero() || r.last.Before(since) {
			idlest, since = id, r.last
		}
	}
	if since.IsZero() || time.Since(since) < c.ep.reclaimAfter() {
		return
	}
	delete(c.seen, idlest)
	if store.Close(idlest) == nil {
		c.ep.log.Info("reclaimed an idle session for a new console", "idle", time.Since(since).Round(time.Second))
	}
}

// pruneSeen forgets sessions idle longer than any session may live; if that
// is not enough (a flood of made-up session IDs) it forgets all.
func (c *guardedConn) pruneSeen(now time.Time) {
	for id, r := range c.seen {
		if now.Sub(r.last) > 2*time.Minute {
			delete(c.seen, id)
		}
	}
	if len(c.seen) >= 256 {
		clear(c.seen)
	}
}

// ReadFrom returns the next datagram worth dispatching.
func (c *guardedConn) ReadFrom(buf []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.udp.ReadFromUDP(buf)
		if err != nil {
			return 0, nil, err
		}
		if n == len(buf) {
			c.ep.obs.Dropped(c.ep.Name(), "oversize")
			continue
		}
		pkt := buf[:n]
		kind, reason := classify(pkt)
		if reason != "" {
			c.ep.obs.Dropped(c.ep.Name(), reason)
			continue
		}
		src := addr.AddrPort().Addr().Unmap()
		switch kind {
		case kindRAKP1:
			c.guard.rakp1(c.ep, binary.LittleEndian.Uint32(pkt[16+4:16+8]), src)
		case kindRAKP3:
			c.guard.rakp3(c.ep, binary.LittleEndian.Uint32(pkt[16+4:16+8]))
		case kindInSession:
			if c.replayed(pkt) {
				c.ep.obs.Dropped(c.ep.Name(), "replayed")
				continue
			}
		case kindHandshakeStart:
			if ok, why := c.guard.allowHandshake(sourceKey{c.ep, src}); !ok {
				c.ep.obs.Dropped(c.ep.Name(), why)
				continue
			}
			if pkt[4] == 0x06 {
				c.reclaimIdleSession()
			}
		case kindRAKP3Rejected:
			// The console found our RAKP 2 wrong: a password mismatch.
			c.guard.rakp3(c.ep, binary.LittleEndian.Uint32(pkt[16+4:16+8]))
			c.guard.handshakeDone(sourceKey{c.ep, src}, true)
			c.ep.obs.AuthFailure(c.ep.Name())
		}
		return n, addr, nil
	}
}

// WriteTo sends a reply, noting handshake outcomes on the way.
func (c *guardedConn) WriteTo(pkt []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, net.InvalidAddrError("not a UDP address")
	}
	c.account(pkt, ua.AddrPort().Addr().Unmap())
	return c.udp.WriteToUDP(pkt, ua)
}

func (c *guardedConn) Close() error { return c.udp.Close() }

// LocalAddr lets go-ipmi learn the port it serves on.
func (c *guardedConn) LocalAddr() net.Addr { return c.udp.LocalAddr() }

// RMCP+ payload types (IPMI v2.0 Table 13-16).
const (
	payloadIPMI        = 0x00
	payloadSOL         = 0x01
	payloadOpenSession = 0x10
	payloadOpenResp    = 0x11
	payloadRAKP1       = 0x12
	payloadRAKP2       = 0x13
	payloadRAKP3       = 0x14
	payloadRAKP4       = 0x15
)

type packetKind int

const (
	kindOther packetKind = iota
	kindHandshakeStart
	kindInSession
	kindRAKP1
	kindRAKP3
	kindRAKP3Rejected
)

// classify sorts an inbound datagram; a non-empty reason means drop it.
// It only reads headers: go-ipmi does the real parsing.
func classify(pkt []byte) (packetKind, string) {
	if len(pkt) < 4 {
		return kindOther, "short"
	}
	if pkt[0] != 0x06 {
		return kindOther, "rmcp_version"
	}
	switch pkt[3] & 0x1F {
	case 0x06: // ASF: only Presence Ping is answered
		if len(pkt) < 12 || binary.BigEndian.Uint32(pkt[4:8]) != 4542 || pkt[8] != 0x80 {
			return kindOther, "asf"
		}
		return kindOther, ""
	case 0x07:
	default:
		return kindOther, "rmcp_class"
	}
	if len(pkt) < 5 {
		return kindOther, "short"
	}
	if pkt[4] == 0x06 {
		sessionID, _, payloadType, _, payload, ok := protocol.ParseRMCPPlusHeader(pkt)
		if !ok {
			return kindOther, "rmcpplus_header"
		}
		if sessionID != 0 && (payloadType == payloadIPMI || payloadType == payloadSOL) {
			return kindInSession, ""
		}
		switch payloadType {
		case payloadOpenSession:
			return kindHandshakeStart, ""
		case payloadRAKP1:
			// go-ipmi's RAKP 1 parser computes 28+length in a byte and
			// panics (killing the process) on a long name length; user names
			// are at most 16 bytes anyway.
			if len(payload) < 28 || payload[27] > 16 || len(payload) < 28+int(payload[27]) {
				return kindOther, "rakp_length"
			}
			return kindRAKP1, ""
		case payloadRAKP3:
			if len(payload) < 8 {
				return kindOther, "rakp_length"
			}
			if payload[1] != 0 {
				return kindRAKP3Rejected, ""
			}
			return kindRAKP3, ""
		case payloadIPMI, payloadSOL:
		default:
			return kindOther, "payload_type"
		}
		return kindOther, ""
	}
	// IPMI v1.5 session header: auth type, sequence, session ID, [auth
	// code], message length, message.
	authType := pkt[4]
	hdr := 4 + 1 + 4 + 4
	switch authType {
	case 0x00:
	case 0x01, 0x02, 0x04, 0x05:
		hdr += 16
	default:
		return kindOther, "v15_auth_type"
	}
	if len(pkt) < hdr+1 {
		return kindOther, "short"
	}
	msgLen := int(pkt[hdr])
	if msgLen < 7 || len(pkt) < hdr+1+msgLen {
		return kindOther, "v15_length"
	}
	msg := pkt[hdr+1 : hdr+1+msgLen]
	if msg[1]>>2 == 0x06 && msg[5] == 0x39 { // App: Get Session Challenge
		return kindHandshakeStart, ""
	}
	return kindOther, ""
}

// account keeps the guard's books from an outbound datagram.
func (c *guardedConn) account(pkt []byte, dst netip.Addr) {
	if len(pkt) < 5 || pkt[3]&0x1F != 0x07 {
		return
	}
	if pkt[4] == 0x06 {
		_, _, payloadType, _, payload, ok := protocol.ParseRMCPPlusHeader(pkt)
		if !ok || len(payload) < 2 {
			return
		}
		status := payload[1]
		switch payloadType {
		case payloadOpenResp:
			if status == 0 {
				c.guard.handshakeOpened(sourceKey{c.ep, dst})
			}
		case payloadRAKP2:
			if authRefusal(status) {
				c.handshakeFailed(dst)
			}
		case payloadRAKP4:
			switch {
			case status == 0:
				c.guard.handshakeDone(sourceKey{c.ep, dst}, false)
			case authRefusal(status):
				c.handshakeFailed(dst)
			}
		}
		return
	}
	// IPMI v1.5 reply: find the completion code of session set-up commands.
	hdr := 4 + 1 + 4 + 4
	if pkt[4] != 0x00 {
		hdr += 16
	}
	if len(pkt) < hdr+1+8 {
		return
	}
	msg := pkt[hdr+1:]
	if msg[1]>>2 != 0x07 { // App response
		return
	}
	cmd, cc := msg[5], msg[6]
	switch {
	case cmd == 0x39 && cc == 0: // Get Session Challenge: handshake opened
		c.guard.handshakeOpened(sourceKey{c.ep, dst})
	case cmd == 0x3A && cc == 0: // Activate Session: done
		c.guard.handshakeDone(sourceKey{c.ep, dst}, false)
	case (cmd == 0x39 || cmd == 0x3A) && cc != 0:
		c.handshakeFailed(dst)
	}
}

// authRefusal reports whether an RMCP+ status code (IPMI v2.0 Table 13-15)
// refuses the console's identity or role, as opposed to a malformed or
// stale request (an unknown session ID is junk, not a login attempt).
func authRefusal(status byte) bool {
	switch status {
	case 0x09, 0x0A, 0x0D, 0x0F: // invalid role, unauthorized role, unauthorized name, invalid integrity check
		return true
	}
	return false
}

func (c *guardedConn) handshakeFailed(dst netip.Addr) {
	c.guard.handshakeDone(sourceKey{c.ep, dst}, true)
	c.ep.obs.AuthFailure(c.ep.Name())
}
