package ipmi

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bougou/go-ipmi/pkg/protocol"
)

// guardedConn wraps an endpoint's socket and is where admission happens:
// go-ipmi's server starts a goroutine for every datagram ReadFrom returns,
// with no recover and no bound, so ReadFrom returns only datagrams that are
// well formed, fit a budget and, past the handshake, passed the session's
// integrity check. On the way out, WriteTo watches handshake results to
// keep the books and strips password-derived codes from failed v1.5
// activations. Datagrams that need an answer go-ipmi cannot give right
// (the RAKP 2 for a user name that does not exist, a full session table)
// are answered here.
type guardedConn struct {
	udp   udpConn
	guard *Guard
	ep    *Endpoint

	// first is the datagram awaitSession read for go-ipmi's server to have
	// from its first ReadFrom, firstFrom its source; only the endpoint's
	// serve goroutine touches them.
	first     []byte
	firstFrom net.Addr

	// busy is set after every datagram in or out (it may have changed the
	// books) and cleared by the guard's sweep when it finds nothing left to
	// expire; a conn is on the guard's active list from the first datagram
	// after it was cleared until then. An idle endpoint costs no sweep.
	busy atomic.Bool

	mu sync.Mutex
	// adm is the endpoint's budget for pre-authentication datagrams of
	// sources without a recent login and their recent rates; nil while
	// the endpoint has had none of them for a while (admission).
	adm *admission
	// The tables below are nil until first used (put) and set back to nil
	// once the conn is found quiet, so that an idle endpoint holds no
	// table and one a flood grew gives its memory back.
	//
	// RMCP+ handshakes between Open Session and RAKP 4, by BMC session ID.
	pending map[uint32]*pendingSession
	// unprovenQueue lists unproven handshakes in the order they were
	// opened: the eviction candidates. Stale entries are skipped.
	unprovenQueue []uint32
	unprovenCount int // unproven handshakes still waiting for their RAKP 1
	// Open Session requests handed to go-ipmi and not yet answered.
	awaitOpen        map[netip.AddrPort]openWait
	inflightOpens    int
	inflightUnproven int
	lastOpen         time.Time
	// The handshake whose RAKP 2 (RAKP 4) go-ipmi owes to an address.
	awaitRAKP2 map[netip.AddrPort]*pendingSession
	awaitRAKP4 map[netip.AddrPort]*pendingSession
	// Established RMCP+ sessions, by BMC session ID.
	sessions map[uint32]*sessionRecord
	// IPMI v1.5: pending challenges (real and made up) by temporary
	// session ID, the challenges and activations go-ipmi owes an answer,
	// and active sessions by session ID.
	v15            map[uint32]*v15Handshake
	awaitChallenge map[netip.AddrPort]openWait
	awaitActivate  map[netip.AddrPort]*v15Handshake
	v15Active      map[uint32]*v15Record
}

// openWait counts the requests from one address go-ipmi owes an answer.
type openWait struct {
	n        int
	proven   bool
	user     string
	authType byte
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
	return &guardedConn{udp: udp, guard: g, ep: ep}
}

// put sets m[k] = v, making the map first if it is nil (the conn's tables
// are made on first use).
func put[K comparable, V any](m *map[K]V, k K, v V) {
	if *m == nil {
		*m = make(map[K]V)
	}
	(*m)[k] = v
}

// answered is admit's verdict for a datagram the conn answered itself.
const answered = "-"

// ReadFrom returns the next datagram worth handing to go-ipmi.
func (c *guardedConn) ReadFrom(buf []byte) (int, net.Addr, error) {
	if c.first != nil {
		n, addr := copy(buf, c.first), c.firstFrom
		c.first, c.firstFrom = nil, nil
		return n, addr, nil
	}
	n, addr, _, err := c.read(buf)
	return n, addr, err
}

// read reads datagrams into buf until one is admitted, and returns it with
// its kind.
func (c *guardedConn) read(buf []byte) (int, *net.UDPAddr, packetKind, error) {
	for {
		n, addr, err := c.udp.ReadFromUDP(buf)
		if err != nil {
			return 0, nil, 0, err
		}
		if n == len(buf) {
			c.ep.obs.Dropped(c.ep.Name(), "oversize")
			continue
		}
		kind, ok := c.admit(buf[:n], addr)
		c.touch()
		if ok {
			return n, addr, kind, nil
		}
	}
}

// awaitSession answers presence pings until a datagram that needs go-ipmi's
// server arrives, and keeps that one for the server's first ReadFrom. The
// endpoint runs the server from then on; until then it costs its serve
// goroutine and a read buffer, not go-ipmi's second goroutine per server
// (session eviction) nor its buffer: monitoring's pings and the start-up
// check of every endpoint do not start servers that no client uses. The
// pong is go-ipmi's own (protocol.BuildASFPresencePong, as its server
// answers), and the ping went through the same admission as any datagram.
func (c *guardedConn) awaitSession() error {
	buf := make([]byte, readBufferSize)
	for {
		n, addr, kind, err := c.read(buf)
		if errors.Is(err, net.ErrClosed) {
			return err
		}
		if err != nil {
			continue // transient, as go-ipmi's server takes it
		}
		if kind != kindPing {
			c.first, c.firstFrom = buf[:n], addr
			return nil
		}
		_, _ = c.WriteTo(protocol.BuildASFPresencePong(buf[9]), addr)
	}
}

