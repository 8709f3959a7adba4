package snmpagent

import (
	"bytes"
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/gosnmp/gosnmp"
)

// The USM statistics objects of RFC 3414 §5 that Report PDUs carry.
const (
	oidUnsupportedSecLevels = "1.3.6.1.6.3.15.1.1.1.0"
	oidNotInTimeWindows     = "1.3.6.1.6.3.15.1.1.2.0"
	oidUnknownUserNames     = "1.3.6.1.6.3.15.1.1.3.0"
	oidUnknownEngineIDs     = "1.3.6.1.6.3.15.1.1.4.0"
	oidWrongDigests         = "1.3.6.1.6.3.15.1.1.5.0"
	oidDecryptionErrors     = "1.3.6.1.6.3.15.1.1.6.0"
)

// privWithoutAuth is the msgFlags combination RFC 3412 §6.4 forbids.
const privWithoutAuth gosnmp.SnmpV3MsgFlags = 0x02

// timeWindow is how far a request's engine time may stray (RFC 3414 §3.2 7b).
const timeWindow = 150

// usmUser is a configured user with keys localized to the agent's engine ID.
type usmUser struct {
	USMUser
	level   gosnmp.SnmpV3MsgFlags // the security level its protocols give
	authKey []byte
	privKey []byte
}

func newUSMUser(c USMUser, engineID string) (*usmUser, error) {
	if c.Name == "" || len(c.Name) > 32 {
		return nil, errors.New("name must have 1 to 32 octets")
	}
	if c.AuthProtocol == 0 {
		c.AuthProtocol = gosnmp.NoAuth
	}
	if c.PrivProtocol == 0 {
		c.PrivProtocol = gosnmp.NoPriv
	}
	u := &usmUser{USMUser: c, level: gosnmp.NoAuthNoPriv}
	switch {
	case c.AuthProtocol < gosnmp.NoAuth || c.AuthProtocol > gosnmp.SHA512:
		return nil, fmt.Errorf("unknown auth protocol %d", c.AuthProtocol)
	case c.PrivProtocol < gosnmp.NoPriv || c.PrivProtocol > gosnmp.AES256C:
		return nil, fmt.Errorf("unknown privacy protocol %d", c.PrivProtocol)
	case c.PrivProtocol != gosnmp.NoPriv && c.AuthProtocol == gosnmp.NoAuth:
		return nil, errors.New("privacy requires authentication")
	case c.AuthProtocol != gosnmp.NoAuth && len(c.AuthPassphrase) < 8:
		return nil, errors.New("auth passphrase must have at least 8 characters")
	case c.PrivProtocol != gosnmp.NoPriv && len(c.PrivPassphrase) < 8:
		return nil, errors.New("privacy passphrase must have at least 8 characters")
	}
	if c.AuthProtocol == gosnmp.NoAuth {
		return u, nil
	}
	// gosnmp's InitSecurityKeys does the password-to-key and localization of
	// RFC 3414 §A.2 (and the AES key extensions) for us.
	sp := u.securityParameters(engineID)
	if err := sp.InitSecurityKeys(); err != nil {
		return nil, fmt.Errorf("localizing keys: %w", err)
	}
	u.authKey, u.privKey, u.level = sp.SecretKey, sp.PrivacyKey, gosnmp.AuthNoPriv
	if c.PrivProtocol != gosnmp.NoPriv {
		u.level = gosnmp.AuthPriv
	}
	return u, nil
}

// securityParameters returns fresh gosnmp parameters for the user, carrying
// its localized keys once they exist.
func (u *usmUser) securityParameters(engineID string) *gosnmp.UsmSecurityParameters {
	return &gosnmp.UsmSecurityParameters{
		AuthoritativeEngineID:    engineID,
		UserName:                 u.Name,
		AuthenticationProtocol:   u.AuthProtocol,
		AuthenticationPassphrase: u.AuthPassphrase,
		PrivacyProtocol:          u.PrivProtocol,
		PrivacyPassphrase:        u.PrivPassphrase,
		SecretKey:                u.authKey,
		PrivacyKey:               u.privKey,
	}
}

