package ipmi

import (
	"crypto/rand"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/bougou/go-ipmi/pkg/crypto"
	"github.com/bougou/go-ipmi/pkg/protocol"
	"github.com/bougou/go-ipmi/pkg/rmcpplus"
	"github.com/bougou/go-ipmi/pkg/types"
)

// pendingSession is an RMCP+ handshake between go-ipmi's Open Session
// response and its RAKP 4.
type pendingSession struct {
	bmcID, consoleID uint32
	maxPriv          byte
	auth             types.AuthAlg
	// src is where the Open Session response went, then where RAKP 1 came
	// from. Only a sender at that address can name the session: it proved
	// it receives our replies.
	src     netip.AddrPort
	created time.Time
	// proven: opened by a source with a recent login (the priority lane).
	proven bool
	// rakp1: a RAKP 1 from src named the session; from then on it is
	// protected from eviction and its failures count against src.
	rakp1       bool
	rakp1Digest uint64
	user        string
	// rakp2 is the RAKP 2 datagram sent (resent for an identical RAKP 1, so
	// a retransmission discloses no second hash).
	rakp2       []byte
	rakp2At     time.Time
	charged     bool // took one of src's RAKP 2 tokens
	rakp3       bool
	rakp3Digest uint64
	failed      bool // a failed login was already counted
	removed     bool
}

// unprovenWaiting reports an unproven handshake still waiting for its
// RAKP 1: the only kind a newer unproven one may evict.
func (p *pendingSession) unprovenWaiting() bool { return !p.proven && !p.rakp1 }

// removePendingLocked drops p from the books and returns how many places
// of the guard's global table to release. c.mu must be held.
func (c *guardedConn) removePendingLocked(p *pendingSession) int {
	if p.removed {
		return 0
	}
	p.removed = true
	if p.unprovenWaiting() {
		c.unprovenCount--
	}
	delete(c.pending, p.bmcID)
	return 1
}

// admitOpenSession admits an Open Session request if its lane's budgets
// and the handshake table allow. Unproven requests may carry any source
// address, so they can only compete with each other: a fresh handshake is
// never evicted by a newer unproven one, and the table therefore churns no
// faster than PendingPerEndpoint per ProtectPending; requests beyond that
// are dropped (consoles resend them), not allowed to evict a console's
// handshake before its RAKP 1 arrives (consoles give up on that).
func (c *guardedConn) admitOpenSession(pkt []byte, src netip.AddrPort) string {
	proven, why := c.admitLoginStart(src.Addr())
	if why != "" {
		return why
	}
	if c.rmcpSessions() >= c.ep.cfg.MaxSessions {
		c.reclaimIdleSession()
		if c.rmcpSessions() >= c.ep.cfg.MaxSessions {
			// What go-ipmi answered when its table was full of sessions.
			var req rmcpplus.OpenSessionRequest
			_ = req.Unpack(pkt[16:])
			resp := &rmcpplus.OpenSessionResponse{MessageTag: req.MessageTag, RmcpStatusCode: 0x01,
				RemoteConsoleSessionID: req.RemoteConsoleSessionID}
			c.reply(protocol.BuildRMCPPlusPacket(payloadOpenResp, 0, 0, 0, resp.Pack()), src)
			c.guard.refusedLogin(c.ep, src.Addr(), "", "session table full")
			return answered
		}
	}
	if !c.reserveHandshake(proven, src.Addr()) {
		return "pending_full"
	}
	c.mu.Lock()
	w := c.awaitOpen[src]
	w.n++
	w.proven = proven
	put(&c.awaitOpen, src, w)
	c.mu.Unlock()
	return ""
}

// reserveHandshake makes room for one more handshake, evicting if the
// lane's rules allow, and reserves it.
func (c *guardedConn) reserveHandshake(proven bool, addr netip.Addr) bool {
	cfg := c.guard.cfg
	for range 3 {
		now := c.guard.now()
		c.mu.Lock()
		full := len(c.pending)+c.inflightOpens >= cfg.PendingPerEndpoint ||
			c.ep.bmc.Sessions.Count()+c.inflightOpens >= storeMax
		unprovenFull := !proven && c.unprovenCount+c.inflightUnproven >= cfg.UnprovenPendingPerEndpoint
		var own *pendingSession
		if proven {
			var over bool
			if over, own = c.overQuotaLocked(addr); over {
				// At its quota the source's own oldest waiting handshake
				// gives way, whatever its age: a console flooding itself.
				if own == nil {
					c.mu.Unlock()
					return false
				}
				full = true
			} else {
				own = nil
			}
		}
		if !full && !unprovenFull && c.guard.reservePending() {
			c.inflightOpens++
			if !proven {
				c.inflightUnproven++
			}
			c.lastOpen = now
			c.mu.Unlock()
			return true
		}
		victim := own
		if victim == nil {
			victim = c.victimLocked(proven, addr, now)
		}
		var released int
		if victim != nil {
			released = c.removePendingLocked(victim)
		}
		c.mu.Unlock()
		if victim == nil {
			return false
		}
		c.guard.releasePending(released)
		c.closeSession(victim.bmcID)
	}
	return false
}

