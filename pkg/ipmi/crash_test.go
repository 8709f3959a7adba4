package ipmi

import (
	"net"
	"testing"
	"time"

	gobmc "github.com/bougou/go-ipmi/pkg/bmc"
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
		t.Fatalf("dropped as encrypted_length: %d, want 1 (%v)", n, obs.dropped)
	}
}