// v3Header is the unauthenticated part of an SNMPv3 message that the agent
// must read before it knows which user's keys apply. gosnmp cannot parse it
// without those keys, hence this small reader.
type v3Header struct {
	msgID    uint32
	maxSize  int
	flags    gosnmp.SnmpV3MsgFlags
	secModel int64
	engineID string
	boots    int64
	time     int64
	user     string
	// authStart and authEnd bound msgAuthenticationParameters' contents
	// within the message.
	authStart, authEnd int
}

func (h *v3Header) level() gosnmp.SnmpV3MsgFlags { return h.flags & gosnmp.AuthPriv }

// handleUSM serves SNMPv3 following the order of checks in RFC 3414 §3.2.
func (a *Agent) handleUSM(raw []byte, peer netip.AddrPort) []byte {
	h, err := parseV3Header(raw)
	if err != nil {
		return a.drop(peer, "malformed SNMPv3 header", err)
	}
	switch {
	case h.secModel != int64(gosnmp.UserSecurityModel):
		return a.drop(peer, "unknown security model", fmt.Errorf("model %d", h.secModel))
	case h.level() == privWithoutAuth:
		return a.drop(peer, "invalid msgFlags", errors.New("privacy without authentication"))
	case h.maxSize < minMsgSize:
		return a.drop(peer, "invalid msgMaxSize", fmt.Errorf("%d < %d", h.maxSize, minMsgSize))
	}

	if h.engineID != a.engineID {
		// Also the answer to engine discovery (RFC 3414 §4).
		return a.report(h, raw, nil, oidUnknownEngineIDs, &a.counters.unknownEngineIDs, peer)
	}
	u := a.users[h.user]
	switch {
	case u == nil:
		return a.report(h, raw, nil, oidUnknownUserNames, &a.counters.unknownUserNames, peer)
	case h.level() > u.level:
		return a.report(h, raw, nil, oidUnsupportedSecLevels, &a.counters.unsupportedSecLevels, peer)
	}
	if h.level()&gosnmp.AuthNoPriv != 0 {
		if !verifyDigest(raw, h, u) {
			return a.report(h, raw, nil, oidWrongDigests, &a.counters.wrongDigests, peer)
		}
		if !a.inTimeWindow(h) {
			// Sent authenticated so the client can trust our boots and time.
			return a.report(h, raw, u, oidNotInTimeWindows, &a.counters.notInTimeWindows, peer)
		}
	}
	req, err := a.decodeV3(raw, h, u)
	if err != nil {
		if h.level() == gosnmp.AuthPriv {
			// The digest matched, so the payload is what the user sent: if it
			// does not decode, the privacy key or protocol is wrong.
			return a.report(h, raw, nil, oidDecryptionErrors, &a.counters.decryptionErrors, peer)
		}
		return a.drop(peer, "undecodable scoped PDU", err)
	}
	if err := checkRequest(req); err != nil {
		return a.drop(peer, "invalid request", err)
	}
	var resp response
	if h.level() < u.level {
		// USM accepted the message, but access control wants the user's
		// full level (RFC 3413 §3.2 step 5 answers authorizationError).
		resp = response{status: gosnmp.AuthorizationError, vars: echo(req.Variables)}
	} else {
		resp = a.process(req, u.ReadWrite)
	}
	encode := func(r response) ([]byte, error) {
		return a.marshalV3(h, u, h.level(), gosnmp.GetResponse, req.RequestID, req.ContextName, r)
	}
	out, err := fit(resp, req, min(a.maxMsgSize, h.maxSize), encode)
	if err != nil {
		a.log.Warn("snmpagent: cannot encode response", "peer", peer, "err", err)
		return nil
	}
	return out
}

