// Package snmpagent is a small SNMP agent (responder) that serves a
// caller-supplied MIB over UDP. It exists so powerjockey's simulated rack can
// stand in for real switched PDUs in tests and demos.
//
// The agent speaks SNMPv1 and SNMPv2c (Get, GetNext, GetBulk, Set) with
// community-based access, and SNMPv3 with the User-based Security Model
// (RFC 3414): engine discovery, time windows, noAuthNoPriv, authNoPriv and
// authPriv. Packets are decoded and encoded with gosnmp's codec; this package
// adds only the agent side that gosnmp lacks (dispatch, USM checks, reports).
//
// A MIB is anything implementing [MIB]; [Tree] is a ready-made one whose
// objects may compute their value on each read and act on each SET. See the
// package example for a one-outlet PDU.
package snmpagent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosnmp/gosnmp"
)

// Config says where an Agent listens and whom it answers.
type Config struct {
	// Listen is the UDP address to bind, e.g. "127.0.0.1:0" for a free port.
	Listen string
	// ReadCommunity grants SNMPv1/v2c read access; empty disables it.
	ReadCommunity string
	// WriteCommunity grants SNMPv1/v2c read and write access; empty
	// disables it.
	WriteCommunity string
	// Users are the SNMPv3 USM users; none disables SNMPv3 except engine
	// discovery.
	Users []USMUser
	// EngineID is the agent's snmpEngineID as raw octets (5 to 32). Empty
	// derives one from the bound address, so an agent restarted on the same
	// address keeps its identity and two simulated devices differ.
	EngineID string
	// EngineBoots is the snmpEngineBoots reported to SNMPv3 clients; zero
	// means 1. A simulation bumps it to model a device reboot.
	EngineBoots uint32
}

// USMUser is one SNMPv3 user. Its protocols set the highest security level
// it can use and the lowest it is allowed: an authPriv user is refused with
// authorizationError when it sends an authNoPriv request.
type USMUser struct {
	Name string
	// AuthProtocol is gosnmp.MD5, SHA, SHA224, SHA256, SHA384 or SHA512;
	// zero or gosnmp.NoAuth makes a noAuthNoPriv user.
	AuthProtocol gosnmp.SnmpV3AuthProtocol
	// AuthPassphrase must have at least 8 characters (RFC 3414 §11.2).
	AuthPassphrase string
	// PrivProtocol is gosnmp.DES, AES, AES192, AES256, AES192C or AES256C;
	// zero or gosnmp.NoPriv disables privacy. It requires an AuthProtocol.
	PrivProtocol gosnmp.SnmpV3PrivProtocol
	// PrivPassphrase must have at least 8 characters.
	PrivPassphrase string
	// ReadWrite allows SET; otherwise the user may only read.
	ReadWrite bool
}

// Option tunes an Agent.
type Option func(*Agent)

// WithLogger sets the logger; the default discards everything. Dropped
// datagrams are logged at debug level, MIB and encoding faults at warn.
func WithLogger(l *slog.Logger) Option {
	return func(a *Agent) { a.log = l }
}

// WithMaxMessageSize sets the largest message the agent sends, 484 to 65507
// bytes (default 65507). Responses that would be larger become tooBig, and
// GetBulk responses are cut short, as a small embedded agent would do.
func WithMaxMessageSize(n int) Option {
	return func(a *Agent) { a.maxMsgSize = n }
}

// Stats counts what an Agent has seen. Every counter only grows.
type Stats struct {
	// Requests counts datagrams received, including dropped ones.
	Requests uint64
	// Responses counts Response and Report PDUs sent.
	Responses uint64
	// Malformed counts datagrams dropped because they did not decode, broke
	// a protocol rule, or were not requests an agent answers.
	Malformed uint64
	// UnknownCommunity counts SNMPv1/v2c requests dropped for their community.
	UnknownCommunity uint64
	// AuthFailures counts SNMPv3 requests refused by USM: the sum of
	// UnknownUserNames, UnsupportedSecLevels, WrongDigests and
	// DecryptionErrors.
	AuthFailures uint64
	// The USM counters of RFC 3414 §5, whose values the Report PDUs carry.
	UnknownEngineIDs, UnknownUserNames, UnsupportedSecLevels uint64
	WrongDigests, DecryptionErrors, NotInTimeWindows         uint64
	// Dropped counts requests ignored while SetDropAll was on.
	Dropped uint64
}

type counters struct {
	requests, responses, malformed, unknownCommunity atomic.Uint64
	unknownEngineIDs, unknownUserNames, unsupportedSecLevels,
	wrongDigests, decryptionErrors, notInTimeWindows atomic.Uint64
	dropped atomic.Uint64
}

// Agent is an SNMP agent bound to a UDP socket. Its methods are safe for
// concurrent use.
type Agent struct {
	mib            MIB
	log            *slog.Logger
	conn           *net.UDPConn
	readCommunity  string
	writeCommunity string
	users          map[string]*usmUser
	engineID       string
	engineBoots    uint32
	started        time.Time
	maxMsgSize     int

	counters counters
	dropAll  atomic.Bool
	delay    atomic.Int64 // time.Duration
	serving  atomic.Bool
	salt     atomic.Uint64 // privacy salt counter (RFC 3414 §8.1.1.1, RFC 3826 §3.1.2.1)

	closeOnce sync.Once
	closeErr  error
}