// overQuotaLocked reports whether addr holds its quota (PendingPerSource)
// of handshakes waiting for their RAKP 1, counting those go-ipmi has yet to
// answer, and returns its oldest such handshake (nil if all are in flight).
func (c *guardedConn) overQuotaLocked(addr netip.Addr) (bool, *pendingSession) {
	n := 0
	for a, w := range c.awaitOpen {
		if a.Addr() == addr {
			n += w.n
		}
	}
	var oldest *pendingSession
	for _, p := range c.pending {
		if p.src.Addr() == addr && !p.rakp1 {
			n++
			if oldest == nil || p.created.Before(oldest.created) {
				oldest = p
			}
		}
	}
	return n >= c.guard.cfg.PendingPerSource, oldest
}

// victimLocked picks the handshake to evict for a new one, or nil. An
// unproven handshake still waiting for its RAKP 1 goes first: the oldest,
// once ProtectPending old (any age for the priority lane). The priority
// lane may also evict the same source's own oldest such handshake.
func (c *guardedConn) victimLocked(proven bool, addr netip.Addr, now time.Time) *pendingSession {
	protect := c.guard.cfg.ProtectPending
	for len(c.unprovenQueue) > 0 {
		p := c.pending[c.unprovenQueue[0]]
		if p == nil || !p.unprovenWaiting() {
			c.unprovenQueue = c.unprovenQueue[1:]
			continue
		}
		if proven || now.Sub(p.created) >= protect {
			c.unprovenQueue = c.unprovenQueue[1:]
			return p
		}
		break
	}
	if !proven {
		return nil
	}
	var oldest *pendingSession
	for _, p := range c.pending {
		if p.src.Addr() == addr && !p.rakp1 && now.Sub(p.created) >= protect &&
			(oldest == nil || p.created.Before(oldest.created)) {
			oldest = p
		}
	}
	return oldest
}

// admitRAKP1 admits a RAKP 1 only for a handshake whose Open Session
// response went to its sender, once per handshake, within the sender's
// RAKP 2 budget. For a user name that does not exist it answers itself.
func (c *guardedConn) admitRAKP1(pkt []byte, src netip.AddrPort) string {
	payload := pkt[16:]
	payload = payload[:28+int(payload[27])]
	bmcID := binary.LittleEndian.Uint32(payload[4:8])
	d := digest(payload)
	c.mu.Lock()
	p := c.pending[bmcID]
	switch {
	case p == nil:
		c.mu.Unlock()
		return "unknown_session"
	case p.src.Addr() != src.Addr():
		c.mu.Unlock()
		return "wrong_source"
	case p.rakp3:
		c.mu.Unlock()
		return "out_of_order"
	case p.rakp2 != nil:
		// A console resends RAKP 1 when RAKP 2 was lost: the same answer
		// again, never a second hash.
		resend := p.rakp2
		c.mu.Unlock()
		if d != p.rakp1Digest {
			return "rakp_repeat"
		}
		c.reply(resend, src)
		return answered
	case p.rakp1:
		c.mu.Unlock()
		if d == p.rakp1Digest {
			return "resent" // go-ipmi's answer is on its way
		}
		return "rakp_repeat"
	}
	if p.unprovenWaiting() {
		c.unprovenCount--
	}
	p.rakp1, p.rakp1Digest, p.src = true, d, src
	p.user = string(payload[28:])
	user := p.user
	c.mu.Unlock()

	key := sourceKey{c.ep, src.Addr()}
	if c.guard.lockedOut(key) {
		c.guard.refusedLogin(c.ep, src.Addr(), user, "too many failed logins")
		c.closeSession(bmcID)
		return "auth_rate_limited"
	}
	if !c.guard.takeRAKP2(key) {
		c.guard.refusedLogin(c.ep, src.Addr(), user, "RAKP 2 limit reached (handshakes not completed)")
		c.closeSession(bmcID)
		return "rakp2_rate_limited"
	}
	c.mu.Lock()
	p.charged = true
	if user == c.ep.cfg.Username {
		put(&c.awaitRAKP2, src, p)
		c.mu.Unlock()
		return ""
	}
	resp, status := c.fakeRAKP2(p, payload)
	if status == 0 {
		p.rakp2, p.rakp2At = resp, c.guard.now()
	}
	c.mu.Unlock()
	c.reply(resp, src)
	if status != 0 {
		c.rakp2Refused(p, status)
		c.closeSession(bmcID)
	}
	return answered
}

