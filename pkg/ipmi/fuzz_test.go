package ipmi

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	gobmc "github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/command/chassis"
	"github.com/bougou/go-ipmi/pkg/crypto"
	"github.com/bougou/go-ipmi/pkg/handlers"
)

// memConn is an in-memory socket: datagrams pushed in are read by the
// endpoint; replies are counted and discarded.
type memConn struct {
	in      chan []byte
	closed  chan struct{}
	once    sync.Once
	replies int
	mu      sync.Mutex
}

func newMemConn() *memConn {
	return &memConn{in: make(chan []byte), closed: make(chan struct{})}
}

var memPeer = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 9), Port: 40000}

func (c *memConn) ReadFromUDP(b []byte) (int, *net.UDPAddr, error) {
	select {
	case pkt := <-c.in:
		return copy(b, pkt), memPeer, nil
	case <-c.closed:
		return 0, nil, net.ErrClosed
	}
}

func (c *memConn) WriteToUDP(b []byte, _ *net.UDPAddr) (int, error) {
	c.mu.Lock()
	c.replies++
	c.mu.Unlock()
	return len(b), nil
}

func (c *memConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *memConn) LocalAddr() net.Addr { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 623} }

// waitIdle waits (boundedly) until the goroutine go-ipmi spawned for a
// datagram has finished, so a crash is attributed to the right input.
func waitIdle(before int) {
	deadline := time.Now().Add(50 * time.Millisecond)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		runtime.Gosched()
	}
}

// FuzzEndpointDatagram feeds arbitrary datagrams through one endpoint's
// whole server path: the guard, go-ipmi's RMCP/RMCP+/v1.5 parsing, session
// handshake handlers and the command registry with powerjockey's handlers.
// go-ipmi is included on purpose: its bugs are our outages.
func FuzzEndpointDatagram(f *testing.F) {
	conn := newMemConn()
	guard := NewGuard(DefaultGuardConfig())
	ep, err := newEndpointOn(conn, newFakeMachine("fuzz"), testEndpointConfig(), newRegistry(), guard, NopObserver{}, slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ep.Serve(ctx); close(done) }()
	f.Cleanup(func() { cancel(); ep.Close(); <-done })

	f.Add([]byte{0x06, 0x00, 0xff, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x80, 0x01, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		before := runtime.NumGoroutine()
		conn.in <- pkt
		waitIdle(before)
	})
}