// admit decides one datagram's fate and returns its kind. A panic in the
// decision costs the datagram, never the process.
func (c *guardedConn) admit(pkt []byte, addr *net.UDPAddr) (kind packetKind, ok bool) {
	ap := addr.AddrPort()
	src := netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	defer func() {
		if p := recover(); p != nil {
			c.guard.panicked(c.ep, src.Addr().String(), "conn_read", p, "datagram", fmt.Sprintf("% x", pkt))
			kind, ok = 0, false
		}
	}()
	kind, reason := classify(pkt)
	if reason == "" {
		reason = c.admitKind(kind, pkt, src)
	}
	switch reason {
	case "":
		return kind, true
	case answered:
	default:
		c.ep.obs.Dropped(c.ep.Name(), reason)
	}
	return kind, false
}

func (c *guardedConn) admitKind(kind packetKind, pkt []byte, src netip.AddrPort) string {
	switch kind {
	case kindPing, kindPreSession:
		return c.spendPreAuth(src.Addr(), c.guard.isProven(src.Addr()))
	case kindOpenSession:
		return c.admitOpenSession(pkt, src)
	case kindRAKP1:
		return c.admitRAKP1(pkt, src)
	case kindRAKP3:
		return c.admitRAKP3(pkt, src)
	case kindInSession:
		return c.admitInSession(pkt, src)
	case kindV15Challenge:
		return c.admitV15Challenge(pkt, src)
	case kindV15Session:
		return c.admitV15Session(pkt, src)
	}
	return "unknown"
}

// admitLoginStart is what opens a login, RMCP+ Open Session or v1.5 Get
// Session Challenge, must pass first: the source is not locked out for
// failed logins, and it can pay the pre-authentication budget (proven:
// whether it logged in recently). why is the drop reason, "" to go on.
func (c *guardedConn) admitLoginStart(addr netip.Addr) (proven bool, why string) {
	if c.guard.lockedOut(sourceKey{c.ep, addr}) {
		c.guard.refusedLogin(c.ep, addr, "", "too many failed logins")
		return false, "auth_rate_limited"
	}
	proven = c.guard.isProven(addr)
	return proven, c.spendPreAuth(addr, proven)
}

// spendPreAuth charges one pre-authentication datagram to its lane's
// budgets: the endpoint's and the global unproven budgets for a source
// without a recent login (its address may be forged: it is charged to no
// one in particular), the source's own budget otherwise, and the global
// ceiling in both cases.
//
// Within the unproven budgets, a source sending more than heavyPerSecond
// a second to the endpoint (a flood from one real address) may only use
// the upper half of the buckets: the lower half stays for light sources,
// so a console is not starved by one flooding host. A forger can make a
// console's address heavy by forging it, but that gains nothing over what
// a flood from random addresses does anyway (drain the whole budget).
func (c *guardedConn) spendPreAuth(addr netip.Addr, proven bool) string {
	heavy := false
	if !proven {
		now := c.guard.now()
		c.mu.Lock()
		if c.adm == nil {
			c.adm = &admission{}
		}
		heavy = c.adm.hitters.add(addr, now)
		floor := 0.0
		if heavy {
			floor = c.guard.cfg.Unproven.Burst / 2
		}
		ok := c.adm.unproven.takeAbove(c.guard.cfg.Unproven, floor, now)
		c.mu.Unlock()
		if !ok {
			return "unproven_budget"
		}
	}
	if ok, why := c.guard.admitPreAuth(sourceKey{c.ep, addr}, proven, heavy); !ok {
		return why
	}
	return ""
}

// WriteTo sends one of go-ipmi's replies, keeping the books on the way.
func (c *guardedConn) WriteTo(pkt []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, net.InvalidAddrError("not a UDP address")
	}
	ap := ua.AddrPort()
	dst := netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	out := c.account(pkt, dst)
	c.touch()
	if out == nil {
		return len(pkt), nil
	}
	return c.udp.WriteToUDP(out, ua)
}

// account keeps the books from an outbound datagram and returns what to
// send (nil: nothing). A panic here costs the reply, never the process.
func (c *guardedConn) account(pkt []byte, dst netip.AddrPort) (out []byte) {
	defer func() {
		if p := recover(); p != nil {
			c.guard.panicked(c.ep, dst.Addr().String(), "conn_write", p, "datagram", fmt.Sprintf("% x", pkt))
			out = nil
		}
	}()
	if len(pkt) < 5 || pkt[3]&0x1F != 0x07 {
		return pkt
	}
	if pkt[4] == 0x06 {
		c.accountRMCPPlus(pkt, dst)
		return pkt
	}
	return c.accountV15(pkt, dst)
}