// fakeRAKP2 answers a RAKP 1 naming a user that does not exist as go-ipmi
// answers one naming a real user: the same checks that do not depend on
// the user (the requested role), and an authentication code made with a
// key only this process knows (fixed per name), so the answer cannot be
// told from a real user's with an unknown password. go-ipmi's own answer
// uses an all-zero key and an empty name, which anyone can recompute.
// c.mu must be held.
func (c *guardedConn) fakeRAKP2(p *pendingSession, rakp1 []byte) ([]byte, byte) {
	tag, role := rakp1[0], rakp1[24]
	requested := role & 0x0F
	if requested == 0 {
		requested = p.maxPriv
	}
	var status byte
	switch {
	case requested < 1 || requested > 5:
		status = 0x09 // invalid role
	case requested > p.maxPriv, requested > byte(channelMaxPrivilege):
		status = 0x0A // unauthorized role
	}
	if status != 0 {
		m := &rmcpplus.RAKPMessage2{MessageTag: tag, RmcpStatusCode: types.RmcpStatusCode(status), RemoteConsoleSessionID: p.consoleID}
		return protocol.BuildRMCPPlusPacket(payloadRAKP2, 0, 0, 0, m.Pack()), status
	}
	var bmcRand [16]byte
	_, _ = rand.Read(bmcRand[:])
	guid := c.ep.bmc.GUID
	code, _ := crypto.RAKP2AuthCode(p.auth, p.consoleID, p.bmcID, rakp1[8:24], bmcRand[:], guid[:], role, p.user,
		c.guard.fakeKey(c.ep.Name(), p.user))
	m := &rmcpplus.RAKPMessage2{MessageTag: tag, RemoteConsoleSessionID: p.consoleID,
		ManagedSystemRandomNumber: bmcRand, ManagedSystemGUID: guid, KeyExchangeAuthenticationCode: code}
	return protocol.BuildRMCPPlusPacket(payloadRAKP2, 0, 0, 0, m.Pack()), 0
}

// admitRAKP3 admits a RAKP 3 only for a handshake that got a RAKP 2 at
// its sender's address. A RAKP 3 rejecting our RAKP 2 is a failed login
// (the console's password differs); one for a made-up session is junk and
// counts against no one.
func (c *guardedConn) admitRAKP3(pkt []byte, src netip.AddrPort) string {
	payload := pkt[16:]
	bmcID := binary.LittleEndian.Uint32(payload[4:8])
	status := payload[1]
	d := digest(payload)
	c.mu.Lock()
	p := c.pending[bmcID]
	if p == nil {
		// A console resends RAKP 3 when RAKP 4 was lost.
		if r := c.sessions[bmcID]; r != nil && r.rakp4 != nil && r.rakp3Digest == d && r.src.Addr() == src.Addr() {
			resend := r.rakp4
			c.mu.Unlock()
			c.reply(resend, src)
			return answered
		}
		c.mu.Unlock()
		return "unknown_session"
	}
	switch {
	case p.src.Addr() != src.Addr():
		c.mu.Unlock()
		return "wrong_source"
	case p.rakp2 == nil:
		c.mu.Unlock()
		return "out_of_order"
	case p.rakp3:
		c.mu.Unlock()
		if d == p.rakp3Digest {
			return "resent"
		}
		return "rakp_repeat"
	}
	p.rakp3, p.rakp3Digest = true, d
	if status != 0 {
		p.failed = true
		user := p.user
		put(&c.awaitRAKP4, src, p)
		c.mu.Unlock()
		c.loginFailed(src.Addr(), user, "the console rejected RAKP 2 (wrong password or unknown user)")
		return ""
	}
	full := len(c.sessions) >= c.ep.cfg.MaxSessions
	if !full {
		put(&c.awaitRAKP4, src, p)
	}
	c.mu.Unlock()
	if full {
		c.reclaimIdleSession()
		if c.rmcpSessions() >= c.ep.cfg.MaxSessions {
			m := &rmcpplus.RAKPMessage4{MessageTag: payload[0], RmcpStatusCode: 0x01, MgmtConsoleSessionID: p.consoleID}
			c.reply(protocol.BuildRMCPPlusPacket(payloadRAKP4, 0, 0, 0, m.Pack()), src)
			c.closeSession(bmcID)
			c.guard.refusedLogin(c.ep, src.Addr(), p.user, "session table full")
			return answered
		}
		c.mu.Lock()
		put(&c.awaitRAKP4, src, p)
		c.mu.Unlock()
	}
	return ""
}

