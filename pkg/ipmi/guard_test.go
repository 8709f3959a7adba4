package ipmi

import (
	"context"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/command/chassis"
	"github.com/bougou/go-ipmi/pkg/protocol"

	"github.com/powerjockey/powerjockey/pkg/power"
)

func rmcpPlus(payloadType byte, sessionID uint32, payload []byte) []byte {
	return protocol.BuildRMCPPlusPacket(payloadType, 0, sessionID, 1, payload)
}

func TestClassify(t *testing.T) {
	asfPing := []byte{0x06, 0x00, 0xff, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x80, 0x01, 0x00, 0x00}
	v15Challenge := []byte{0x06, 0x00, 0xff, 0x07, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x07,
		0x20, 0x18, 0xc8, 0x81, 0x04, 0x39, 0x42}
	v15AuthCaps := []byte{0x06, 0x00, 0xff, 0x07, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x09,
		0x20, 0x18, 0xc8, 0x81, 0x00, 0x38, 0x8e, 0x04, 0xb5}
	v15InSession := v15Message(0x02, 7, 0x1234, make([]byte, 16), v15Request(1, 0x00, 0x01, nil))
	tests := []struct {
		name   string
		pkt    []byte
		kind   packetKind
		reason string
	}{
		{"empty", nil, 0, "short"},
		{"not rmcp", []byte{0x05, 0, 0xff, 0x07, 0x06}, 0, "rmcp_version"},
		{"unknown class", []byte{0x06, 0, 0xff, 0x08, 0x06}, 0, "rmcp_class"},
		{"asf ping", asfPing, kindPing, ""},
		{"asf pong (not ours to answer)", append(append([]byte{}, asfPing[:8]...), 0x40, 1, 0, 0), 0, "asf"},
		{"truncated rmcp+", []byte{0x06, 0, 0xff, 0x07, 0x06, 0x10, 0, 0}, 0, "rmcpplus_header"},
		{"open session", rmcpPlus(payloadOpenSession, 0, make([]byte, 32)), kindOpenSession, ""},
		{"short open session", rmcpPlus(payloadOpenSession, 0, make([]byte, 31)), 0, "open_length"},
		{"rakp1", rmcpPlus(payloadRAKP1, 0, make([]byte, 28)), kindRAKP1, ""},
		{"short rakp1", rmcpPlus(payloadRAKP1, 0, make([]byte, 4)), 0, "rakp_length"},
		{"rakp1 name longer than 16", rmcpPlus(payloadRAKP1, 0, append(append(make([]byte, 27), 17), make([]byte, 17)...)), 0, "rakp_length"},
		{"rakp1 name beyond payload", rmcpPlus(payloadRAKP1, 0, append(make([]byte, 27), 5, 'a')), 0, "rakp_length"},
		// The go-ipmi crash found by FuzzEndpointDatagram: length 0xf2 wraps.
		{"rakp1 wrapping name length", rmcpPlus(payloadRAKP1, 0, append(make([]byte, 27), 0xf2, 'a', 'd')), 0, "rakp_length"},
		{"rakp3", rmcpPlus(payloadRAKP3, 0, make([]byte, 8)), kindRAKP3, ""},
		{"short rakp3", rmcpPlus(payloadRAKP3, 0, make([]byte, 7)), 0, "rakp_length"},
		{"in-session ipmi", rmcpPlus(payloadIPMI, 0x1234, make([]byte, 8)), kindInSession, ""},
		{"in-session sol", rmcpPlus(payloadSOL, 0x1234, make([]byte, 8)), kindInSession, ""},
		{"pre-session ipmi", rmcpPlus(payloadIPMI, 0, make([]byte, 8)), kindPreSession, ""},
		{"pre-session ipmi too short to parse", rmcpPlus(payloadIPMI, 0, make([]byte, 6)), 0, "ipmi_length"},
		{"pre-session sol", rmcpPlus(payloadSOL, 0, make([]byte, 8)), 0, "payload_type"},
		{"unknown payload", rmcpPlus(0x3f, 0, make([]byte, 8)), 0, "payload_type"},
		{"v1.5 challenge", v15Challenge, kindV15Challenge, ""},
		{"v1.5 auth caps", v15AuthCaps, kindPreSession, ""},
		{"v1.5 authenticated", v15InSession, kindV15Session, ""},
		{"v1.5 authenticated without session", v15Message(0x02, 0, 0, make([]byte, 16), v15Request(1, 0x06, 0x3a, make([]byte, 22))), 0, "unknown_session"},
		{"v1.5 auth none in a session", v15Message(0x00, 3, 0x1234, nil, v15Request(1, 0x00, 0x01, nil)), 0, "v15_auth_none"},
		{"v1.5 bad auth type", []byte{0x06, 0, 0xff, 0x07, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0, "v15_auth_type"},
		{"v1.5 OEM auth type", []byte{0x06, 0, 0xff, 0x07, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0, "v15_auth_type"},
		{"v1.5 length beyond packet", append(append([]byte{}, v15Challenge[:13]...), 0x40, 0x20), 0, "v15_length"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kind, reason := classify(tc.pkt)
			if kind != tc.kind || reason != tc.reason {
				t.Fatalf("classify = %v %q, want %v %q", kind, reason, tc.kind, tc.reason)
			}
		})
	}
}

// TestWrongPasswordIsCountedAndRateLimited drives real failed handshakes
// through an endpoint: ipmitool-style clients stop after a RAKP 2 that does
// not match their password.
func TestWrongPasswordIsCounted(t *testing.T) {
	ep, obs := startEndpoint(t, newFakeMachine("n0"), testEndpointConfig())
	if _, err := connect(ep, "admin", "wrong", client.InterfaceLanplus, 17); err == nil {
		t.Fatal("wrong password accepted")
	}
	// The go-ipmi client reports the RAKP 2 mismatch in its RAKP 3.
	deadline := time.Now().Add(rakpTimeout + 3*time.Second)
	for obs.authFailures() == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if obs.authFailures() == 0 {
		t.Fatal("failed authentication not counted")
	}
}

func (o *countingObserver) authFailures() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.authFail
}