// reply sends a datagram the conn answers itself.
func (c *guardedConn) reply(pkt []byte, dst netip.AddrPort) {
	_, _ = c.udp.WriteToUDP(pkt, net.UDPAddrFromAddrPort(dst))
}

func (c *guardedConn) Close() error {
	c.guard.unregister(c)
	c.mu.Lock()
	flights := 0
	for _, r := range c.sessions {
		flights += len(r.flights)
	}
	for _, r := range c.v15Active {
		flights += len(r.flights)
	}
	held := len(c.pending) + c.inflightOpens
	clear(c.pending)
	clear(c.sessions)
	clear(c.v15Active)
	c.inflightOpens = 0
	c.mu.Unlock()
	c.guard.releasePending(held)
	c.guard.releaseFlight(flights)
	return c.udp.Close()
}

// LocalAddr lets go-ipmi learn the port it serves on.
func (c *guardedConn) LocalAddr() net.Addr { return c.udp.LocalAddr() }

// touch marks the conn busy after a datagram, putting it on the guard's
// active list if it was not. It comes after the datagram's effect on the
// books, so that a sweep that found the conn quiet and took it off the list
// either saw that effect or sees it put back.
func (c *guardedConn) touch() {
	if !c.busy.Swap(true) {
		c.guard.activate(c)
	}
}

// settle drops the conn's admission state once dropping it changes
// nothing (admission); called by the guard's sweep.
func (c *guardedConn) settle(now time.Time) {
	c.mu.Lock()
	if c.adm != nil && c.adm.settled(c.guard.cfg.Unproven, now) {
		c.adm = nil
	}
	c.mu.Unlock()
}

// quiet reports whether the conn holds nothing sweep could expire (no
// handshake, session, v1.5 challenge or answer owed, no admission state)
// and go-ipmi's session tables nothing its eviction could: every conn of
// an idle daemon. A quiet conn's tables, empty, are released.
func (c *guardedConn) quiet() bool {
	c.mu.Lock()
	books := len(c.pending) == 0 && len(c.unprovenQueue) == 0 && c.inflightOpens == 0 &&
		len(c.awaitRAKP2) == 0 && len(c.awaitRAKP4) == 0 && len(c.sessions) == 0 &&
		len(c.v15) == 0 && len(c.v15Active) == 0 && c.adm == nil
	if books {
		c.releaseTablesLocked()
	}
	c.mu.Unlock()
	return books && c.ep.bmc.Sessions.Count() == 0 && c.ep.bmc.V15Sessions.Count() == 0
}

// releaseTablesLocked lets go of the conn's tables when they are all empty
// but for answers owed (awaitOpen, awaitChallenge, awaitActivate, whose
// entries go with their answers). c.mu must be held.
func (c *guardedConn) releaseTablesLocked() {
	c.pending, c.awaitRAKP2, c.awaitRAKP4, c.sessions = nil, nil, nil, nil
	c.v15, c.v15Active, c.unprovenQueue = nil, nil, nil
	if len(c.awaitOpen) == 0 {
		c.awaitOpen = nil
	}
	if len(c.awaitChallenge) == 0 {
		c.awaitChallenge = nil
	}
	if len(c.awaitActivate) == 0 {
		c.awaitActivate = nil
	}
}

// sweep expires what clients left behind; called once a second by the guard.
func (c *guardedConn) sweep(now time.Time) {
	c.sweepHandshakes(now)
	c.sweepSessions(now)
	c.sweepV15(now)
}

// closeSession ends an RMCP+ session in go-ipmi; the store's removal hook
// (forget) updates the books. c.mu must not be held.
func (c *guardedConn) closeSession(id uint32) {
	_ = c.ep.bmc.Sessions.Close(id)
}

// forget is go-ipmi's removal hook: a session left the store (closed,
// evicted for inactivity, or by us).
func (c *guardedConn) forget(id uint32) {
	c.mu.Lock()
	released, flights := 0, 0
	if p, ok := c.pending[id]; ok {
		released = c.removePendingLocked(p)
	}
	if r, ok := c.sessions[id]; ok {
		flights = len(r.flights)
		delete(c.sessions, id)
	}
	c.mu.Unlock()
	c.guard.releasePending(released)
	c.guard.releaseFlight(flights)
}

// established returns the number of open sessions (RMCP+ and v1.5).
func (c *guardedConn) established() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sessions) + len(c.v15Active)
}

// rmcpSessions returns the number of established RMCP+ sessions: the
// table cfg.MaxSessions bounds (v1.5 has go-ipmi's own table of four).
func (c *guardedConn) rmcpSessions() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sessions)
}

func digest(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}