// accountRMCPPlus keeps the books from one of go-ipmi's RMCP+ replies.
func (c *guardedConn) accountRMCPPlus(pkt []byte, dst netip.AddrPort) {
	sessionID, _, payloadType, _, payload, ok := protocol.ParseRMCPPlusHeader(pkt)
	if !ok {
		return
	}
	switch payloadType {
	case payloadIPMI, payloadSOL:
		if sessionID != 0 && payloadType == payloadIPMI {
			c.landed(sessionID, dst)
		}
	case payloadOpenResp:
		c.openAnswered(payload, dst)
	case payloadRAKP2:
		c.rakp2Answered(pkt, payload, dst)
	case payloadRAKP4:
		c.rakp4Answered(pkt, payload, dst)
	}
}

func (c *guardedConn) openAnswered(payload []byte, dst netip.AddrPort) {
	var resp rmcpplus.OpenSessionResponse
	if resp.Unpack(payload) != nil {
		return
	}
	now := c.guard.now()
	c.mu.Lock()
	w, had := c.awaitOpen[dst]
	if had {
		c.inflightOpens = max(0, c.inflightOpens-1)
		if !w.proven {
			c.inflightUnproven = max(0, c.inflightUnproven-1)
		}
		if w.n--; w.n <= 0 {
			delete(c.awaitOpen, dst)
		} else {
			put(&c.awaitOpen, dst, w)
		}
	}
	if resp.RmcpStatusCode != 0 {
		c.mu.Unlock()
		if had {
			c.guard.releasePending(1)
		}
		return
	}
	if !had && !c.guard.reservePending() {
		c.mu.Unlock()
		c.closeSession(resp.ManagedSystemSessionID)
		return
	}
	p := &pendingSession{bmcID: resp.ManagedSystemSessionID, consoleID: resp.RemoteConsoleSessionID,
		maxPriv: resp.MaximumPrivilegeLevel, auth: types.AuthAlg(resp.AuthenticationPayload.AuthAlg),
		src: dst, created: now, proven: w.proven}
	put(&c.pending, p.bmcID, p)
	if !p.proven {
		c.unprovenQueue = append(c.unprovenQueue, p.bmcID)
		c.unprovenCount++
	}
	c.mu.Unlock()
}

func (c *guardedConn) rakp2Answered(pkt, payload []byte, dst netip.AddrPort) {
	if len(payload) < 2 {
		return
	}
	c.mu.Lock()
	p := c.awaitRAKP2[dst]
	delete(c.awaitRAKP2, dst)
	if p == nil {
		c.mu.Unlock()
		return
	}
	status := payload[1]
	if status == 0 {
		p.rakp2, p.rakp2At = append([]byte(nil), pkt...), c.guard.now()
		c.mu.Unlock()
		return
	}
	released := c.removePendingLocked(p)
	c.mu.Unlock()
	c.guard.releasePending(released)
	c.rakp2Refused(p, status)
}

// rakp2Refused books a RAKP 2 that refused the login: no hash went out, so
// the token comes back; a refused identity or role is a failed login.
func (c *guardedConn) rakp2Refused(p *pendingSession, status byte) {
	key := sourceKey{c.ep, p.src.Addr()}
	if p.charged {
		c.guard.refundRAKP2(key)
	}
	if authRefusal(status) {
		c.loginFailed(p.src.Addr(), p.user, rmcpStatusText(status))
	}
}