// report counts a USM error and answers it with a Report PDU carrying the
// counter (RFC 3412 §7.1 step 3, RFC 3414 §3.2). The report is
// authenticated as u when u is not nil, otherwise sent noAuthNoPriv.
func (a *Agent) report(h *v3Header, raw []byte, u *usmUser, oid string, counter *atomic.Uint64, peer netip.AddrPort) []byte {
	n := counter.Add(1)
	a.log.Debug("snmpagent: SNMPv3 report", "peer", peer, "oid", oid, "user", h.user)
	if h.flags&gosnmp.Reportable == 0 {
		return nil
	}
	level := gosnmp.NoAuthNoPriv
	if u != nil {
		level = gosnmp.AuthNoPriv
	}
	// Echo the request-id when it can be read; clients match reports by
	// msgID anyway.
	var requestID uint32
	var contextName string
	if u != nil || h.level() == gosnmp.NoAuthNoPriv {
		if req, err := a.decodeV3(raw, h, u); err == nil {
			requestID, contextName = req.RequestID, req.ContextName
		}
	}
	r := response{vars: []gosnmp.SnmpPDU{{Name: oid, Type: gosnmp.Counter32, Value: uint32(n)}}}
	out, err := a.marshalV3(h, u, level, gosnmp.Report, requestID, contextName, r)
	if err != nil {
		a.log.Warn("snmpagent: cannot encode report", "peer", peer, "err", err)
		return nil
	}
	return out
}

// decodeV3 decrypts and decodes the scoped PDU with gosnmp. u may be nil
// only for a noAuthNoPriv message. The digest must have been checked:
// gosnmp's SnmpDecodePacket does not verify it.
func (a *Agent) decodeV3(raw []byte, h *v3Header, u *usmUser) (*gosnmp.SnmpPacket, error) {
	sp := &gosnmp.UsmSecurityParameters{UserName: "-", AuthenticationProtocol: gosnmp.NoAuth, PrivacyProtocol: gosnmp.NoPriv}
	if u != nil {
		sp = u.securityParameters(a.engineID)
	}
	dec := &gosnmp.GoSNMP{
		Version:            gosnmp.Version3,
		SecurityModel:      gosnmp.UserSecurityModel,
		MsgFlags:           h.level(),
		SecurityParameters: sp,
	}
	// SnmpDecodePacket blanks the digest and decrypts in place.
	return dec.SnmpDecodePacket(bytes.Clone(raw))
}

// marshalV3 encodes a Response or Report at the given level with gosnmp,
// which encrypts the scoped PDU and fills in the digest.
func (a *Agent) marshalV3(h *v3Header, u *usmUser, level gosnmp.SnmpV3MsgFlags, pduType gosnmp.PDUType, requestID uint32, contextName string, r response) ([]byte, error) {
	sp := &gosnmp.UsmSecurityParameters{
		AuthoritativeEngineID:    a.engineID,
		AuthoritativeEngineBoots: a.engineBoots,
		AuthoritativeEngineTime:  a.engineTime(),
		UserName:                 h.user,
		AuthenticationProtocol:   gosnmp.NoAuth,
		PrivacyProtocol:          gosnmp.NoPriv,
	}
	if level&gosnmp.AuthNoPriv != 0 {
		sp.AuthenticationProtocol, sp.SecretKey = u.AuthProtocol, u.authKey
	}
	if level == gosnmp.AuthPriv {
		sp.PrivacyProtocol, sp.PrivacyKey = u.PrivProtocol, u.privKey
		sp.PrivacyParameters = a.nextSalt(u.PrivProtocol)
	}
	p := &gosnmp.SnmpPacket{
		Version:            gosnmp.Version3,
		MsgFlags:           level,
		SecurityModel:      gosnmp.UserSecurityModel,
		SecurityParameters: sp,
		MsgID:              h.msgID,
		MsgMaxSize:         uint32(a.maxMsgSize),
		ContextEngineID:    a.engineID,
		ContextName:        contextName,
		PDUType:            pduType,
		RequestID:          requestID,
		Error:              r.status,
		ErrorIndex:         uint8(r.index),
		Variables:          r.vars,
	}
	out, err := p.MarshalMsg()
	if err == nil && len(out) == 0 {
		// gosnmp's authenticate recovers from panics by returning nothing.
		err = errors.New("gosnmp produced an empty message")
	}
	return out, err
}

