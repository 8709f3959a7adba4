package ipmi

import (
	"net"
	"testing"
	"time"

	gobmc "github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/crypto"
	"github.com/bougou/go-ipmi/pkg/types"
)

// TestTruncatedCiphertextFromUserSession: a console logged in as a user
// limited to USER sends an in-session datagram whose encrypted payload is
// the 16-byte IV plus 17 bytes (not a whole number of AES blocks), with a
// valid integrity code. go-ipmi decrypts it with crypto/cipher, which
// panics on a goroutine no recover covers: the whole process died. The
// datagram must cost only itself.
func TestTruncatedCiphertextFromUserSession(t *testing.T) {
	cfg := testEndpointConfig()
	cfg.Privilege = gobmc.PrivilegeLevelUser
	ep, obs := startEndpoint(t, newFakeMachine("n0"), cfg)
	c := newRawConsole(t, "127.0.0.1", ep.Addr().(*net.UDPAddr))
	if err := c.login(17, "admin", "password", 0x02); err != nil {
		t.Fatal(err)
	}
	bad := make([]byte, 16+17)
	c.send(c.seal(payloadIPMI, nil, sealOpts{raw: bad}))
	time.Sleep(200 * time.Millisecond)
	if cc, _, ok := c.command(0x00, 0x01, nil); !ok || cc != 0 {
		t.Fatalf("the session no longer answers: cc %#x ok %v", cc, ok)
	}
	if n := obs.droppedFor("encrypted_length"); n != 1 {
		t.Fatalf("dropped as encrypted_length: %d, want 1 (%v)", n, obs.droppedAll())
	}
}

// TestInSessionPayloadsGoIPMICannotParse: every in-session payload length
// go-ipmi would use unchecked, on every kind of session, including those
// without integrity, where anyone who learnt the session ID can send it
// (go-ipmi derives K2 for every suite and decrypts whatever carries the
// encrypted flag).
func TestInSessionPayloadsGoIPMICannotParse(t *testing.T) {
	encrypted, encAuth := byte(flagEncrypted), byte(flagEncrypted|flagAuthenticated)
	zeros := func(n int) func(*rawConsole) []byte { return func(*rawConsole) []byte { return make([]byte, n) } }
	cases := []struct {
		name   string
		suite  types.CipherSuiteID
		raw    func(*rawConsole) []byte
		flags  *byte
		reason string
	}{
		{"suite 17, IV + 17 bytes", 17, zeros(33), nil, "encrypted_length"},
		{"suite 3, IV + 1 byte", 3, zeros(17), nil, "encrypted_length"},
		{"suite 3, IV only", 3, zeros(16), nil, "encrypted_length"},
		{"suite 3, shorter than the IV", 3, zeros(5), nil, "encrypted_length"},
		{"suite 3, pad length beyond the block", 3, func(c *rawConsole) []byte {
			block := make([]byte, 16)
			block[15] = 0x20
			iv := make([]byte, 16)
			enc, _ := crypto.EncryptAES(block, c.k2[:16], iv)
			return append(iv, enc...)
		}, nil, "decrypt"},
		{"suite 3, padding leaves less than a message", 3, func(c *rawConsole) []byte {
			enc, _ := crypto.EncryptAESPayload([]byte{1, 2, 3}, c.k2, make([]byte, 16))
			return enc
		}, nil, "payload_length"},
		{"suite 3, not authenticated", 3, zeros(32), &encrypted, "integrity"},
		{"suite 2, encrypted without confidentiality", 2, zeros(33), &encAuth, "not_negotiated"},
		{"suite 1 (no integrity), encrypted without confidentiality", 1, zeros(33), &encrypted, "not_negotiated"},
		{"suite 1, message too short to parse", 1, zeros(6), nil, "payload_length"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ep, obs := startEndpoint(t, newFakeMachine("n0"), testEndpointConfig())
			c := newRawConsole(t, "127.0.0.1", ep.Addr().(*net.UDPAddr))
			if err := c.login(tc.suite, "admin", "password", 0x14); err != nil {
				t.Fatal(err)
			}
			c.send(c.seal(payloadIPMI, nil, sealOpts{raw: tc.raw(c), flags: tc.flags}))
			deadline := time.Now().Add(2 * time.Second)
			for obs.droppedFor(tc.reason) == 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if obs.droppedFor(tc.reason) != 1 {
				t.Fatalf("not dropped as %s: %v", tc.reason, obs.droppedAll())
			}
			if cc, _, ok := c.command(0x00, 0x01, nil); !ok || cc != 0 {
				t.Fatalf("the session no longer answers: cc %#x ok %v", cc, ok)
			}
			if g, n := inFlight(ep); g != 0 || n != 0 {
				t.Fatalf("in flight after the answers: guard %d, conn %d", g, n)
			}
		})
	}
}
