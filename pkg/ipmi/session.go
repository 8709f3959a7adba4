package ipmi

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/crypto"
	"github.com/bougou/go-ipmi/pkg/protocol"
	"github.com/bougou/go-ipmi/pkg/types"
)

// channelMaxPrivilege is the LAN channel's privilege limit (go-ipmi's default).
const channelMaxPrivilege = bmc.PrivilegeLevelAdministrator

// flightLease is how long a command handed to go-ipmi counts as in flight
// when no reply is seen (go-ipmi drops some datagrams silently, e.g. a
// sequence number outside its window): longer than any command runs.
const flightLease = actionTimeout + 5*time.Second

// sessionRecord is the conn's view of an established RMCP+ session: its
// keys (copied once, when go-ipmi answered RAKP 4; they never change
// afterwards), so that in-session datagrams are verified before go-ipmi
// spends a goroutine on them, and the replay filter and in-flight count.
type sessionRecord struct {
	bmcID, consoleID uint32
	user             string
	integ            types.IntegrityAlg
	crypt            types.CryptAlg
	k1, k2           []byte

	src  netip.AddrPort // where the last accepted datagram came from
	last time.Time      // when
	// seen remembers the last accepted datagrams, to drop byte-identical
	// copies: go-ipmi accepts any sequence number inside the window,
	// including one already processed, so a captured datagram would run
	// its command again. Only datagrams that passed the integrity check
	// are remembered, so junk naming the session cannot flush it.
	seen    seenRing
	flights []time.Time // commands handed to go-ipmi, not yet answered
	// The RAKP 4 sent, resent for a resent RAKP 3.
	rakp4       []byte
	rakp3Digest uint64
	created     time.Time
}

// seenRing holds digests of the last datagrams of one session. 32 exceeds
// go-ipmi's window of 16 earlier sequence numbers: a datagram older than
// the ring is outside the window too.
type seenRing struct {
	digests [32]uint64
	next    int
}

func (r *seenRing) contains(d uint64) bool {
	for _, x := range r.digests {
		if x == d {
			return true
		}
	}
	return false
}

func (r *seenRing) add(d uint64) {
	r.digests[r.next] = d
	r.next = (r.next + 1) % len(r.digests)
}

// newSessionRecord copies a session's keys once go-ipmi has activated it.
// Called from WriteTo of the RAKP 4, which go-ipmi sends after releasing
// the session's lock.
func (c *guardedConn) newSessionRecord(p *pendingSession, dst netip.AddrPort) *sessionRecord {
	sess, err := c.ep.bmc.Sessions.Get(p.bmcID)
	if err != nil {
		return nil
	}
	sess.ProcMu.Lock()
	r := &sessionRecord{bmcID: p.bmcID, consoleID: sess.ConsoleID, user: p.user,
		integ: sess.IntegrityAlg, crypt: sess.CryptAlg,
		k1: append([]byte(nil), sess.K1...), k2: append([]byte(nil), sess.K2...)}
	sess.ProcMu.Unlock()
	now := c.guard.now()
	r.src, r.last, r.created = dst, now, now
	return r
}

// admitInSession admits an RMCP+ in-session datagram only for an
// established session, with a valid integrity code, a payload go-ipmi can
// decrypt and parse without panicking, not seen before, and while the
// session has room in flight.
func (c *guardedConn) admitInSession(pkt []byte, src netip.AddrPort) string {
	sessionID, _, pt, flags, payload, _ := protocol.ParseRMCPPlusHeader(pkt)
	c.mu.Lock()
	r := c.sessions[sessionID]
	if r == nil {
		c.mu.Unlock()
		return "unknown_session"
	}
	integ, crypt, k1, k2 := r.integ, r.crypt, r.k1, r.k2
	c.mu.Unlock()
	if why := checkSessionDatagram(pkt, pt, flags, payload, integ, crypt, k1, k2); why != "" {
		return why
	}
	d := digest(pkt)
	now := c.guard.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if r = c.sessions[sessionID]; r == nil {
		return "unknown_session"
	}
	if r.seen.contains(d) {
		return "replayed"
	}
	if pt == payloadIPMI {
		if why := c.takeFlight(&r.flights, now); why != "" {
			return why
		}
	}
	r.seen.add(d)
	r.src, r.last = src, now
	return ""
}

// takeFlight reserves an in-flight place. c.mu must be held.
func (c *guardedConn) takeFlight(flights *[]time.Time, now time.Time) string {
	expired := 0
	for len(*flights) > 0 && now.Sub((*flights)[0]) > flightLease {
		*flights = (*flights)[1:]
		expired++
	}
	c.guard.releaseFlight(expired)
	if len(*flights) >= c.guard.cfg.InFlightPerSession {
		return "session_busy"
	}
	if !c.guard.acquireFlight() {
		return "busy"
	}
	*flights = append(*flights, now)
	return ""
}