const (
	// maxUDPPayload is the largest IPv4 UDP payload.
	maxUDPPayload = 65507
	// minMsgSize is the smallest msgMaxSize SNMPv3 allows (RFC 3412 §6).
	minMsgSize = 484
)

// New validates cfg, binds the UDP socket and returns an Agent ready to
// Serve. The caller owns the Agent and must end it by cancelling Serve's
// context or calling Close.
func New(cfg Config, mib MIB, opts ...Option) (*Agent, error) {
	if cfg.Listen == "" {
		return nil, errors.New("snmpagent: Config.Listen is empty")
	}
	conn, err := net.ListenPacket("udp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("snmpagent: listen: %w", err)
	}
	a, err := newAgent(cfg, mib, conn.LocalAddr().String(), opts...)
	if err != nil {
		conn.Close()
		return nil, err
	}
	a.conn = conn.(*net.UDPConn)
	return a, nil
}

// newAgent builds an Agent without a socket; localAddr seeds the default
// engine ID. Tests and the fuzzer use it directly.
func newAgent(cfg Config, mib MIB, localAddr string, opts ...Option) (*Agent, error) {
	if mib == nil {
		return nil, errors.New("snmpagent: nil MIB")
	}
	// gosnmp writes the community's length as a single octet, so longer
	// communities would produce malformed responses.
	if len(cfg.ReadCommunity) > 127 || len(cfg.WriteCommunity) > 127 {
		return nil, errors.New("snmpagent: communities are limited to 127 octets")
	}
	a := &Agent{
		mib:            mib,
		log:            slog.New(slog.DiscardHandler),
		readCommunity:  cfg.ReadCommunity,
		writeCommunity: cfg.WriteCommunity,
		engineID:       cfg.EngineID,
		engineBoots:    cfg.EngineBoots,
		started:        time.Now(),
		maxMsgSize:     maxUDPPayload,
		users:          make(map[string]*usmUser, len(cfg.Users)),
	}
	for _, o := range opts {
		o(a)
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.maxMsgSize < minMsgSize || a.maxMsgSize > maxUDPPayload {
		return nil, fmt.Errorf("snmpagent: max message size %d is outside %d..%d", a.maxMsgSize, minMsgSize, maxUDPPayload)
	}
	if a.engineBoots == 0 {
		a.engineBoots = 1
	}
	if a.engineBoots >= math.MaxInt32 {
		return nil, fmt.Errorf("snmpagent: engine boots %d is not below 2^31-1 (RFC 3414 §2.2.2)", a.engineBoots)
	}
	if a.engineID == "" {
		a.engineID = deriveEngineID(localAddr)
	}
	if n := len(a.engineID); n < 5 || n > 32 {
		return nil, fmt.Errorf("snmpagent: engine ID has %d octets, want 5 to 32", n)
	}
	// A random start keeps a restarted agent, which keeps its engine ID,
	// boots and keys, from repeating privacy IVs (RFC 3826 §3.1.2.1).
	a.salt.Store(rand.Uint64())
	for _, uc := range cfg.Users {
		if _, dup := a.users[uc.Name]; dup {
			return nil, fmt.Errorf("snmpagent: duplicate user %q", uc.Name)
		}
		u, err := newUSMUser(uc, a.engineID)
		if err != nil {
			return nil, fmt.Errorf("snmpagent: user %q: %w", uc.Name, err)
		}
		a.users[uc.Name] = u
	}
	return a, nil
}

// deriveEngineID builds an RFC 3411 snmpEngineID from addr: the enterprise
// bit with enterprise number 0 (none is registered for us), format 5
// (administratively assigned octets), and 12 octets of SHA-256 of addr.
func deriveEngineID(addr string) string {
	sum := sha256.Sum256([]byte("powerjockey snmpagent " + addr))
	return string(append([]byte{0x80, 0, 0, 0, 5}, sum[:12]...))
}

// Addr returns the address the agent is bound to.
func (a *Agent) Addr() net.Addr { return a.conn.LocalAddr() }

// EngineID returns the agent's snmpEngineID as raw octets.
func (a *Agent) EngineID() string { return a.engineID }

// SetDropAll makes the agent ignore every request while drop is true, like
// an unreachable device.
func (a *Agent) SetDropAll(drop bool) { a.dropAll.Store(drop) }

// SetResponseDelay makes the agent wait d before sending each response, like
// a slow device. Requests are handled one at a time, so the delays add up
// when requests queue.
func (a *Agent) SetResponseDelay(d time.Duration) { a.delay.Store(int64(d)) }

// Stats returns a snapshot of the agent's counters.
func (a *Agent) Stats() Stats {
	c := &a.counters
	s := Stats{
		Requests:             c.requests.Load(),
		Responses:            c.responses.Load(),
		Malformed:            c.malformed.Load(),
		UnknownCommunity:     c.unknownCommunity.Load(),
		UnknownEngineIDs:     c.unknownEngineIDs.Load(),
		UnknownUserNames:     c.unknownUserNames.Load(),
		UnsupportedSecLevels: c.unsupportedSecLevels.Load(),
		WrongDigests:         c.wrongDigests.Load(),
		DecryptionErrors:     c.decryptionErrors.Load(),
		NotInTimeWindows:     c.notInTimeWindows.Load(),
		Dropped:              c.dropped.Load(),
	}
	s.AuthFailures = s.UnknownUserNames + s.UnsupportedSecLevels + s.WrongDigests + s.DecryptionErrors
	return s
}

// Close closes the socket, which also ends Serve. It is safe to call more
// than once.
func (a *Agent) Close() error {
	a.closeOnce.Do(func() { a.closeErr = a.conn.Close() })
	return a.closeErr
}

// Serve answers requests until ctx is done or the agent is closed, then
// closes the socket and returns nil. It handles one datagram at a time, as
// the embedded agents it imitates do. Serve may be called only once.
func (a *Agent) Serve(ctx context.Context) error {
	if !a.serving.CompareAndSwap(false, true) {
		return errors.New("snmpagent: Serve called twice")
	}
	defer a.Close()
	// Closing the socket is what unblocks a pending read.
	stop := context.AfterFunc(ctx, func() { a.Close() })
	defer stop()

	buf := make([]byte, maxUDPPayload+1)
	for {
		n, peer, err := a.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("snmpagent: read: %w", err)
		}
		a.counters.requests.Add(1)
		if a.dropAll.Load() {
			a.counters.dropped.Add(1)
			continue
		}
		resp := a.handleSafely(buf[:n], peer)
		if resp == nil {
			continue
		}
		if d := time.Duration(a.delay.Load()); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil
			}
		}
		if _, err := a.conn.WriteToUDPAddrPort(resp, peer); err != nil {
			a.log.Warn("snmpagent: send failed", "peer", peer, "err", err)
			continue
		}
		a.counters.responses.Add(1)
	}
}

