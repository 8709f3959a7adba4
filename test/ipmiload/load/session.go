package load

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/bougou/go-ipmi/pkg/crypto"
	"github.com/bougou/go-ipmi/pkg/protocol"
	"github.com/bougou/go-ipmi/pkg/rmcpplus"
	"github.com/bougou/go-ipmi/pkg/types"
)

// leanSession is a minimal RMCP+ console built from go-ipmi's message types
// and crypto: exactly the four round trips of a session (Open Session, RAKP
// 1/2, RAKP 3/4, one command) plus Close Session, with no discovery calls
// and little allocation, so that the load generator measures the server
// rather than itself. It reuses one socket per worker.
type leanSession struct {
	conn        *net.UDPConn
	target      *net.UDPAddr
	buf         []byte
	timeout     time.Duration
	suite       types.CipherSuiteID
	user, pass  string
	auth        types.AuthAlg
	integ       types.IntegrityAlg
	crypt       types.CryptAlg
	consoleID   uint32
	bmcID       uint32
	consoleRand [16]byte
	k1, k2      []byte
	seq         uint32
	rqSeq       uint8
}

var errStatus = errors.New("rmcp+ status")

func newLean(conn *net.UDPConn, suite types.CipherSuiteID, user, pass string, timeout time.Duration) (*leanSession, error) {
	a, i, c, ok := types.GetCipherSuiteAlgorithms(suite)
	if !ok {
		return nil, fmt.Errorf("unknown cipher suite %d", suite)
	}
	return &leanSession{conn: conn, buf: make([]byte, 1024), timeout: timeout, suite: suite,
		user: user, pass: pass, auth: a, integ: i, crypt: c}, nil
}

// exchange sends pkt and waits for a reply of the wanted payload type.
func (s *leanSession) exchange(pkt []byte, want uint8) ([]byte, error) {
	if _, err := s.conn.WriteToUDP(pkt, s.target); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(s.timeout)
	s.conn.SetReadDeadline(deadline)
	for {
		n, _, err := s.conn.ReadFromUDP(s.buf)
		if err != nil {
			return nil, err
		}
		_, _, pt, _, payload, ok := protocol.ParseRMCPPlusHeader(s.buf[:n])
		if ok && pt == want {
			return payload, nil
		}
	}
}