// nextSalt returns fresh msgPrivacyParameters: for DES the engine boots and
// a counter (RFC 3414 §8.1.1.1), for AES a 64-bit counter (RFC 3826 §3.1.2.1).
func (a *Agent) nextSalt(p gosnmp.SnmpV3PrivProtocol) []byte {
	salt := make([]byte, 8)
	n := a.salt.Add(1)
	if p == gosnmp.DES {
		binary.BigEndian.PutUint32(salt, a.engineBoots)
		binary.BigEndian.PutUint32(salt[4:], uint32(n))
	} else {
		binary.BigEndian.PutUint64(salt, n)
	}
	return salt
}

// engineTime is snmpEngineTime: seconds since the agent started.
func (a *Agent) engineTime() uint32 {
	return uint32(min(time.Since(a.started)/time.Second, math.MaxInt32))
}

// inTimeWindow implements RFC 3414 §3.2 step 7b for an authoritative
// engine. (Its "boots latched at 2^31-1" case cannot arise: New refuses it.)
func (a *Agent) inTimeWindow(h *v3Header) bool {
	if h.boots != int64(a.engineBoots) {
		return false
	}
	d := h.time - int64(a.engineTime())
	return d >= -timeWindow && d <= timeWindow
}

// macLength is the truncated digest size of each authentication protocol
// (RFC 3414 §6-7: 12 octets; RFC 7860 §4.2.2: 16 to 48).
func macLength(p gosnmp.SnmpV3AuthProtocol) int {
	switch p {
	case gosnmp.SHA224:
		return 16
	case gosnmp.SHA256:
		return 24
	case gosnmp.SHA384:
		return 32
	case gosnmp.SHA512:
		return 48
	}
	return 12
}

// verifyDigest checks msgAuthenticationParameters: the HMAC of the whole
// message with that field zeroed, truncated to macLength (HMAC-MD5-96 and
// HMAC-SHA-96 of RFC 3414 §6.3.2 and §7.3.2 are plain HMAC truncated to 12
// octets; RFC 7860 §4.2.2 likewise for SHA-2). gosnmp does this only inside
// its trap listener and client, not as an exported function; its key
// localization (SecretKey) is reused.
func verifyDigest(raw []byte, h *v3Header, u *usmUser) bool {
	received := raw[h.authStart:h.authEnd]
	if len(received) != macLength(u.AuthProtocol) {
		return false
	}
	msg := bytes.Clone(raw)
	clear(msg[h.authStart:h.authEnd])
	mac := hmac.New(u.AuthProtocol.HashType().New, u.authKey)
	mac.Write(msg)
	return hmac.Equal(mac.Sum(nil)[:len(received)], received)
}

// BER tags of the message fields read here.
const (
	tagInteger     = 0x02
	tagOctetString = 0x04
	tagSequence    = 0x30
)

// berField reads the definite-length TLV at b[off:] and returns its tag and
// the bounds of its contents.
func berField(b []byte, off int) (tag byte, start, end int, err error) {
	if off+2 > len(b) {
		return 0, 0, 0, errors.New("truncated field")
	}
	tag, length, start := b[off], int(b[off+1]), off+2
	if length&0x80 != 0 {
		n := length & 0x7f
		// 0 is the indefinite form, which SNMP forbids (RFC 3417 §8); more
		// than 3 octets is larger than any datagram.
		if n == 0 || n > 3 || start+n > len(b) {
			return 0, 0, 0, errors.New("invalid length")
		}
		length = 0
		for _, c := range b[start : start+n] {
			length = length<<8 | int(c)
		}
		start += n
	}
	if start+length > len(b) {
		return 0, 0, 0, errors.New("field overruns its container")
	}
	return tag, start, start + length, nil
}

// berReader walks the fields of one constructed value.
type berReader struct {
	b   []byte // ends where the container ends
	off int
	err error
}

// next reads a field that must have tag want and returns its content bounds.
func (r *berReader) next(want byte) (start, end int) {
	if r.err != nil {
		return 0, 0
	}
	tag, start, end, err := berField(r.b, r.off)
	if err == nil && tag != want {
		err = fmt.Errorf("tag 0x%02x, want 0x%02x", tag, want)
	}
	if err != nil {
		r.err = fmt.Errorf("offset %d: %w", r.off, err)
		return 0, 0
	}
	r.off = end
	return start, end
}

