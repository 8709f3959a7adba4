package ipmi

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/crypto"
	"github.com/bougou/go-ipmi/pkg/protocol"
	"github.com/bougou/go-ipmi/pkg/rmcpplus"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/powerjockey/powerjockey/test/testkit"
)

// v15Activate sends Activate Session for the challenge in reply, with an
// AuthCode made from pass, and returns the answer (nil on timeout).
func (c *rawConsole) v15Activate(reply []byte, authType byte, pass string) ([]byte, uint32) {
	_, _, _, _, msg, ok := v15ReplyMessage(reply)
	if !ok || msg[6] != 0 || len(msg) < 8+20 {
		return nil, 0
	}
	tempID := binary.LittleEndian.Uint32(msg[7:11])
	data := append([]byte{authType, 0x04}, msg[11:27]...) // auth type, ADMINISTRATOR, challenge
	data = binary.LittleEndian.AppendUint32(data, 1)      // initial outbound sequence
	req := v15Request(2, 0x06, 0x3A, data)
	code := crypto.AuthCodeMultiSession(types.AuthType(authType), []byte(pass), tempID, 0, req)
	c.send(v15Message(authType, 0, tempID, code, req))
	return c.recv(2 * time.Second), tempID
}

// TestFailedV15ActivationCarriesNoPasswordCode: go-ipmi authenticated the
// failure answer of an Activate Session with the user's password (MD5: an
// offline password test for anyone who knows a user name; straight
// password: the password itself). The answer must not depend on the
// password at all: the same bytes from endpoints with different passwords,
// for a real user and for a name that does not exist.
func TestFailedV15ActivationCarriesNoPasswordCode(t *testing.T) {
	for _, authType := range []byte{0x02, 0x04} { // MD5, straight password
		var answers [][]byte
		for _, pass := range []string{"short-pass16", "another-secret"} {
			cfg := testEndpointConfig()
			cfg.Password = pass
			ep, obs := startEndpoint(t, newFakeMachine("n0"), cfg)
			for _, user := range []string{"admin", "nosuchuser"} {
				c := newRawConsole(t, "127.0.0.1", ep.Addr().(*net.UDPAddr))
				ch := c.v15Challenge(authType, user)
				if ch == nil {
					t.Fatalf("auth type %d, %s: no challenge", authType, user)
				}
				answer, _ := c.v15Activate(ch, authType, "guess")
				if answer == nil {
					t.Fatalf("auth type %d, %s: no answer to a failed activation", authType, user)
				}
				// What an answer built without the password looks like:
				// auth type NONE, sequence 0, session 0, completion code
				// 85h (invalid session ID) for request sequence 2.
				want := v15Message(0, 0, 0, nil, protocol.BuildIPMIResponse(0x06, 0x3A, 2, 0x85, nil))
				if !bytes.Equal(answer, want) {
					t.Fatalf("auth type %d, %s: answer\n% x\nwant\n% x", authType, user, answer, want)
				}
				if bytes.Contains(answer, []byte(pass)) {
					t.Fatalf("the answer carries the password")
				}
				answers = append(answers, answer)
			}
			if obs.authFailures() != 2 {
				t.Errorf("failed activations counted: %d, want 2", obs.authFailures())
			}
			// The right password still works.
			c := newRawConsole(t, "127.0.0.1", ep.Addr().(*net.UDPAddr))
			answer, _ := c.v15Activate(c.v15Challenge(authType, "admin"), authType, pass)
			if _, _, _, _, msg, ok := v15ReplyMessage(answer); !ok || msg[6] != 0 {
				t.Fatalf("auth type %d: the right password was refused: % x", authType, answer)
			}
		}
		for _, a := range answers[1:] {
			if !bytes.Equal(a, answers[0]) {
				t.Fatalf("failed activation answers differ with the password or the user:\n% x\n% x", a, answers[0])
			}
		}
	}
}

