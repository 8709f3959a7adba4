package ipmi

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/crypto"
	"github.com/bougou/go-ipmi/pkg/protocol"
	"github.com/bougou/go-ipmi/pkg/rmcpplus"
	"github.com/bougou/go-ipmi/pkg/types"
)

// rawConsole is a minimal RMCP+ (and v1.5) console built from go-ipmi's
// message and crypto packages. Unlike a client library it exposes every
// byte: tests use it to send what no well-behaved console would (a
// ciphertext that is not a whole number of blocks, a replayed datagram,
// junk naming a real session) on top of a genuinely authenticated session.
type rawConsole struct {
	conn   *net.UDPConn
	target *net.UDPAddr

	auth  types.AuthAlg
	integ types.IntegrityAlg
	crypt types.CryptAlg

	consoleID, bmcID uint32
	consoleRand      [16]byte
	bmcRand          [16]byte
	k1, k2           []byte
	seq              uint32
	rqSeq            uint8
	// timeout bounds each wait for an answer (default 2 s).
	timeout time.Duration
}

// newRawConsole opens a socket on localIP (a 127.x address) towards target.
func newRawConsole(t testing.TB, localIP string, target *net.UDPAddr) *rawConsole {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(localIP)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawConsole{conn: conn, target: target, timeout: 2 * time.Second}
}

func (c *rawConsole) send(pkt []byte) {
	c.conn.WriteToUDP(pkt, c.target)
}

