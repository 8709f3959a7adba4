package ipmi

import (
	"encoding/binary"

	"github.com/bougou/go-ipmi/pkg/protocol"
)

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

// Payload flag bits of the RMCP+ session header (Table 13-8).
const (
	flagEncrypted     = 0x80
	flagAuthenticated = 0x40
)

type packetKind int

const (
	kindPing         packetKind = iota + 1 // ASF Presence Ping
	kindPreSession                         // an IPMI command outside any session
	kindOpenSession                        // RMCP+ Open Session Request
	kindRAKP1                              // RMCP+ RAKP Message 1
	kindRAKP3                              // RMCP+ RAKP Message 3
	kindInSession                          // RMCP+ IPMI or SOL payload naming a session
	kindV15Challenge                       // IPMI v1.5 Get Session Challenge
	kindV15Session                         // IPMI v1.5 authenticated datagram naming a session
)

// v1.5 session header offsets: RMCP (4), auth type (1), sequence (4),
// session ID (4), [AuthCode (16)], message length (1).
const (
	v15SeqOffset     = 5
	v15SessionOffset = 9
	v15CodeOffset    = 13
)

// classify sorts an inbound datagram; a non-empty reason means drop it.
// Every length go-ipmi would use unchecked is checked here (or, for what
// needs a session's keys, in admitInSession), because go-ipmi parses each
// datagram on a goroutine of its own that no recover covers: a panic there
// ends the process (docs/go-ipmi-notes.md).
func classify(pkt []byte) (packetKind, string) {
	if len(pkt) < 4 {
		return 0, "short"
	}
	if pkt[0] != 0x06 {
		return 0, "rmcp_version"
	}
	switch pkt[3] & 0x1F {
	case 0x06: // ASF: only Presence Ping is answered
		if len(pkt) < 12 || binary.BigEndian.Uint32(pkt[4:8]) != 4542 || pkt[8] != 0x80 {
			return 0, "asf"
		}
		return kindPing, ""
	case 0x07:
	default:
		return 0, "rmcp_class"
	}
	if len(pkt) < 5 {
		return 0, "short"
	}
	if pkt[4] == 0x06 {
		return classifyRMCPPlus(pkt)
	}
	return classifyV15(pkt)
}

func classifyRMCPPlus(pkt []byte) (packetKind, string) {
	sessionID, _, payloadType, _, payload, ok := protocol.ParseRMCPPlusHeader(pkt)
	if !ok {
		return 0, "rmcpplus_header"
	}
	if sessionID != 0 && (payloadType == payloadIPMI || payloadType == payloadSOL) {
		return kindInSession, ""
	}
	switch payloadType {
	case payloadOpenSession:
		if len(payload) < 32 {
			return 0, "open_length"
		}
		return kindOpenSession, ""
	case payloadRAKP1:
		// go-ipmi's RAKP 1 parser computes 28+length in a byte and panics
		// (killing the process) on a long name length; user names are at
		// most 16 bytes anyway.
		if len(payload) < 28 || payload[27] > 16 || len(payload) < 28+int(payload[27]) {
			return 0, "rakp_length"
		}
		return kindRAKP1, ""
	case payloadRAKP3:
		if len(payload) < 8 {
			return 0, "rakp_length"
		}
		return kindRAKP3, ""
	case payloadIPMI:
		if len(payload) < 7 {
			return 0, "ipmi_length"
		}
		return kindPreSession, ""
	}
	return 0, "payload_type"
}

func classifyV15(pkt []byte) (packetKind, string) {
	authType := pkt[4]
	hdr := v15CodeOffset
	switch authType {
	case 0x00:
	case 0x01, 0x02, 0x04: // MD2, MD5, straight password
		hdr += 16
	default:
		return 0, "v15_auth_type"
	}
	if len(pkt) < hdr+1 {
		return 0, "short"
	}
	msgLen := int(pkt[hdr])
	if msgLen < 7 || len(pkt) < hdr+1+msgLen {
		return 0, "v15_length"
	}
	msg := pkt[hdr+1 : hdr+1+msgLen]
	sessionID := binary.LittleEndian.Uint32(pkt[v15SessionOffset:])
	if authType != 0x00 {
		if sessionID == 0 {
			return 0, "unknown_session"
		}
		return kindV15Session, ""
	}
	if sessionID != 0 {
		// Authentication type NONE inside a session: refused (the channel
		// requires per-message authentication).
		return 0, "v15_auth_none"
	}
	if msg[1]>>2 == 0x06 && msg[5] == 0x39 { // App: Get Session Challenge
		return kindV15Challenge, ""
	}
	return kindPreSession, ""
}

// v15Header splits an IPMI v1.5 datagram (already classified, or one of
// go-ipmi's replies) into its session fields and message.
func v15Header(pkt []byte) (authType byte, seq, sessionID uint32, code, msg []byte, ok bool) {
	if len(pkt) < v15CodeOffset+1 {
		return 0, 0, 0, nil, nil, false
	}
	authType = pkt[4]
	seq = binary.LittleEndian.Uint32(pkt[v15SeqOffset:])
	sessionID = binary.LittleEndian.Uint32(pkt[v15SessionOffset:])
	i := v15CodeOffset
	if authType != 0 {
		if len(pkt) < i+17 {
			return 0, 0, 0, nil, nil, false
		}
		code, i = pkt[i:i+16], i+16
	}
	n := int(pkt[i])
	if n < 7 || len(pkt) < i+1+n {
		return 0, 0, 0, nil, nil, false
	}
	return authType, seq, sessionID, code, pkt[i+1 : i+1+n], true
}