// landed releases an in-flight place when go-ipmi answers in a session.
func (c *guardedConn) landed(consoleID uint32, dst netip.AddrPort) {
	c.mu.Lock()
	released := 0
	for _, r := range c.sessions {
		if r.consoleID == consoleID && r.src == dst && len(r.flights) > 0 {
			r.flights = r.flights[1:]
			released = 1
			break
		}
	}
	c.mu.Unlock()
	c.guard.releaseFlight(released)
}

// checkSessionDatagram verifies an in-session datagram the way go-ipmi
// will (integrity over the whole packet with K1) and checks every length
// go-ipmi then uses unchecked: an encrypted payload must be the 16-byte IV
// plus whole AES blocks (go-ipmi hands anything else to crypto/cipher,
// which panics), and must decrypt, unpad and parse.
func checkSessionDatagram(pkt []byte, pt, flags byte, payload []byte, integ types.IntegrityAlg, crypt types.CryptAlg, k1, k2 []byte) string {
	if integ != types.IntegrityAlg_None {
		if flags&flagAuthenticated == 0 || !verifyIntegrity(pkt, integ, k1) {
			return "integrity"
		}
	}
	if flags&flagEncrypted != 0 {
		if crypt != types.CryptAlg_AES_CBC_128 || len(k2) < 16 {
			// go-ipmi would decrypt with K2 (derived for every suite) a
			// payload the session never negotiated confidentiality for.
			return "not_negotiated"
		}
		if len(payload) < 32 || (len(payload)-16)%16 != 0 {
			return "encrypted_length"
		}
		plain, err := crypto.DecryptAESPayload(payload, k2)
		if err != nil {
			return "decrypt"
		}
		payload = plain
	}
	minLen := 7 // an IPMI message: header, command, checksum
	if pt == payloadSOL {
		minLen = 4
	}
	if len(payload) < minLen {
		return "payload_length"
	}
	return ""
}

// verifyIntegrity checks an RMCP+ datagram's integrity trailer (IPMI v2.0
// §13.28.4): 0xFF pad to a multiple of four, pad length, next header 07h
// and the AuthCode over everything from the session header on.
func verifyIntegrity(pkt []byte, integ types.IntegrityAlg, k1 []byte) bool {
	codeLen, ok := crypto.IntegrityAuthCodeLen(integ)
	if !ok || codeLen == 0 || len(k1) == 0 || len(pkt) < 16 {
		return false
	}
	payloadLen := int(binary.LittleEndian.Uint16(pkt[14:16]))
	end := 16 + payloadLen
	pad := types.IntegrityPadLen(12, payloadLen)
	codeStart := end + pad + 2
	if len(pkt) != codeStart+codeLen {
		return false
	}
	for _, b := range pkt[end : end+pad] {
		if b != 0xff {
			return false
		}
	}
	if pkt[end+pad] != byte(pad) || pkt[end+pad+1] != 0x07 {
		return false
	}
	want, err := crypto.SessionIntegrityAuthCode(integ, pkt[4:codeStart], k1, "")
	return err == nil && crypto.Equal(want, pkt[codeStart:])
}

// reclaimIdleSession makes room for a new session when the table is full
// of established sessions that have gone quiet: consoles killed
// mid-session (a timed-out ipmitool, a crashed script) never close theirs,
// and everyone would be refused until the idle timeout. The session silent
// for longest goes, if it has been silent for at least the endpoint's
// reclaim delay.
func (c *guardedConn) reclaimIdleSession() {
	now := c.guard.now()
	c.mu.Lock()
	var idlest *sessionRecord
	for _, r := range c.sessions {
		if idlest == nil || r.last.Before(idlest.last) {
			idlest = r
		}
	}
	c.mu.Unlock()
	if idlest == nil || now.Sub(idlest.last) < c.ep.reclaimAfter() {
		return
	}
	if c.ep.bmc.Sessions.Close(idlest.bmcID) == nil {
		c.ep.log.Info("reclaimed an idle session for a new console", "idle", now.Sub(idlest.last).Round(time.Second),
			"user", idlest.user, "source", idlest.src.Addr().String())
	}
}

// sweepSessions forgets sessions go-ipmi no longer has and in-flight
// places whose lease ran out.
func (c *guardedConn) sweepSessions(now time.Time) {
	c.mu.Lock()
	ids := make([]uint32, 0, len(c.sessions))
	for id := range c.sessions {
		ids = append(ids, id)
	}
	c.mu.Unlock()
	for _, id := range ids {
		if _, err := c.ep.bmc.Sessions.Get(id); err != nil {
			c.forget(id)
		}
	}
	c.mu.Lock()
	expired := 0
	for _, r := range c.sessions {
		for len(r.flights) > 0 && now.Sub(r.flights[0]) > flightLease {
			r.flights = r.flights[1:]
			expired++
		}
		if r.rakp4 != nil && now.Sub(r.created) > rakpTimeout+c.guard.cfg.PendingLifetime {
			r.rakp4 = nil
		}
	}
	c.mu.Unlock()
	c.guard.releaseFlight(expired)
}