// recv returns the next datagram, or nil after timeout.
func (c *rawConsole) recv(timeout time.Duration) []byte {
	buf := make([]byte, 2048)
	c.conn.SetReadDeadline(time.Now().Add(timeout))
	n, _, err := c.conn.ReadFromUDP(buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

// exchange sends pkt and returns the payload of the first RMCP+ reply of
// payload type want (nil on timeout).
func (c *rawConsole) exchange(pkt []byte, want uint8, timeout time.Duration) []byte {
	c.send(pkt)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		p := c.recv(time.Until(deadline))
		if p == nil {
			return nil
		}
		if _, _, pt, _, payload, ok := protocol.ParseRMCPPlusHeader(p); ok && pt == want {
			return payload
		}
	}
	return nil
}

// openSession sends an Open Session request for suite and returns the
// response's status.
func (c *rawConsole) openSession(suite types.CipherSuiteID) (byte, error) {
	a, i, cr, ok := types.GetCipherSuiteAlgorithms(suite)
	if !ok {
		return 0, fmt.Errorf("unknown suite %d", suite)
	}
	c.auth, c.integ, c.crypt = a, i, cr
	var id [4]byte
	rand.Read(id[:])
	c.consoleID = binary.LittleEndian.Uint32(id[:]) | 1
	ap, ip, cp := rmcpplus.NewAlgorithmPayloads(a, i, cr)
	req := &rmcpplus.OpenSessionRequest{MessageTag: 1, RequestedMaximumPrivilegeLevel: 0,
		RemoteConsoleSessionID: c.consoleID, AuthenticationPayload: ap, IntegrityPayload: ip, ConfidentialityPayload: cp}
	p := c.exchange(protocol.BuildRMCPPlusPacket(payloadOpenSession, 0, 0, 0, req.Pack()), payloadOpenResp, c.timeout)
	if p == nil {
		return 0, errors.New("open session: no answer")
	}
	var resp rmcpplus.OpenSessionResponse
	if err := resp.Unpack(p); err != nil {
		return 0, err
	}
	c.bmcID = resp.ManagedSystemSessionID
	return byte(resp.RmcpStatusCode), nil
}

// rakp1 sends RAKP 1 for user at role and returns RAKP 2's payload.
func (c *rawConsole) rakp1(user string, role byte) []byte {
	rand.Read(c.consoleRand[:])
	m := &rmcpplus.RAKPMessage1{MessageTag: 2, ManagedSystemSessionID: c.bmcID, RemoteConsoleRandomNumber: c.consoleRand,
		RequestedMaximumPrivilegeLevel: types.PrivilegeLevel(role & 0x0F), NameOnlyLookup: role&0x10 != 0,
		UsernameLength: uint8(len(user)), Username: []byte(user)}
	return c.exchange(protocol.BuildRMCPPlusPacket(payloadRAKP1, 0, 0, 0, m.Pack()), payloadRAKP2, c.timeout)
}

// login completes a handshake as user/pass at role (ipmitool asks for
// ADMINISTRATOR with name-only lookup, 0x14).
func (c *rawConsole) login(suite types.CipherSuiteID, user, pass string, role byte) error {
	if st, err := c.openSession(suite); err != nil || st != 0 {
		return fmt.Errorf("open session: status %#x %v", st, err)
	}
	return c.complete(c.rakp1(user, role), user, pass, role)
}

// complete finishes a handshake from RAKP 2's payload p.
func (c *rawConsole) complete(p []byte, user, pass string, role byte) error {
	if p == nil {
		return errors.New("rakp 1: no answer")
	}
	r2 := rmcpplus.RAKPMessage2{AuthAlg: c.auth}
	if err := r2.Unpack(p); err != nil || r2.RmcpStatusCode != 0 {
		return fmt.Errorf("rakp 2: status %#x %v", r2.RmcpStatusCode, err)
	}
	c.bmcRand = r2.ManagedSystemRandomNumber
	kuid := crypto.PadPassword20([]byte(pass))
	want, _ := crypto.RAKP2AuthCode(c.auth, c.consoleID, c.bmcID, c.consoleRand[:], c.bmcRand[:], r2.ManagedSystemGUID[:], role, user, kuid)
	want, _ = crypto.TruncateRAKP2AuthCode(c.auth, want)
	if !crypto.Equal(want, r2.KeyExchangeAuthenticationCode) {
		return errors.New("rakp 2: the BMC does not know the password")
	}
	code, err := crypto.RAKP3AuthCode(c.auth, c.bmcRand[:], c.consoleID, role, user, kuid)
	if err != nil {
		return err
	}
	r3 := &rmcpplus.RAKPMessage3{MessageTag: 3, ManagedSystemSessionID: c.bmcID, KeyExchangeAuthenticationCode: code}
	p = c.exchange(protocol.BuildRMCPPlusPacket(payloadRAKP3, 0, 0, 0, r3.Pack()), payloadRAKP4, c.timeout)
	if p == nil {
		return errors.New("rakp 3: no answer")
	}
	var r4 rmcpplus.RAKPMessage4
	if err := r4.Unpack(p); err != nil || r4.RmcpStatusCode != 0 {
		return fmt.Errorf("rakp 4: status %#x %v", r4.RmcpStatusCode, err)
	}
	_, c.k1, c.k2, err = crypto.DeriveSessionKeys(c.auth, c.consoleRand[:], c.bmcRand[:], role, user, kuid)
	c.seq = 0
	return err
}

// guess runs a handshake to the end with pass, whatever RAKP 2 says, as a
// password-guessing console would, and returns RAKP 4's status (-1: none).
func (c *rawConsole) guess(suite types.CipherSuiteID, user, pass string) int {
	if st, err := c.openSession(suite); err != nil || st != 0 {
		return -1
	}
	p := c.rakp1(user, 0x14)
	r2 := rmcpplus.RAKPMessage2{AuthAlg: c.auth}
	if p == nil || r2.Unpack(p) != nil || r2.RmcpStatusCode != 0 {
		return -1
	}
	code, _ := crypto.RAKP3AuthCode(c.auth, r2.ManagedSystemRandomNumber[:], c.consoleID, 0x14, user, crypto.PadPassword20([]byte(pass)))
	r3 := &rmcpplus.RAKPMessage3{MessageTag: 3, ManagedSystemSessionID: c.bmcID, KeyExchangeAuthenticationCode: code}
	p = c.exchange(protocol.BuildRMCPPlusPacket(payloadRAKP3, 0, 0, 0, r3.Pack()), payloadRAKP4, c.timeout)
	if len(p) < 2 {
		return -1
	}
	return int(p[1])
}

// request builds an IPMI LAN request message (Table 13-8).
func (c *rawConsole) request(netFn, cmd uint8, data []byte) []byte {
	c.rqSeq = (c.rqSeq + 1) & 0x3F
	msg := []byte{0x20, netFn << 2}
	msg = append(msg, protocol.Checksum(msg), 0x81, c.rqSeq<<2, cmd)
	msg = append(msg, data...)
	return append(msg, protocol.Checksum(msg[3:]))
}

// sealOpts lets a test bend what seal builds.
type sealOpts struct {
	// raw, when set, is the payload as sent: no encryption is applied, but
	// the encrypted flag follows the session's confidentiality algorithm.
	raw []byte
	// flags, when set, replaces the payload flags byte.
	flags *byte
}

// seal wraps plain as the next in-session datagram of payload type pt:
// encrypted with K2 when the session negotiated confidentiality, followed
// by the integrity trailer computed with K1 over whatever was built.
func (c *rawConsole) seal(pt uint8, plain []byte, o sealOpts) []byte {
	var flags uint8
	payload := plain
	if c.crypt == types.CryptAlg_AES_CBC_128 {
		flags |= types.PayloadFlagEncrypted
		if o.raw == nil {
			iv := make([]byte, 16)
			rand.Read(iv)
			payload, _ = crypto.EncryptAESPayload(plain, c.k2, iv)
		}
	}
	if o.raw != nil {
		payload = o.raw
	}
	if c.integ != types.IntegrityAlg_None {
		flags |= types.PayloadFlagAuthenticated
	}
	if o.flags != nil {
		flags = *o.flags
	}
	c.seq++
	pkt := protocol.BuildRMCPPlusPacket(pt, flags, c.bmcID, c.seq, payload)
	return c.trailer(pkt)
}

// trailer appends the integrity pad, pad length, next header and AuthCode.
func (c *rawConsole) trailer(pkt []byte) []byte {
	if c.integ == types.IntegrityAlg_None {
		return pkt
	}
	payloadLen := int(binary.LittleEndian.Uint16(pkt[14:16]))
	for range types.IntegrityPadLen(12, payloadLen) {
		pkt = append(pkt, 0xff)
	}
	pkt = append(pkt, byte(types.IntegrityPadLen(12, payloadLen)), 0x07)
	code, _ := crypto.SessionIntegrityAuthCode(c.integ, pkt[4:], c.k1, "")
	return append(pkt, code...)
}

// command runs one in-session command and returns its completion code and
// response data; ok is false when no answer came.
func (c *rawConsole) command(netFn, cmd uint8, data []byte) (cc byte, resp []byte, ok bool) {
	p := c.exchange(c.seal(payloadIPMI, c.request(netFn, cmd, data), sealOpts{}), payloadIPMI, c.timeout)
	if p == nil {
		return 0, nil, false
	}
	if c.crypt == types.CryptAlg_AES_CBC_128 {
		var err error
		if p, err = crypto.DecryptAESPayload(p, c.k2); err != nil {
			return 0, nil, false
		}
	}
	if len(p) < 8 {
		return 0, nil, false
	}
	return p[6], p[7 : len(p)-1], true
}

// v15Message builds an IPMI v1.5 datagram: RMCP header, session header
// (with an AuthCode unless authType is NONE) and msg.
func v15Message(authType byte, seq, sessionID uint32, authCode []byte, msg []byte) []byte {
	pkt := []byte{0x06, 0x00, 0xff, 0x07, authType}
	pkt = binary.LittleEndian.AppendUint32(pkt, seq)
	pkt = binary.LittleEndian.AppendUint32(pkt, sessionID)
	if authType != 0 {
		pkt = append(pkt, authCode...)
	}
	pkt = append(pkt, byte(len(msg)))
	return append(pkt, msg...)
}

// v15Request builds a v1.5 IPMI request message with requester sequence rq.
func v15Request(rq, netFn, cmd uint8, data []byte) []byte {
	msg := []byte{0x20, netFn << 2}
	msg = append(msg, protocol.Checksum(msg), 0x81, rq<<2, cmd)
	msg = append(msg, data...)
	return append(msg, protocol.Checksum(msg[3:]))
}

// v15Challenge sends Get Session Challenge for user with authType and
// returns the reply datagram (nil on timeout).
func (c *rawConsole) v15Challenge(authType byte, user string) []byte {
	var name [16]byte
	copy(name[:], user)
	c.send(v15Message(0, 0, 0, nil, v15Request(1, 0x06, 0x39, append([]byte{authType}, name[:]...))))
	return c.recv(c.timeout)
}

// v15ReplyMessage returns the IPMI message of a v1.5 reply and its header.
func v15ReplyMessage(pkt []byte) (authType byte, seq, sessionID uint32, authCode, msg []byte, ok bool) {
	if len(pkt) < 14 || pkt[3] != 0x07 {
		return 0, 0, 0, nil, nil, false
	}
	authType = pkt[4]
	seq = binary.LittleEndian.Uint32(pkt[5:9])
	sessionID = binary.LittleEndian.Uint32(pkt[9:13])
	i := 13
	if authType != 0 {
		if len(pkt) < 30 {
			return 0, 0, 0, nil, nil, false
		}
		authCode = pkt[13:29]
		i = 29
	}
	n := int(pkt[i])
	if len(pkt) < i+1+n || n < 7 {
		return 0, 0, 0, nil, nil, false
	}
	return authType, seq, sessionID, authCode, pkt[i+1 : i+1+n], true
}