// run performs one complete session with one Get Chassis Status.
func (s *leanSession) run() error {
	var id [4]byte
	rand.Read(id[:])
	s.consoleID = binary.LittleEndian.Uint32(id[:]) | 1
	authP, integP, cryptP := rmcpplus.NewAlgorithmPayloads(s.auth, s.integ, s.crypt)
	open := &rmcpplus.OpenSessionRequest{MessageTag: 1, RequestedMaximumPrivilegeLevel: types.PrivilegeLevelAdministrator,
		RemoteConsoleSessionID: s.consoleID, AuthenticationPayload: authP, IntegrityPayload: integP, ConfidentialityPayload: cryptP}
	p, err := s.exchange(protocol.BuildRMCPPlusPacket(0x10, 0, 0, 0, open.Pack()), 0x11)
	if err != nil {
		return fmt.Errorf("open session: %w", err)
	}
	var or rmcpplus.OpenSessionResponse
	if err := or.Unpack(p); err != nil || or.RmcpStatusCode != 0 {
		return fmt.Errorf("open session: %w %v %v", errStatus, or.RmcpStatusCode, err)
	}
	s.bmcID = or.ManagedSystemSessionID

	rand.Read(s.consoleRand[:])
	const role = 0x14 // ADMINISTRATOR, name-only lookup
	r1 := &rmcpplus.RAKPMessage1{MessageTag: 2, ManagedSystemSessionID: s.bmcID, RemoteConsoleRandomNumber: s.consoleRand,
		RequestedMaximumPrivilegeLevel: types.PrivilegeLevelAdministrator, NameOnlyLookup: true,
		UsernameLength: uint8(len(s.user)), Username: []byte(s.user)}
	p, err = s.exchange(protocol.BuildRMCPPlusPacket(0x12, 0, 0, 0, r1.Pack()), 0x13)
	if err != nil {
		return fmt.Errorf("rakp 1: %w", err)
	}
	r2 := rmcpplus.RAKPMessage2{AuthAlg: s.auth} // Unpack needs it for the code length
	if err := r2.Unpack(p); err != nil || r2.RmcpStatusCode != 0 {
		return fmt.Errorf("rakp 2: %w %v %v", errStatus, r2.RmcpStatusCode, err)
	}
	kuid := crypto.PadPassword20([]byte(s.pass))
	want, err := crypto.RAKP2AuthCode(s.auth, s.consoleID, s.bmcID, s.consoleRand[:], r2.ManagedSystemRandomNumber[:], r2.ManagedSystemGUID[:], role, s.user, kuid)
	if err == nil {
		want, err = crypto.TruncateRAKP2AuthCode(s.auth, want)
	}
	if err != nil || !crypto.Equal(want, r2.KeyExchangeAuthenticationCode) {
		return errors.New("rakp 2: the BMC does not know our password")
	}
	code, err := crypto.RAKP3AuthCode(s.auth, r2.ManagedSystemRandomNumber[:], s.consoleID, role, s.user, kuid)
	if err != nil {
		return err
	}
	r3 := &rmcpplus.RAKPMessage3{MessageTag: 3, ManagedSystemSessionID: s.bmcID, KeyExchangeAuthenticationCode: code}
	p, err = s.exchange(protocol.BuildRMCPPlusPacket(0x14, 0, 0, 0, r3.Pack()), 0x15)
	if err != nil {
		return fmt.Errorf("rakp 3: %w", err)
	}
	var r4 rmcpplus.RAKPMessage4
	if err := r4.Unpack(p); err != nil || r4.RmcpStatusCode != 0 {
		return fmt.Errorf("rakp 4: %w %v %v", errStatus, r4.RmcpStatusCode, err)
	}
	_, s.k1, s.k2, err = crypto.DeriveSessionKeys(s.auth, s.consoleRand[:], r2.ManagedSystemRandomNumber[:], role, s.user, kuid)
	if err != nil {
		return err
	}
	s.seq = 0

	if _, err := s.command(0x00, 0x01, nil); err != nil { // Get Chassis Status
		return fmt.Errorf("chassis status: %w", err)
	}
	var close [4]byte
	binary.LittleEndian.PutUint32(close[:], s.bmcID)
	if _, err := s.command(0x06, 0x3C, close[:]); err != nil { // Close Session
		return fmt.Errorf("close session: %w", err)
	}
	return nil
}

// command sends one in-session request and returns the response data.
func (s *leanSession) command(netFn, cmd uint8, data []byte) ([]byte, error) {
	s.rqSeq = (s.rqSeq + 1) & 0x3F
	msg := make([]byte, 0, 7+len(data))
	msg = append(msg, 0x20, netFn<<2)
	msg = append(msg, protocol.Checksum(msg[0:2]), 0x81, s.rqSeq<<2, cmd)
	msg = append(msg, data...)
	msg = append(msg, protocol.Checksum(msg[3:]))
	var flags uint8
	payload := msg
	if s.crypt == types.CryptAlg_AES_CBC_128 {
		iv := make([]byte, 16)
		rand.Read(iv)
		enc, err := crypto.EncryptAESPayload(msg, s.k2, iv)
		if err != nil {
			return nil, err
		}
		payload, flags = enc, types.PayloadFlagEncrypted
	}
	if s.integ != types.IntegrityAlg_None {
		flags |= types.PayloadFlagAuthenticated
	}
	s.seq++
	pkt := protocol.BuildRMCPPlusPacket(0x00, flags, s.bmcID, s.seq, payload)
	if s.integ != types.IntegrityAlg_None {
		padLen := types.IntegrityPadLen(12, len(payload))
		for i := 0; i < padLen; i++ {
			pkt = append(pkt, 0xff)
		}
		pkt = append(pkt, byte(padLen), 0x07)
		code, err := crypto.SessionIntegrityAuthCode(s.integ, pkt[4:], s.k1, "")
		if err != nil {
			return nil, err
		}
		pkt = append(pkt, code...)
	}
	p, err := s.exchange(pkt, 0x00)
	if err != nil {
		return nil, err
	}
	if s.crypt == types.CryptAlg_AES_CBC_128 {
		if p, err = crypto.DecryptAESPayload(p, s.k2); err != nil {
			return nil, err
		}
	}
	if len(p) < 8 {
		return nil, errors.New("short response")
	}
	if cc := p[6]; cc != 0 {
		return nil, fmt.Errorf("completion code 0x%02x", cc)
	}
	return p[7 : len(p)-1], nil
}