// TestUnknownUserNamesCannotBeTold: the RAKP 2 for a user name that does
// not exist must look like one for a real user whose password the console
// does not know. go-ipmi's used an all-zero key over an empty name, which
// anyone can recompute. The v1.5 challenge likewise.
func TestUnknownUserNamesCannotBeTold(t *testing.T) {
	ep, _ := startEndpoint(t, newFakeMachine("n0"), testEndpointConfig())
	target := ep.Addr().(*net.UDPAddr)
	rakp2 := func(user string, role byte) (rmcpplus.RAKPMessage2, *rawConsole) {
		c := newRawConsole(t, "127.0.0.1", target)
		if st, err := c.openSession(17); err != nil || st != 0 {
			t.Fatalf("open session: %v %v", st, err)
		}
		p := c.rakp1(user, role)
		if p == nil {
			t.Fatalf("%s: no RAKP 2", user)
		}
		m := rmcpplus.RAKPMessage2{AuthAlg: c.auth}
		if err := m.Unpack(p); err != nil {
			t.Fatal(err)
		}
		return m, c
	}
	real, _ := rakp2("admin", 0x14)
	fake, c := rakp2("root", 0x14)
	if fake.RmcpStatusCode != 0 || len(fake.KeyExchangeAuthenticationCode) != len(real.KeyExchangeAuthenticationCode) ||
		fake.ManagedSystemGUID != real.ManagedSystemGUID {
		t.Fatalf("unknown user's RAKP 2 differs in form: %+v vs %+v", fake, real)
	}
	for _, name := range []string{"", "root"} {
		code, _ := crypto.RAKP2AuthCode(c.auth, c.consoleID, c.bmcID, c.consoleRand[:], fake.ManagedSystemRandomNumber[:],
			fake.ManagedSystemGUID[:], 0x14, name, crypto.PadPassword20(nil))
		if bytes.Equal(code, fake.KeyExchangeAuthenticationCode) {
			t.Fatalf("the unknown user's RAKP 2 is keyed with zeros over name %q: recognisable", name)
		}
	}
	// The role checks that do not depend on the user answer alike.
	for _, role := range []byte{0x05, 0x06, 0x0F} {
		r, _ := rakp2("admin", role)
		f, _ := rakp2("root", role)
		if r.RmcpStatusCode != f.RmcpStatusCode {
			t.Errorf("role %#x: real user status %#x, unknown user %#x", role, r.RmcpStatusCode, f.RmcpStatusCode)
		}
	}
	// Completing the handshake fails the same way as a wrong password.
	for _, user := range []string{"admin", "root"} {
		c := newRawConsole(t, "127.0.0.1", target)
		err := c.login(17, user, "wrong", 0x14)
		if err == nil || err.Error() != "rakp 2: the BMC does not know the password" {
			t.Fatalf("%s: %v", user, err)
		}
		code, _ := crypto.RAKP3AuthCode(c.auth, c.bmcRand[:], c.consoleID, 0x14, user, crypto.PadPassword20([]byte("wrong")))
		r3 := &rmcpplus.RAKPMessage3{MessageTag: 3, ManagedSystemSessionID: c.bmcID, KeyExchangeAuthenticationCode: code}
		p := c.exchange(protocol.BuildRMCPPlusPacket(payloadRAKP3, 0, 0, 0, r3.Pack()), payloadRAKP4, 2*time.Second)
		if len(p) < 2 || p[1] != 0x0D {
			t.Fatalf("%s: RAKP 4 % x, want status 0x0d (unauthorized name)", user, p)
		}
	}
	// v1.5: a challenge for any name, and a full table (four places)
	// refuses both alike.
	for _, user := range []string{"admin", "root"} {
		ep, _ := startEndpoint(t, newFakeMachine("n0"), testEndpointConfig())
		c := newRawConsole(t, "127.0.0.1", ep.Addr().(*net.UDPAddr))
		c.timeout = 300 * time.Millisecond
		answers := 0
		for i := range 6 {
			reply := c.v15Challenge(0x02, user)
			if reply == nil {
				continue
			}
			answers++
			if _, _, _, _, msg, ok := v15ReplyMessage(reply); !ok || msg[6] != 0 || len(msg) != 8+20 {
				t.Fatalf("v1.5 challenge %d for %s: % x", i, user, msg)
			}
		}
		if answers != 4 {
			t.Fatalf("%s: %d of 6 challenges answered in a row, want 4 (the table)", user, answers)
		}
	}
}