// handleSafely is handle with a last line of defence: a panic in a MIB
// callback or in gosnmp must cost one request, not the daemon.
func (a *Agent) handleSafely(raw []byte, peer netip.AddrPort) (resp []byte) {
	defer func() {
		if r := recover(); r != nil {
			a.log.Error("snmpagent: panic while handling a request", "peer", peer, "panic", r, "stack", string(debug.Stack()))
			resp = nil
		}
	}()
	return a.handle(raw, peer)
}

// handle decodes one datagram and returns the encoded reply, or nil to send
// nothing. It does not retain raw.
func (a *Agent) handle(raw []byte, peer netip.AddrPort) []byte {
	// gosnmp decodes in place and hands out sub-slices of its input; the
	// caller reuses raw, and a MIB may keep a SET's []byte value.
	raw = bytes.Clone(raw)
	version, err := peekVersion(raw)
	if err != nil {
		return a.drop(peer, "undecodable datagram", err)
	}
	switch version {
	case gosnmp.Version1, gosnmp.Version2c:
		return a.handleCommunity(raw, version, peer)
	case gosnmp.Version3:
		return a.handleUSM(raw, peer)
	}
	return a.drop(peer, "unsupported SNMP version", fmt.Errorf("version field %d", version))
}

// drop counts and logs a malformed datagram and returns nil.
func (a *Agent) drop(peer netip.AddrPort, why string, err error) []byte {
	a.counters.malformed.Add(1)
	a.log.Debug("snmpagent: dropped "+why, "peer", peer, "err", err)
	return nil
}

// handleCommunity serves SNMPv1 and SNMPv2c.
func (a *Agent) handleCommunity(raw []byte, version gosnmp.SnmpVersion, peer netip.AddrPort) []byte {
	req, err := (&gosnmp.GoSNMP{Version: version}).SnmpDecodePacket(raw)
	if err != nil {
		return a.drop(peer, "undecodable message", err)
	}
	var canWrite bool
	switch {
	case a.writeCommunity != "" && req.Community == a.writeCommunity:
		canWrite = true
	case a.readCommunity != "" && req.Community == a.readCommunity:
	default:
		a.counters.unknownCommunity.Add(1)
		a.log.Debug("snmpagent: dropped request with unknown community", "peer", peer)
		return nil
	}
	if err := checkRequest(req); err != nil {
		return a.drop(peer, "invalid request", err)
	}
	resp := a.process(req, canWrite)
	encode := func(r response) ([]byte, error) {
		p := &gosnmp.SnmpPacket{
			Version:    version,
			Community:  req.Community,
			PDUType:    gosnmp.GetResponse,
			RequestID:  req.RequestID,
			Error:      r.status,
			ErrorIndex: uint8(r.index),
			Variables:  r.vars,
		}
		return p.MarshalMsg()
	}
	out, err := fit(resp, req, a.maxMsgSize, encode)
	if err != nil {
		a.log.Warn("snmpagent: cannot encode response", "peer", peer, "err", err)
		return nil
	}
	return out
}
