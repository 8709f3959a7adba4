package ipmi

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	gobmc "github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
)

// FuzzBMCCommands feeds arbitrary request data to the commands this
// package serves beyond power and boot (sensors, SDR, SEL, FRU, LAN,
// channel access, watchdog, DCMI...), on a node with a meter, an event
// log and a console: each request parser must answer, never panic.
func FuzzBMCCommands(f *testing.F) {
	m := dualPSU()
	m.samples = []node.MeterSample{{At: time.Now().Truncate(node.MeterBucket), Min: 100, Max: 130, Avg: 120, Count: 3}}
	m.add(node.Event{Kind: node.EventPowerAction, Action: power.On, Means: "pdu", Result: "ok"}, node.Event{Kind: node.EventLogCleared})
	obs := newCountingObserver()
	cfg := testEndpointConfig()
	cfg.Hardware = dualPSUHardware
	cfg.Hardware.Console = &memConsole{}
	cfg.Hardware.FRU = FRUInfo{Product: "p", AssetTag: "tag"}
	reg := newRegistry()
	ep, err := newEndpointOn(newMemConn(), m, cfg, reg, NewGuard(DefaultGuardConfig()), obs, slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	user, err := ep.bmc.Users.GetByName("admin")
	if err != nil {
		f.Fatal(err)
	}
	ch, _ := ep.bmc.Channels.Get(lanChannel)
	seeds := []struct {
		netFn, cmd byte
		data       []byte
	}{
		{0x04, 0x2D, []byte{0x01}},                         // sensor reading
		{0x04, 0x27, []byte{0x10}},                         // thresholds
		{0x0A, 0x20, nil},                                  // SDR repository info
		{0x0A, 0x23, []byte{0, 0, 0, 0, 0, 0xFF}},          // get SDR
		{0x0A, 0x43, []byte{0, 0, 0xFF, 0xFF, 0, 0xFF}},    // get SEL entry
		{0x0A, 0x47, []byte{1, 0, 'C', 'L', 'R', 0xAA}},    // clear SEL
		{0x0A, 0x49, []byte{0, 0, 0, 0}},                   // set SEL time
		{0x0A, 0x11, []byte{0, 0, 0, 16}},                  // read FRU
		{0x0C, 0x02, []byte{0x01, 0x17, 0, 0}},             // LAN cipher suites
		{0x0C, 0x01, []byte{0x01, 0x03, 10, 0, 0, 1}},      // set LAN IP
		{0x06, 0x41, []byte{0x0E, 0x80}},                   // channel access
		{0x06, 0x24, []byte{0x04, 0x01, 0, 0x10, 0x2C, 1}}, // set watchdog
		{0x00, 0x07, nil},                                  // restart cause
		{0x2C, 0x01, []byte{0xDC, 0x05}},                   // DCMI capabilities
		{0x2C, 0x02, []byte{0xDC, 0x02, 0x41, 0x00}},       // DCMI power reading
		{0x2C, 0x09, []byte{0xDC, 0x00, 0x10}},             // DCMI MC ID
	}
	for _, s := range seeds {
		f.Add(s.netFn, s.cmd, s.data)
	}
	f.Fuzz(func(t *testing.T, netFn, cmd byte, data []byte) {
		sess := &gobmc.Session{BMCID: 1, State: gobmc.SessionStateActive, User: user, Channel: lanChannel,
			PrivilegeLevel: gobmc.PrivilegeLevelAdministrator, MaxPrivilege: gobmc.PrivilegeLevelAdministrator}
		hctx := &handlers.HandlerContext{BMC: ep.bmc, Session: sess, Channel: ch, User: user}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		reg.Dispatch(ctx, hctx, netFn&0x3e, cmd, data)
		if n := obs.panicCount(); n != 0 {
			t.Fatalf("handler panicked on netFn %#x cmd %#x data % x", netFn, cmd, data)
		}
	})
}

// memConsole is an in-memory console that accepts everything typed.
type memConsole struct {
	mu       sync.Mutex
	typed    []byte
	attached bool
}

func (c *memConsole) Attach(context.Context) (ConsoleSession, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.attached {
		return nil, ErrConsoleBusy
	}
	c.attached = true
	return &memSession{c: c}, nil
}

type memSession struct{ c *memConsole }

func (s *memSession) Write(p []byte) (int, error) {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	s.c.typed = append(s.c.typed[:0], p...)
	return len(p), nil
}
func (s *memSession) ReadAvailable(p []byte) (int, error) { return copy(p, "console output\r\n"), nil }
func (s *memSession) SendBreak(context.Context) error     { return nil }
func (s *memSession) Close() error {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	s.c.attached = false
	return nil
}

// FuzzSOLPayload feeds arbitrary SOL payloads (what an in-session SOL
// datagram holds once authenticated and decrypted) through go-ipmi's SOL
// decoder and data plane to the node's console.
func FuzzSOLPayload(f *testing.F) {
	cfg := testEndpointConfig()
	cfg.Hardware.Console = &memConsole{}
	ep, err := newEndpointOn(newMemConn(), newBMCMachine("sol"), cfg, newRegistry(), NewGuard(DefaultGuardConfig()), NopObserver{}, slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	user, err := ep.bmc.Users.GetByName("admin")
	if err != nil {
		f.Fatal(err)
	}
	sess := &gobmc.Session{BMCID: 9, State: gobmc.SessionStateActive, User: user, Channel: lanChannel,
		PrivilegeLevel: gobmc.PrivilegeLevelAdministrator, MaxPrivilege: gobmc.PrivilegeLevelAdministrator,
		IntegrityAlg: types.IntegrityAlg_HMAC_SHA1_96}
	if _, err := ep.bmc.SOL.Activate(context.Background(), sess, false, false); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { ep.bmc.SOL.DeactivateBySession(sess.BMCID) })
	for _, seed := range [][]byte{
		{0x01, 0x00, 0x00, 0x00, 'l', 's', '\r'}, // characters, sequence 1
		{0x00, 0x01, 0x10, 0x00},                 // ACK of packet 1
		{0x02, 0x00, 0x00, 0x10},                 // break
		{0x03, 0x01, 0x00, 0x43},                 // NACK, flush both
		{0x0F},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		var pkt types.SOLPayloadPacket
		if err := pkt.Unpack(payload); err != nil {
			return
		}
		ep.bmc.SOL.ProcessPacket(context.Background(), sess.BMCID, &pkt)
	})
}