// TestWriteFuzzCorpus records the datagrams real clients (ipmitool,
// freeipmi, go-ipmi) send to an endpoint into the checked-in fuzz corpus.
// Run with PJ_WRITE_CORPUS=1 to refresh it.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("PJ_WRITE_CORPUS") == "" {
		t.Skip("set PJ_WRITE_CORPUS=1 to record the fuzz corpus")
	}
	ua, _ := net.ResolveUDPAddr("udp", "127.0.0.1:0")
	udp, err := net.ListenUDP("udp", ua)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingConn{UDPConn: udp}
	guard := NewGuard(GuardConfig{})
	ep, err := newEndpointOn(rec, newFakeMachine("rec"), testEndpointConfig(), newRegistry(), guard, NopObserver{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	go ep.Serve(context.Background())
	defer ep.Close()
	port := strconv.Itoa(udp.LocalAddr().(*net.UDPAddr).Port)
	for _, args := range [][]string{
		{"ipmitool", "-I", "lanplus", "-C", "3", "power", "status"},
		{"ipmitool", "-I", "lanplus", "-C", "17", "chassis", "bootdev", "pxe", "options=persistent,efiboot"},
		{"ipmitool", "-I", "lanplus", "-C", "1", "power", "on"},
		{"ipmitool", "-I", "lan", "-A", "MD5", "mc", "guid"},
		{"ipmitool", "-I", "lan", "-A", "PASSWORD", "chassis", "status"},
	} {
		cmd := exec.Command(args[0], append(args[1:], "-H", "127.0.0.1", "-p", port, "-U", "admin", "-P", "password")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("%v: %v %s", args, err, out)
		}
	}
	cmd := exec.Command("ipmipower", "-D", "LAN_2_0", "-h", "127.0.0.1:"+port, "-u", "admin", "-p", "password", "--stat")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Logf("ipmipower: %v %s", err, out)
	}
	c, err := connect(ep, "admin", "password", client.InterfaceLanplus, 17)
	if err == nil {
		c.ChassisControl(context.Background(), chassis.ChassisControlPowerCycle)
		c.Close(context.Background())
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzEndpointDatagram")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, pkt := range rec.packets {
		name := fmt.Sprintf("%x", sha256.Sum256(pkt))[:16]
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", pkt)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("recorded %d datagrams", len(rec.packets))
}

type recordingConn struct {
	*net.UDPConn
	mu      sync.Mutex
	packets [][]byte
}

func (r *recordingConn) ReadFromUDP(b []byte) (int, *net.UDPAddr, error) {
	n, addr, err := r.UDPConn.ReadFromUDP(b)
	if err == nil {
		r.mu.Lock()
		r.packets = append(r.packets, append([]byte(nil), b[:n]...))
		r.mu.Unlock()
	}
	return n, addr, err
}

// FuzzDispatch feeds arbitrary in-session commands (what a datagram holds
// once a session has authenticated and decrypted it) through the shared
// registry: every go-ipmi and powerjockey handler, at every privilege from
// CALLBACK to ADMINISTRATOR.
func FuzzDispatch(f *testing.F) {
	guard := NewGuard(DefaultGuardConfig())
	reg := newRegistry()
	obs := newCountingObserver()
	ep, err := newEndpointOn(newMemConn(), newFakeMachine("fuzz"), testEndpointConfig(), reg, guard, obs, slog.New(slog.DiscardHandler))
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
		{0x00, 0x02, []byte{0x01}},                         // chassis control: on
		{0x00, 0x08, []byte{0x05, 0xe0, 0x04, 0, 0, 0}},    // Ironic's boot flags
		{0x00, 0x08, []byte{0x03, 0x08}},                   // valid-bit clearing
		{0x00, 0x09, []byte{0x05, 0x00, 0x00}},             // get boot flags
		{0x06, 0x54, []byte{0x0e, 0x00, 0x80}},             // cipher suites
		{0x06, 0x3b, []byte{0x04}},                         // set session privilege
		{0x06, 0x3d, []byte{0x00}},                         // get session info
		{0x06, 0x42, []byte{0x0e}},                         // get channel info
		{0x06, 0x01, nil},                                  // get device id
		{0x0c, 0x02, []byte{0x01, 0x03, 0x00, 0x00}},       // get LAN config
		{0x06, 0x48, []byte{0x01, 0x01, 0xc6, 0, 0, 0, 0}}, // activate payload (SOL)
	}
	for _, s := range seeds {
		f.Add(s.netFn, s.cmd, s.data)
	}
	f.Fuzz(func(t *testing.T, netFn, cmd byte, data []byte) {
		// The top two bits of netFn (unused by IPMI) pick the session's
		// privilege, so handlers also run below ADMINISTRATOR.
		priv := gobmc.PrivilegeLevelAdministrator - gobmc.PrivilegeLevel(netFn>>6)
		sess := &gobmc.Session{BMCID: 1, State: gobmc.SessionStateActive, User: user, Channel: lanChannel,
			PrivilegeLevel: priv, MaxPrivilege: priv}
		hctx := &handlers.HandlerContext{BMC: ep.bmc, Session: sess, Channel: ch, User: user}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		reg.Dispatch(ctx, hctx, netFn&0x3e, cmd, data)
		// The recover middleware keeps the daemon alive; the fuzzer must
		// still see the panic.
		if n := obs.panicCount(); n != 0 {
			t.Fatalf("handler panicked on netFn %#x cmd %#x data % x", netFn, cmd, data)
		}
	})
}