// TestResentChassisControlRunsOnce: a client that resends a slow Chassis
// Control gets one answer and the node sees one action.
func TestResentChassisControlRunsOnce(t *testing.T) {
	m := newFakeMachine("n0")
	m.delay = 1200 * time.Millisecond
	ep, obs := startEndpoint(t, m, testEndpointConfig())
	addr := ep.Addr().(*net.UDPAddr)
	c, err := client.NewClient("127.0.0.1", addr.Port, "admin", "password")
	if err != nil {
		t.Fatal(err)
	}
	// Resend every 400 ms, up to 5 times: the action takes 1.2 s.
	c = c.WithInterface(client.InterfaceLanplus).WithCipherSuiteID(17).WithTimeout(400 * time.Millisecond).WithRetry(5)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if _, err := c.ChassisControl(ctx, chassis.ChassisControlPowerCycle); err != nil {
		t.Fatal(err)
	}
	if got := m.recorded(); len(got) != 1 || got[0] != power.Cycle {
		t.Fatalf("node saw %v, want one cycle", got)
	}
	obs.mu.Lock()
	resends := obs.dropped["replayed"] + obs.retrans
	obs.mu.Unlock()
	if resends == 0 {
		t.Fatal("no resend was observed: the test did not exercise retransmission")
	}
}

func TestReplayMiddlewareAnswersResendsFromCache(t *testing.T) {
	var table dedupTable
	k := replayKey{session: 7, req: "\x02"}
	if _, _, hit := table.lookup(k); hit {
		t.Fatal("empty table hit")
	}
	table.store(k, nil, 0xC3)
	if _, cc, hit := table.lookup(k); !hit || cc != 0xC3 {
		t.Fatalf("lookup = %v %v", cc, hit)
	}
	other := replayKey{session: 8, req: "\x02"}
	if _, _, hit := table.lookup(other); hit {
		t.Fatal("another session shares the entry")
	}
	table.mu.Lock()
	e := table.entries[k]
	e.at = time.Now().Add(-replayWindow - time.Second)
	table.entries[k] = e
	table.mu.Unlock()
	if _, _, hit := table.lookup(k); hit {
		t.Fatal("expired entry replayed")
	}
}