// TestRAKP2LimitHolds: RAKP 2 carries a hash of the password that can be
// cracked offline. A source gets at most AuthFailuresPerMinute of them
// from an endpoint without completing a login, however it asks: new
// handshakes, or RAKP 1 resent on one handshake (go-ipmi made a fresh
// hash for each; the 30 a minute were counted only when handshakes were
// abandoned, five seconds late, once per handshake).
func TestRAKP2LimitHolds(t *testing.T) {
	cfg := testEndpointConfig()
	gcfg := DefaultGuardConfig()
	gcfg.AuthFailuresPerMinute = 10
	// Time stands still for the guard: no token comes back by leaking.
	frozen := time.Now()
	ep, _, _ := startGuarded(t, newFakeMachine("n0"), cfg, gcfg, newInjectConn(t), func(g *Guard) { g.now = func() time.Time { return frozen } })
	target := ep.Addr().(*net.UDPAddr)
	hashes := map[string]bool{}
	collect := func(p []byte) {
		var m rmcpplus.RAKPMessage2
		m.AuthAlg = types.AuthAlg_HMAC_SHA256
		if p != nil && m.Unpack(p) == nil && m.RmcpStatusCode == 0 {
			hashes[string(m.KeyExchangeAuthenticationCode)] = true
		}
	}
	c := newRawConsole(t, "127.0.0.3", target)
	c.timeout = 100 * time.Millisecond
	// One handshake, RAKP 1 repeated: one hash.
	if st, err := c.openSession(17); err != nil || st != 0 {
		t.Fatal(st, err)
	}
	first := c.rakp1("admin", 0x14)
	collect(first)
	for range 10 {
		collect(c.rakp1("admin", 0x14)) // new console random: a different RAKP 1
	}
	if len(hashes) != 1 {
		t.Fatalf("one handshake gave %d hashes", len(hashes))
	}
	// Many handshakes: at most the limit.
	for range 25 {
		if st, err := c.openSession(17); err != nil || st != 0 {
			continue
		}
		collect(c.rakp1("admin", 0x14))
	}
	if len(hashes) > 10 {
		t.Fatalf("%d RAKP 2 hashes collected, limit 10", len(hashes))
	}
	// Logins that complete give their token back: a console that knows
	// the password is not limited.
	for i := range 30 {
		ok := newRawConsole(t, "127.0.0.4", target)
		if err := ok.login(17, "admin", "password", 0x14); err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
		ok.command(0x06, 0x3C, binary.LittleEndian.AppendUint32(nil, ok.bmcID))
	}
}

// TestCloseSessionOnlyOwnUnlessAdministrator: go-ipmi closed any session
// ID for anyone logged in.
func TestCloseSessionOnlyOwnUnlessAdministrator(t *testing.T) {
	cfg := testEndpointConfig()
	ep, _ := startEndpoint(t, newFakeMachine("n0"), cfg)
	target := ep.Addr().(*net.UDPAddr)
	admin := newRawConsole(t, "127.0.0.1", target)
	if err := admin.login(17, "admin", "password", 0x14); err != nil {
		t.Fatal(err)
	}
	user := newRawConsole(t, "127.0.0.1", target)
	if err := user.login(17, "admin", "password", 0x02); err != nil { // a USER session
		t.Fatal(err)
	}
	other := newRawConsole(t, "127.0.0.1", target)
	if err := other.login(17, "admin", "password", 0x14); err != nil {
		t.Fatal(err)
	}
	closeCmd := func(c *rawConsole, id uint32) byte {
		cc, _, ok := c.command(0x06, 0x3C, binary.LittleEndian.AppendUint32(nil, id))
		if !ok {
			t.Fatal("no answer to Close Session")
		}
		return cc
	}
	// Sessions start at the highest privilege the user may have; this one
	// steps down to USER, as ipmitool -L USER does.
	if cc, _, ok := user.command(0x06, 0x3B, []byte{0x02}); !ok || cc != 0 {
		t.Fatalf("set session privilege: cc %#x", cc)
	}
	if cc := closeCmd(user, admin.bmcID); cc != 0xD4 {
		t.Fatalf("USER closing another session: cc %#x, want 0xd4", cc)
	}
	if cc, _, ok := admin.command(0x00, 0x01, nil); !ok || cc != 0 {
		t.Fatal("the other session was closed")
	}
	if cc := closeCmd(user, 0x12345678); cc != 0xD4 {
		t.Fatalf("USER closing an unknown session: cc %#x, want 0xd4", cc)
	}
	if cc := closeCmd(admin, other.bmcID); cc != 0 {
		t.Fatalf("ADMINISTRATOR closing another session: cc %#x", cc)
	}
	other.timeout = 300 * time.Millisecond
	if _, _, ok := other.command(0x00, 0x01, nil); ok {
		t.Fatal("closed session still answers")
	}
	if cc := closeCmd(admin, 0x12345678); cc != 0x87 {
		t.Fatalf("closing an unknown session: cc %#x, want 0x87", cc)
	}
	if cc := closeCmd(user, user.bmcID); cc != 0 {
		t.Fatalf("USER closing its own session: cc %#x", cc)
	}
	if got := ep.Sessions(); got != 1 {
		t.Fatalf("%d sessions open, want 1", got)
	}
}