// FuzzInSession holds a real RMCP+ session with integrity and
// confidentiality (cipher suite 17: HMAC-SHA256-128, AES-CBC-128) and
// mutates what goes inside it before the console encrypts and
// authenticates it, so that every mutation passes the integrity check and
// reaches the conn's checks and go-ipmi's decryption and parsing.
// FuzzEndpointDatagram cannot get there: a mutated datagram never carries
// a valid integrity code for a live session, so go-ipmi dropped every one
// before decrypting (which is why it never found the truncated-ciphertext
// crash, docs/go-ipmi-notes.md).
//
// mode selects the mutation: bit 0 sends data as the whole plaintext (not
// an IPMI request built from netFn/cmd/data), bit 1 uses the SOL payload
// type, bit 2 cuts len(extra)%32 bytes off the ciphertext, bit 3 appends
// extra to it, bit 4 sends extra as the payload instead of encrypting,
// bit 5 clears the encrypted flag, bit 6 clears the authenticated flag.
func FuzzInSession(f *testing.F) {
	ep, obs, _ := startGuarded(f, newFakeMachine("fuzz"), testEndpointConfig(), DefaultGuardConfig(), newInjectConn(f))
	target := ep.Addr().(*net.UDPAddr)
	var c *rawConsole
	login := func(tb testing.TB) {
		c = newRawConsole(f, "127.0.0.1", target)
		if err := c.login(17, "admin", "password", 0x14); err != nil {
			tb.Fatalf("login: %v", err)
		}
	}
	login(f)
	f.Add(byte(0), byte(0x00), byte(0x01), []byte{}, []byte{})              // Get Chassis Status
	f.Add(byte(4), byte(0x00), byte(0x01), []byte{}, []byte{15})            // the crash: IV + a partial block
	f.Add(byte(8), byte(0x06), byte(0x3B), []byte{0x04}, []byte{1, 2, 3})   // trailing bytes after the blocks
	f.Add(byte(16), byte(0x00), byte(0x02), []byte{0x01}, make([]byte, 33)) // a raw payload
	f.Add(byte(1), byte(0), byte(0), []byte{0x20, 0x18}, []byte{})          // a plaintext shorter than a message
	f.Add(byte(2), byte(0x00), byte(0x00), []byte{0, 0, 0, 0, 'x'}, []byte{})
	f.Add(byte(32), byte(0x00), byte(0x01), []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, mode, netFn, cmd byte, data, extra []byte) {
		sess, err := ep.bmc.Sessions.Get(c.bmcID)
		if err != nil { // a fuzzed Close Session ended it
			login(t)
			sess, _ = ep.bmc.Sessions.Get(c.bmcID)
		}
		// Stay inside go-ipmi's sequence window whatever it accepted.
		sess.ProcMu.Lock()
		c.seq = sess.InboundSeq
		sess.ProcMu.Unlock()

		plain := data
		if mode&1 == 0 {
			plain = c.request(netFn&0x3E, cmd, data)
		}
		pt := byte(payloadIPMI)
		if mode&2 != 0 {
			pt = payloadSOL
		}
		iv := make([]byte, 16)
		payload, _ := crypto.EncryptAESPayload(plain, c.k2, iv)
		if mode&4 != 0 && len(extra) > 0 {
			payload = payload[:max(0, len(payload)-int(extra[0])%32)]
		}
		if mode&8 != 0 {
			payload = append(payload, extra...)
		}
		if mode&16 != 0 {
			payload = extra
		}
		flags := byte(flagEncrypted | flagAuthenticated)
		if mode&32 != 0 {
			flags &^= flagEncrypted
		}
		if mode&64 != 0 {
			flags &^= flagAuthenticated
		}
		if len(payload) > 900 {
			payload = payload[:900]
		}
		before := runtime.NumGoroutine()
		c.send(c.seal(pt, nil, sealOpts{raw: payload, flags: &flags}))
		waitIdle(before)
		if n := obs.panicCount(); n != 0 {
			t.Fatalf("recovered %d panics (mode %#x netFn %#x cmd %#x data % x extra % x)", n, mode, netFn, cmd, data, extra)
		}
	})
}
