package spoof

import (
	"encoding/binary"
	"math/rand/v2"

	"github.com/bougou/go-ipmi/pkg/protocol"
	"github.com/bougou/go-ipmi/pkg/rmcpplus"
	"github.com/bougou/go-ipmi/pkg/types"
)

// OpenSession is an RMCP+ Open Session request for cipher suite 17 with a
// random console session ID, as a flood sends it (IPMI v2.0 §13.17).
func OpenSession(r *rand.Rand) []byte {
	a, i, c := rmcpplus.NewAlgorithmPayloads(types.AuthAlg_HMAC_SHA256, types.IntegrityAlg_HMAC_SHA256_128, types.CryptAlg_AES_CBC_128)
	req := &rmcpplus.OpenSessionRequest{MessageTag: byte(r.Uint32()), RequestedMaximumPrivilegeLevel: types.PrivilegeLevelAdministrator,
		RemoteConsoleSessionID: r.Uint32() | 1, AuthenticationPayload: a, IntegrityPayload: i, ConfidentialityPayload: c}
	return protocol.BuildRMCPPlusPacket(0x10, 0, 0, 0, req.Pack())
}

// LockoutTraffic is what a blind attacker forging a console's address
// sends to get it locked out (what used to work: every datagram counted
// against its claimed source): n rounds of RAKP 3 rejecting RAKP 2 and
// RAKP 1, both for made-up sessions, Get Session Challenge for an unknown
// user, Open Session, and v1.5 Activate Session for a made-up challenge.
func LockoutTraffic(r *rand.Rand, n int) [][]byte {
	var out [][]byte
	for range n {
		rakp3 := make([]byte, 8+32)
		rakp3[1] = 0x0F // "invalid integrity check value": the console rejects RAKP 2
		binary.LittleEndian.PutUint32(rakp3[4:], r.Uint32())
		out = append(out, protocol.BuildRMCPPlusPacket(0x14, 0, 0, 0, rakp3))

		rakp1 := make([]byte, 28, 32)
		binary.LittleEndian.PutUint32(rakp1[4:], r.Uint32())
		rakp1[24], rakp1[27] = 0x14, 4
		out = append(out, protocol.BuildRMCPPlusPacket(0x12, 0, 0, 0, append(rakp1, "root"...)))

		var name [16]byte
		copy(name[:], "nosuchuser")
		out = append(out, v15(0, 0, nil, request(0x06, 0x39, append([]byte{0x02}, name[:]...))))

		out = append(out, OpenSession(r))

		out = append(out, v15(0x02, r.Uint32()|1, make([]byte, 16), request(0x06, 0x3A, make([]byte, 22))))
	}
	return out
}

// v15 builds an IPMI v1.5 datagram (IPMI v2.0 Table 13-4).
func v15(authType byte, sessionID uint32, code, msg []byte) []byte {
	pkt := []byte{0x06, 0x00, 0xff, 0x07, authType, 0, 0, 0, 0}
	pkt = binary.LittleEndian.AppendUint32(pkt, sessionID)
	if authType != 0 {
		pkt = append(pkt, code...)
	}
	pkt = append(pkt, byte(len(msg)))
	return append(pkt, msg...)
}

// request builds an IPMI LAN request message (Table 13-8).
func request(netFn, cmd byte, data []byte) []byte {
	msg := []byte{0x20, netFn << 2}
	msg = append(msg, protocol.Checksum(msg), 0x81, 1<<2, cmd)
	msg = append(msg, data...)
	return append(msg, protocol.Checksum(msg[3:]))
}
