package ipmi

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"net/netip"
	"time"

	gobmc "github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/protocol"
)

// IPMI v1.5 session set-up commands (App, Table G-1).
const (
	cmdGetSessionChallenge = 0x39
	cmdActivateSession     = 0x3A
	cmdCloseSession        = 0x3C
	netFnApp               = 0x06
)

// v15Handshake is a v1.5 challenge sent, waiting for Activate Session.
type v15Handshake struct {
	tempID   uint32
	authType byte
	src      netip.Addr
	created  time.Time
	proven   bool
	user     string
	// fake: the user name does not exist; the conn made up the challenge
	// and answers the activation with the same failure go-ipmi gives a
	// wrong password, so a name cannot be tested for existence.
	fake  bool
	tries int
}

// v15Record is an active v1.5 session: what is needed to verify its
// datagrams' AuthCode before go-ipmi spends a goroutine on them.
type v15Record struct {
	id       uint32
	authType byte
	src      netip.Addr
	flights  []time.Time
}

// maxV15Tries bounds the Activate Session attempts on one challenge.
const maxV15Tries = 3

// maxFakeChallenges bounds the made-up challenges an endpoint remembers.
const maxFakeChallenges = 64

// admitV15Challenge admits Get Session Challenge within the lane's budgets
// and go-ipmi's four-slot v1.5 table; for a user name that does not exist
// it answers itself (go-ipmi's 0x81 "invalid user name" would tell names
// apart).
func (c *guardedConn) admitV15Challenge(pkt []byte, src netip.AddrPort) string {
	proven, why := c.admitLoginStart(src.Addr())
	if why != "" {
		return why
	}
	_, _, _, _, msg, _ := v15Header(pkt)
	data := msg[6 : len(msg)-1]
	if len(data) < 17 || !c.ep.bmc.V15LANEnabled() || !c.ep.bmc.V15AuthTypeEnabled(gobmc.V15AuthType(data[0]&0x0F)) {
		return "" // go-ipmi answers with the error, the same for every name
	}
	name := string(bytes.TrimRight(data[1:17], "\x00"))
	if name == "" {
		return "" // the null user: refused by go-ipmi, whatever the name table holds
	}
	// Made-up challenges take places in the same four-place table, or a
	// full table would answer only the names that do not exist.
	if !c.reserveV15(proven, src.Addr()) {
		return "pending_full"
	}
	if name != c.ep.cfg.Username {
		c.fakeChallenge(msg, data[0]&0x0F, name, src, proven)
		return answered
	}
	c.mu.Lock()
	w := c.awaitChallenge[src]
	w.n++
	w.proven, w.user, w.authType = proven, name, data[0]&0x0F
	put(&c.awaitChallenge, src, w)
	c.mu.Unlock()
	return ""
}

// reserveV15 makes room in go-ipmi's v1.5 table (four sessions; it evicts
// the oldest pending one when full), counting made-up challenges as if
// they were in it: a young challenge is not evicted for an unproven
// newcomer.
func (c *guardedConn) reserveV15(proven bool, addr netip.Addr) bool {
	store := c.ep.bmc.V15Sessions
	now := c.guard.now()
	c.mu.Lock()
	used := store.Count()
	for _, w := range c.awaitChallenge {
		used += w.n
	}
	for _, h := range c.v15 {
		if h.fake {
			used++
		}
	}
	if used < store.Cap() {
		c.mu.Unlock()
		return true
	}
	// The victim: the oldest challenge the newcomer may evict. An unproven
	// newcomer evicts only unproven challenges older than ProtectPending; one
	// with a recent login also younger unproven ones and its own, never
	// another such source's young challenge.
	var victim *v15Handshake
	for _, h := range c.v15 {
		young := now.Sub(h.created) < c.guard.cfg.ProtectPending
		switch {
		case !proven && (h.proven || young):
			continue
		case proven && h.proven && h.src != addr && young:
			continue
		}
		if victim == nil || h.created.Before(victim.created) {
			victim = h
		}
	}
	if victim != nil {
		delete(c.v15, victim.tempID)
	}
	c.mu.Unlock()
	if victim == nil {
		return false
	}
	if !victim.fake {
		_ = store.Close(victim.tempID)
	}
	return true
}