// integer reads an INTEGER that must lie in [lo, hi].
func (r *berReader) integer(lo, hi int64) int64 {
	start, end := r.next(tagInteger)
	if r.err != nil {
		return 0
	}
	content := r.b[start:end]
	if len(content) == 0 || len(content) > 5 {
		r.err = fmt.Errorf("offset %d: INTEGER of %d octets", start, len(content))
		return 0
	}
	n := int64(int8(content[0])) // sign-extend
	for _, c := range content[1:] {
		n = n<<8 | int64(c)
	}
	if n < lo || n > hi {
		r.err = fmt.Errorf("offset %d: INTEGER %d outside %d..%d", start, n, lo, hi)
	}
	return n
}

func (r *berReader) octets(maxLen int) string {
	start, end := r.next(tagOctetString)
	if r.err == nil && end-start > maxLen {
		r.err = fmt.Errorf("offset %d: OCTET STRING of %d octets, at most %d allowed", start, end-start, maxLen)
	}
	return string(r.b[start:end])
}

// peekVersion reads msgVersion, checking that the outer SEQUENCE is exactly
// the datagram.
func peekVersion(raw []byte) (gosnmp.SnmpVersion, error) {
	tag, start, end, err := berField(raw, 0)
	switch {
	case err != nil:
		return 0, err
	case tag != tagSequence || end != len(raw):
		return 0, errors.New("datagram is not one SEQUENCE")
	}
	r := berReader{b: raw[:end], off: start}
	v := r.integer(0, math.MaxInt32)
	if r.err != nil {
		return 0, r.err
	}
	if v > math.MaxUint8 {
		return 0, fmt.Errorf("version %d", v)
	}
	return gosnmp.SnmpVersion(v), nil
}

// parseV3Header reads msgGlobalData and the USM security parameters
// (RFC 3412 §6, RFC 3414 §2.4).
func parseV3Header(raw []byte) (*v3Header, error) {
	var h v3Header
	_, start, end, err := berField(raw, 0)
	if err != nil {
		return nil, err
	}
	msg := berReader{b: raw[:end], off: start}
	msg.integer(3, 3) // msgVersion

	gStart, gEnd := msg.next(tagSequence)
	global := berReader{b: raw[:gEnd], off: gStart, err: msg.err}
	h.msgID = uint32(global.integer(0, math.MaxInt32))
	h.maxSize = int(global.integer(0, math.MaxInt32))
	if fStart, fEnd := global.next(tagOctetString); global.err == nil {
		if fEnd-fStart != 1 {
			return nil, fmt.Errorf("msgFlags of %d octets", fEnd-fStart)
		}
		h.flags = gosnmp.SnmpV3MsgFlags(raw[fStart])
	}
	h.secModel = global.integer(1, math.MaxInt32)
	if global.err == nil && global.off != gEnd {
		global.err = errors.New("trailing data in msgGlobalData")
	}
	if global.err != nil {
		return nil, fmt.Errorf("msgGlobalData: %w", global.err)
	}
	if h.secModel != int64(gosnmp.UserSecurityModel) {
		return &h, nil // the caller drops it; nothing more to read
	}

	pStart, pEnd := msg.next(tagOctetString)
	if msg.err != nil {
		return nil, fmt.Errorf("msgSecurityParameters: %w", msg.err)
	}
	params := berReader{b: raw[:pEnd], off: pStart}
	uStart, uEnd := params.next(tagSequence)
	if params.err == nil && uEnd != pEnd {
		return nil, errors.New("trailing data in msgSecurityParameters")
	}
	usm := berReader{b: raw[:uEnd], off: uStart, err: params.err}
	h.engineID = usm.octets(32)
	h.boots = usm.integer(0, math.MaxInt32)
	h.time = usm.integer(0, math.MaxInt32)
	h.user = usm.octets(32)
	h.authStart, h.authEnd = usm.next(tagOctetString)
	usm.octets(math.MaxInt32) // msgPrivacyParameters, checked by gosnmp
	if usm.err == nil && usm.off != uEnd {
		usm.err = errors.New("trailing data")
	}
	if usm.err != nil {
		return nil, fmt.Errorf("USM security parameters: %w", usm.err)
	}
	return &h, nil
}