func (c *guardedConn) rakp4Answered(pkt, payload []byte, dst netip.AddrPort) {
	if len(payload) < 2 {
		return
	}
	c.mu.Lock()
	p := c.awaitRAKP4[dst]
	delete(c.awaitRAKP4, dst)
	c.mu.Unlock()
	if p == nil {
		return
	}
	status := payload[1]
	key := sourceKey{c.ep, dst.Addr()}
	if status != 0 {
		c.mu.Lock()
		released := c.removePendingLocked(p)
		counted := p.failed
		p.failed = true
		c.mu.Unlock()
		c.guard.releasePending(released)
		if !counted && authRefusal(status) {
			c.loginFailed(dst.Addr(), p.user, rmcpStatusText(status))
		}
		return
	}
	rec := c.newSessionRecord(p, dst)
	if rec == nil {
		return
	}
	rec.rakp4, rec.rakp3Digest = append([]byte(nil), pkt...), p.rakp3Digest
	c.mu.Lock()
	released := c.removePendingLocked(p)
	if released == 1 { // still ours: not closed meanwhile
		put(&c.sessions, p.bmcID, rec)
	}
	c.mu.Unlock()
	c.guard.releasePending(released)
	c.guard.prove(dst.Addr())
	if p.charged {
		c.guard.refundRAKP2(key)
	}
}

// loginFailed counts and logs one failed login of a source that proved it
// receives our replies.
func (c *guardedConn) loginFailed(addr netip.Addr, user, reason string) {
	c.guard.failed(sourceKey{c.ep, addr})
	c.ep.obs.AuthFailure(c.ep.Name())
	c.guard.refusedLogin(c.ep, addr, user, reason)
}

// sweepHandshakes expires handshakes: one that got its RAKP 2 and no
// RAKP 3 within rakpTimeout is a failed login (ipmitool and freeipmi stop
// on a RAKP 2 that does not match their password); one still waiting for
// its RAKP 1 after PendingLifetime is dropped without blame.
func (c *guardedConn) sweepHandshakes(now time.Time) {
	var abandoned, expired []*pendingSession
	lifetime := c.guard.cfg.PendingLifetime
	c.mu.Lock()
	for _, p := range c.pending {
		switch {
		case p.rakp2 != nil && !p.rakp3 && now.Sub(p.rakp2At) > rakpTimeout:
			abandoned = append(abandoned, p)
		case p.rakp2 == nil && now.Sub(p.created) > lifetime,
			p.rakp3 && now.Sub(p.rakp2At) > rakpTimeout+lifetime:
			expired = append(expired, p)
		}
	}
	released := 0
	for _, p := range append(abandoned, expired...) {
		released += c.removePendingLocked(p)
	}
	// Compact the eviction queue: entries answered or gone are skipped.
	q := c.unprovenQueue[:0]
	for _, id := range c.unprovenQueue {
		if p := c.pending[id]; p != nil && p.unprovenWaiting() {
			q = append(q, id)
		}
	}
	c.unprovenQueue = append([]uint32(nil), q...)
	for a, p := range c.awaitRAKP2 {
		if p.removed {
			delete(c.awaitRAKP2, a)
		}
	}
	for a, p := range c.awaitRAKP4 {
		if p.removed && now.Sub(p.rakp2At) > rakpTimeout+lifetime {
			delete(c.awaitRAKP4, a)
		}
	}
	// go-ipmi answers every Open Session it is handed; a count left over
	// (a datagram go-ipmi never got to) must not hold places forever.
	stale := 0
	if c.inflightOpens > 0 && now.Sub(c.lastOpen) > rakpTimeout {
		stale = c.inflightOpens
		c.inflightOpens, c.inflightUnproven = 0, 0
		clear(c.awaitOpen)
	}
	c.mu.Unlock()
	c.guard.releasePending(released + stale)
	for _, p := range abandoned {
		if !p.failed {
			c.loginFailed(p.src.Addr(), p.user, "handshake abandoned after RAKP 2 (wrong password or unknown user)")
		}
	}
	for _, p := range append(abandoned, expired...) {
		c.closeSession(p.bmcID)
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

func rmcpStatusText(status byte) string {
	switch status {
	case 0x09:
		return "invalid role"
	case 0x0A:
		return "role not permitted for the user"
	case 0x0D:
		return "wrong password or unknown user (RAKP 3 did not verify)"
	case 0x0F:
		return "invalid integrity check value"
	}
	return "refused"
}