// fakeChallenge answers Get Session Challenge for a name that does not
// exist exactly as go-ipmi answers one for a real user.
func (c *guardedConn) fakeChallenge(req []byte, authType byte, name string, src netip.AddrPort, proven bool) {
	var d [20]byte
	_, _ = rand.Read(d[:])
	tempID := binary.LittleEndian.Uint32(d[:4])
	if tempID == 0 {
		tempID = 1
	}
	now := c.guard.now()
	c.mu.Lock()
	fakes := 0
	var oldest *v15Handshake
	for _, h := range c.v15 {
		if h.fake {
			fakes++
			if oldest == nil || h.created.Before(oldest.created) {
				oldest = h
			}
		}
	}
	if fakes >= maxFakeChallenges {
		delete(c.v15, oldest.tempID)
	}
	put(&c.v15, tempID, &v15Handshake{tempID: tempID, authType: authType, src: src.Addr(), created: now, proven: proven, user: name, fake: true})
	c.mu.Unlock()
	resp := protocol.BuildIPMIResponse(netFnApp, cmdGetSessionChallenge, req[4]>>2, 0, d[:])
	c.reply(v15Unauthenticated(0, 0, resp), src)
}

// v15Unauthenticated builds a v1.5 datagram without AuthCode, as go-ipmi
// sends its unauthenticated replies.
func v15Unauthenticated(seq, sessionID uint32, msg []byte) []byte {
	out := []byte{0x06, 0x00, 0xff, 0x07, 0x00}
	out = binary.LittleEndian.AppendUint32(out, seq)
	out = binary.LittleEndian.AppendUint32(out, sessionID)
	out = append(out, byte(len(msg)))
	return append(out, msg...)
}