func TestMalformedDatagramsAreDroppedAndCounted(t *testing.T) {
	ep, obs := startEndpoint(t, newFakeMachine("n0"), testEndpointConfig())
	conn, err := net.DialUDP("udp", nil, ep.Addr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	garbage := [][]byte{{}, {1, 2, 3}, {0x06, 0, 0xff, 0x07}, make([]byte, 64)}
	for _, g := range garbage {
		conn.Write(g)
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		obs.mu.Lock()
		n := 0
		for _, v := range obs.dropped {
			n += v
		}
		obs.mu.Unlock()
		if n >= len(garbage)-1 { // an empty datagram may not be delivered
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The endpoint still serves.
	c := dial(t, ep, "admin", "password", client.InterfaceLanplus, 17)
	if _, err := c.GetChassisStatus(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.dropped["short"] == 0 || obs.dropped["rmcp_version"] == 0 {
		t.Fatalf("dropped = %v", obs.droppedAll())
	}
}

func TestManyEndpointsInOneProcess(t *testing.T) {
	const n = 50
	mgr := NewManager(NewGuard(DefaultGuardConfig()), nil, nil)
	t.Cleanup(mgr.Close)
	machines := make([]*fakeMachine, n)
	eps := make([]*Endpoint, n)
	for i := range machines {
		machines[i] = newFakeMachine("node-" + string(rune('a'+i%26)) + string(rune('a'+i/26)))
		ep, err := mgr.Start(context.Background(), machines[i], testEndpointConfig())
		if err != nil {
			t.Fatal(err)
		}
		eps[i] = ep
	}
	if got := len(mgr.Names()); got != n {
		t.Fatalf("%d endpoints, want %d", got, n)
	}
	// Each endpoint drives its own node only.
	for i := 0; i < n; i += 7 {
		c := dial(t, eps[i], "admin", "password", client.InterfaceLanplus, 3)
		if _, err := c.ChassisControl(ctx5(t), chassis.ChassisControlPowerUp); err != nil {
			t.Fatal(err)
		}
	}
	for i, m := range machines {
		want := 0
		if i%7 == 0 {
			want = 1
		}
		if got := len(m.recorded()); got != want {
			t.Errorf("%s saw %d actions, want %d", m.name, got, want)
		}
	}
	mgr.Stop(machines[0].name)
	if mgr.Endpoint(machines[0].name) != nil || len(mgr.Names()) != n-1 {
		t.Fatal("Stop did not remove the endpoint")
	}
	if c, err := connect(eps[1], "admin", "password", client.InterfaceLanplus, 3); err != nil {
		t.Fatalf("stopping one endpoint disturbed another: %v", err)
	} else {
		c.Close(context.Background())
	}
}

func TestSessionIDBytes(t *testing.T) {
	// classify relies on the RMCP+ header layout; pin it.
	pkt := rmcpPlus(payloadIPMI, 0xAABBCCDD, []byte{1})
	if got := binary.LittleEndian.Uint32(pkt[6:10]); got != 0xAABBCCDD {
		t.Fatalf("session ID at bytes 6..10 = %x", got)
	}
}

// TestFullTableReclaimsIdleSessions: consoles that vanish without closing
// their sessions do not lock the next one out until the idle timeout.
func TestFullTableReclaimsIdleSessions(t *testing.T) {
	cfg := testEndpointConfig()
	cfg.MaxSessions = 2
	cfg.ReclaimAfter = 300 * time.Millisecond
	ep, _ := startEndpoint(t, newFakeMachine("n0"), cfg)
	for i := 0; i < 2; i++ {
		c := dial(t, ep, "admin", "password", client.InterfaceLanplus, 17) // never closed before the end
		if _, err := c.GetChassisStatus(ctx5(t)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := connect(ep, "admin", "password", client.InterfaceLanplus, 17); err == nil {
		t.Fatal("a third session fit in a table of two busy sessions")
	}
	time.Sleep(400 * time.Millisecond)
	c, err := connect(ep, "admin", "password", client.InterfaceLanplus, 17)
	if err != nil {
		t.Fatalf("locked out by idle sessions: %v", err)
	}
	c.Close(context.Background())
}