// TestAuthenticationCapabilitiesAreTruthful: go-ipmi announced anonymous
// login and null user names (its user 1), which every login refuses.
func TestAuthenticationCapabilitiesAreTruthful(t *testing.T) {
	ep, _ := startEndpoint(t, newFakeMachine("n0"), testEndpointConfig())
	c := newRawConsole(t, "127.0.0.1", ep.Addr().(*net.UDPAddr))
	c.send(v15Message(0, 0, 0, nil, v15Request(1, 0x06, 0x38, []byte{0x8E, 0x04})))
	_, _, _, _, msg, ok := v15ReplyMessage(c.recv(2 * time.Second))
	if !ok || msg[6] != 0 || len(msg) < 8+8 {
		t.Fatalf("no capabilities: % x", msg)
	}
	data := msg[7:]
	// Byte 3 (Table 22-15): bit 2 non-null user names, bit 1 null user
	// names, bit 0 anonymous login; bits 5:4 per-message/user-level auth.
	if data[2]&0x07 != 0x04 {
		t.Fatalf("login capabilities %#02x: want only non-null user names (0x04)", data[2])
	}
	if data[1]&0x80 == 0 || data[1]&0x04 == 0 || data[1]&0x10 == 0 {
		t.Fatalf("authentication types %#02x: want v2.0, MD5 and straight password", data[1])
	}
	for _, user := range []string{"", "\x00"} {
		if err := newRawConsole(t, "127.0.0.1", ep.Addr().(*net.UDPAddr)).login(17, user, "", 0x14); err == nil {
			t.Fatalf("null user %q logged in", user)
		}
	}
}

// TestCipherSuiteListIsRespected: only the configured suites are offered
// and accepted; go-ipmi's fallbacks (its own default list for an empty
// one, a panic for an unsupported one) never apply.
func TestCipherSuiteListIsRespected(t *testing.T) {
	cfg := testEndpointConfig()
	cfg.CipherSuites = []types.CipherSuiteID{17}
	ep, _ := startEndpoint(t, newFakeMachine("n0"), cfg)
	for suite, want := range map[types.CipherSuiteID]bool{17: true, 3: false, 1: false, 0: false} {
		c := newRawConsole(t, "127.0.0.1", ep.Addr().(*net.UDPAddr))
		st, err := c.openSession(suite)
		if err != nil {
			t.Fatal(err)
		}
		if (st == 0) != want {
			t.Errorf("suite %d: open session status %#x", suite, st)
		}
	}
	c := newRawConsole(t, "127.0.0.1", ep.Addr().(*net.UDPAddr))
	if err := c.login(17, "admin", "password", 0x14); err != nil {
		t.Fatal(err)
	}
	cc, resp, ok := c.command(0x06, 0x54, []byte{0x0E, 0x00, 0x80})
	if !ok || cc != 0 || !bytes.Equal(resp, []byte{0x01, 0xC0, 17, 0x03, 0x44, 0x81}) {
		t.Fatalf("cipher suites: cc %#x % x", cc, resp)
	}
	for _, suites := range [][]types.CipherSuiteID{nil, {17, 6}} {
		cfg.CipherSuites = suites
		if _, err := newEndpointOn(newMemConn(), newFakeMachine("x"), cfg, newRegistry(), NewGuard(GuardConfig{}), NopObserver{}, slog.New(slog.DiscardHandler)); err == nil {
			t.Errorf("suites %v accepted", suites)
		}
	}
}

// TestReplayFilterCannotBeFlushed: the replay filter remembered the last 32
// datagrams naming a session before checking them, so 32 junk datagrams
// pushed a captured command out of it and the command could be replayed
// from anywhere. Only datagrams that passed the integrity check count now.
func TestReplayFilterCannotBeFlushed(t *testing.T) {
	m := newFakeMachine("n0")
	ep, obs := startEndpoint(t, m, testEndpointConfig())
	target := ep.Addr().(*net.UDPAddr)
	c := newRawConsole(t, "127.0.0.1", target)
	if err := c.login(17, "admin", "password", 0x14); err != nil {
		t.Fatal(err)
	}
	captured := c.seal(payloadIPMI, c.request(0x00, 0x02, []byte{0x01}), sealOpts{}) // power on
	c.send(captured)
	if c.recv(2*time.Second) == nil || len(m.recorded()) != 1 {
		t.Fatalf("the command did not run: %v", m.recorded())
	}
	attacker := newRawConsole(t, "127.0.0.66", target)
	for i := range 100 {
		junk := append([]byte(nil), captured...)
		binary.LittleEndian.PutUint32(junk[10:14], uint32(1000+i)) // another sequence number
		junk[len(junk)-1] ^= 0xFF                                  // and a code that cannot verify
		attacker.send(junk)
	}
	attacker.send(captured)
	// Every datagram is accounted for, however slow the machine: dropped,
	// or (the fault this guards against) run.
	testkit.Eventually(t, 10*time.Second, "the endpoint to take all 101 datagrams", func() bool {
		return obs.droppedFor("integrity")+obs.droppedFor("replayed")+len(m.recorded())-1 >= 101
	})
	if got := m.recorded(); len(got) != 1 {
		t.Fatalf("the captured command ran again: %v", got)
	}
	if obs.droppedFor("integrity") != 100 || obs.droppedFor("replayed") != 1 {
		t.Fatalf("dropped: %v", obs.droppedAll())
	}
	// The session is still the console's.
	if cc, _, ok := c.command(0x00, 0x01, nil); !ok || cc != 0 {
		t.Fatal("the session stopped answering")
	}
}