// admitV15Session admits an authenticated v1.5 datagram: an Activate
// Session from the address the challenge went to, or a message of an
// active session whose AuthCode verifies.
func (c *guardedConn) admitV15Session(pkt []byte, src netip.AddrPort) string {
	authType, seq, sessionID, code, msg, _ := v15Header(pkt)
	now := c.guard.now()
	c.mu.Lock()
	if h := c.v15[sessionID]; h != nil {
		switch {
		case h.src != src.Addr():
			c.mu.Unlock()
			return "wrong_source"
		case msg[1]>>2 != netFnApp || msg[5] != cmdActivateSession:
			c.mu.Unlock()
			return "out_of_order"
		case h.tries >= maxV15Tries:
			c.mu.Unlock()
			return "too_many_tries"
		}
		h.tries++
		if !h.fake {
			put(&c.awaitActivate, src, h)
			c.mu.Unlock()
			return ""
		}
		c.mu.Unlock()
		c.loginFailed(src.Addr(), h.user, "v1.5 activation failed (wrong password or unknown user)")
		resp := protocol.BuildIPMIResponse(netFnApp, cmdActivateSession, msg[4]>>2, uint8(handlers.CCV15InvalidSessionID), nil)
		c.reply(v15Unauthenticated(0, 0, resp), src)
		return answered
	}
	r := c.v15Active[sessionID]
	c.mu.Unlock()
	if r == nil {
		return "unknown_session"
	}
	if authType != r.authType || !handlers.VerifyV15AuthCode(c.ep.v15Password, gobmc.V15AuthType(authType), sessionID, msg, seq, code) {
		return "integrity"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if r = c.v15Active[sessionID]; r == nil {
		return "unknown_session"
	}
	return c.takeFlight(&r.flights, now)
}

// accountV15 keeps the books from one of go-ipmi's v1.5 replies and
// returns what to send. A failed Activate Session goes out without
// AuthCode: go-ipmi authenticates it with the user's password, which
// hands anyone who knows a user name an offline password test (with
// straight-password authentication, the password itself).
func (c *guardedConn) accountV15(pkt []byte, dst netip.AddrPort) []byte {
	_, _, sessionID, _, msg, ok := v15Header(pkt)
	if !ok {
		return pkt
	}
	cmd, cc := msg[5], msg[6]
	if msg[1]>>2 != netFnApp|1 {
		cmd = 0 // not a session set-up command
	}
	switch cmd {
	case cmdGetSessionChallenge:
		c.challengeAnswered(msg, cc, dst)
	case cmdActivateSession:
		c.mu.Lock()
		h := c.awaitActivate[dst]
		delete(c.awaitActivate, dst)
		if cc == 0 && h != nil && len(msg) >= 7+10 {
			id := binary.LittleEndian.Uint32(msg[8:12])
			delete(c.v15, h.tempID)
			put(&c.v15Active, id, &v15Record{id: id, authType: h.authType, src: dst.Addr()})
			c.mu.Unlock()
			c.guard.prove(dst.Addr())
			return pkt
		}
		c.mu.Unlock()
		if cc != 0 {
			// 85h is go-ipmi's answer to an AuthCode that does not verify;
			// the other codes come after the password was proven (no
			// session slot, privilege) and are no failed login.
			if h != nil && cc == byte(handlers.CCV15InvalidSessionID) {
				c.loginFailed(dst.Addr(), h.user, "v1.5 activation failed (wrong password or unknown user)")
			}
			return v15Unauthenticated(0, 0, msg)
		}
	default:
		c.mu.Lock()
		released := 0
		if r := c.v15Active[sessionID]; r != nil && len(r.flights) > 0 {
			r.flights, released = r.flights[1:], 1
		}
		c.mu.Unlock()
		c.guard.releaseFlight(released)
	}
	return pkt
}

func (c *guardedConn) challengeAnswered(msg []byte, cc byte, dst netip.AddrPort) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w, had := c.awaitChallenge[dst]
	if !had {
		return
	}
	if w.n--; w.n <= 0 {
		delete(c.awaitChallenge, dst)
	} else {
		put(&c.awaitChallenge, dst, w)
	}
	if cc != 0 || len(msg) < 7+20 {
		return
	}
	id := binary.LittleEndian.Uint32(msg[7:11])
	put(&c.v15, id, &v15Handshake{tempID: id, authType: w.authType, src: dst.Addr(), created: c.guard.now(), proven: w.proven, user: w.user})
}

// forgetV15 drops an active v1.5 session from the books (Close Session).
func (c *guardedConn) forgetV15(id uint32) {
	c.mu.Lock()
	flights := 0
	if r := c.v15Active[id]; r != nil {
		flights = len(r.flights)
		delete(c.v15Active, id)
	}
	c.mu.Unlock()
	c.guard.releaseFlight(flights)
}

// sweepV15 expires challenges not activated in time (real ones are closed
// in go-ipmi too, so a made-up challenge and a real one expire alike) and
// forgets sessions go-ipmi evicted for inactivity.
func (c *guardedConn) sweepV15(now time.Time) {
	var closeIDs []uint32
	c.mu.Lock()
	for id, h := range c.v15 {
		if now.Sub(h.created) > c.guard.cfg.PendingLifetime {
			delete(c.v15, id)
			if !h.fake {
				closeIDs = append(closeIDs, id)
			}
		}
	}
	active := make([]uint32, 0, len(c.v15Active))
	for id := range c.v15Active {
		active = append(active, id)
	}
	c.mu.Unlock()
	for _, id := range closeIDs {
		_ = c.ep.bmc.V15Sessions.Close(id)
	}
	for _, id := range active {
		if _, err := c.ep.bmc.V15Sessions.Get(id); err != nil {
			c.forgetV15(id)
		}
	}
}
