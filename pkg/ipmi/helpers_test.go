package ipmi

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	gobmc "github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
)

// fakeMachine records what the IPMI face asks of a node.
type fakeMachine struct {
	name string
	guid node.GUID

	mu       sync.Mutex
	actions  []power.Action
	state    power.State
	powerErr error // returned by Power
	stateErr error // returned by PowerState
	delay    time.Duration
	boot     node.Boot
	validFor time.Duration
}

func newFakeMachine(name string) *fakeMachine {
	return &fakeMachine{name: name, guid: node.GUID{0x4c, 0x4c, 0x45, 0x44, 0, 0x42, 0x30, 0x10, 0x80, 0x52, 0xb7, 0xc0, 0x4f, 0x4b, 0x4d, 0x31},
		state: power.StateOff, boot: node.Boot{Device: node.BootNone}}
}

func (f *fakeMachine) Name() string    { return f.name }
func (f *fakeMachine) GUID() node.GUID { return f.guid }

func (f *fakeMachine) PowerState(context.Context) (power.Reading, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stateErr != nil {
		return power.Reading{}, f.stateErr
	}
	return power.Reading{State: f.state, Source: "fake", At: time.Now()}, nil
}

func (f *fakeMachine) Power(ctx context.Context, a power.Action) error {
	f.mu.Lock()
	d, err := f.delay, f.powerErr
	f.mu.Unlock()
	if d > 0 {
		if err := power.Sleep(ctx, d); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.actions = append(f.actions, a)
	if err != nil {
		return err
	}
	switch a {
	case power.On, power.Cycle, power.Reset:
		f.state = power.StateOn
	case power.Off, power.SoftOff:
		f.state = power.StateOff
	}
	return nil
}

func (f *fakeMachine) Boot() node.Boot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.boot
}

func (f *fakeMachine) SetBoot(_ context.Context, b node.Boot, validFor time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.boot, f.validFor = b, validFor
	return nil
}

func (f *fakeMachine) bootValidFor() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.validFor
}

func (f *fakeMachine) recorded() []power.Action {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]power.Action(nil), f.actions...)
}

// countingObserver records observer events.
type countingObserver struct {
	mu       sync.Mutex
	requests map[string]int // "command/0xCC"
	dropped  map[string]int
	authFail int
	retrans  int
	panics   map[string]int
}

func newCountingObserver() *countingObserver {
	return &countingObserver{requests: map[string]int{}, dropped: map[string]int{}, panics: map[string]int{}}
}

func (o *countingObserver) Request(_, command string, cc uint8) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.requests[fmt.Sprintf("%s/0x%02x", command, cc)]++
}

func (o *countingObserver) Dropped(_, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.dropped[reason]++
}

func (o *countingObserver) AuthFailure(string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.authFail++
}

func (o *countingObserver) Retransmission(string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.retrans++
}

func (o *countingObserver) Panic(_, where string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.panics[where]++
}

func (o *countingObserver) panicCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, v := range o.panics {
		n += v
	}
	return n
}

func (o *countingObserver) requestCount(key string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.requests[key]
}

func (o *countingObserver) droppedFor(reason string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.dropped[reason]
}

func testEndpointConfig() EndpointConfig {
	return EndpointConfig{
		Listen:         "127.0.0.1:0",
		Username:       "admin",
		Password:       "password",
		Privilege:      gobmc.PrivilegeLevelAdministrator,
		CipherSuites:   []types.CipherSuiteID{1, 2, 3, 15, 16, 17},
		V15AuthTypes:   []gobmc.V15AuthType{gobmc.V15AuthTypeMD5, gobmc.V15AuthTypePassword},
		MaxSessions:    32,
		SessionTimeout: time.Minute,
	}
}

// startEndpoint runs one endpoint for m on a free loopback port.
func startEndpoint(t *testing.T, m Machine, cfg EndpointConfig) (*Endpoint, *countingObserver) {
	t.Helper()
	obs := newCountingObserver()
	guard := NewGuard(DefaultGuardConfig())
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go guard.Run(ctx)
	mgr := NewManager(guard, obs, slog.New(slog.DiscardHandler))
	ep, err := mgr.Start(context.Background(), m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mgr.Close)
	return ep, obs
}

// dial opens a go-ipmi client session to ep.
func dial(t *testing.T, ep *Endpoint, user, pass string, intf client.Interface, suite types.CipherSuiteID) *client.Client {
	t.Helper()
	c, err := connect(ep, user, pass, intf, suite)
	if err != nil {
		t.Fatalf("connect %s cs%d: %v", intf, suite, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func connect(ep *Endpoint, user, pass string, intf client.Interface, suite types.CipherSuiteID) (*client.Client, error) {
	addr := ep.Addr().(*net.UDPAddr)
	c, err := client.NewClient("127.0.0.1", addr.Port, user, pass)
	if err != nil {
		return nil, err
	}
	c = c.WithInterface(intf).WithTimeout(2 * time.Second).WithRetry(1)
	if intf == client.InterfaceLanplus {
		c = c.WithCipherSuiteID(suite)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// injectConn is a real loopback socket into which a test can also inject
// datagrams with any source address: forged traffic without raw sockets,
// for the guard's logic (test/e2e forges through a raw socket).
type injectConn struct {
	*net.UDPConn
	in     chan datagram
	closed chan struct{}
	once   sync.Once
}

type datagram struct {
	b    []byte
	from *net.UDPAddr
}

func newInjectConn(t testing.TB) *injectConn {
	t.Helper()
	u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	c := &injectConn{UDPConn: u, in: make(chan datagram, 4096), closed: make(chan struct{})}
	go func() {
		for {
			buf := make([]byte, 2048)
			n, a, err := u.ReadFromUDP(buf)
			if err != nil {
				return
			}
			select {
			case c.in <- datagram{buf[:n], a}:
			case <-c.closed:
				return
			}
		}
	}()
	return c
}

// inject delivers pkt as if it came from src.
func (c *injectConn) inject(pkt []byte, src netip.AddrPort) {
	select {
	case c.in <- datagram{append([]byte(nil), pkt...), net.UDPAddrFromAddrPort(src)}:
	case <-c.closed:
	}
}

func (c *injectConn) ReadFromUDP(b []byte) (int, *net.UDPAddr, error) {
	select {
	case d := <-c.in:
		return copy(b, d.b), d.from, nil
	case <-c.closed:
		return 0, nil, net.ErrClosed
	}
}

func (c *injectConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.UDPConn.Close()
}

// startGuarded runs an endpoint for m on udp with guard configuration gcfg.
func startGuarded(t testing.TB, m Machine, cfg EndpointConfig, gcfg GuardConfig, udp udpConn, opts ...func(*Guard)) (*Endpoint, *countingObserver, *Guard) {
	t.Helper()
	obs := newCountingObserver()
	guard := NewGuard(gcfg)
	for _, o := range opts {
		o(guard)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go guard.Run(ctx)
	ep, err := newEndpointOn(udp, m, cfg, newRegistry(), guard, obs, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { ep.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); ep.Close(); <-done })
	return ep, obs, guard
}

// randomLoopback returns a random 127.x.y.z:port other than 127.0.0.1.
func randomLoopback(r *rand.Rand) netip.AddrPort {
	for {
		a := netip.AddrFrom4([4]byte{127, byte(r.IntN(256)), byte(r.IntN(256)), byte(1 + r.IntN(254))})
		if a != netip.MustParseAddr("127.0.0.1") {
			return netip.AddrPortFrom(a, uint16(1024+r.IntN(60000)))
		}
	}
}

// inFlight reports the guard's in-flight count and the conn's.
func inFlight(ep *Endpoint) (guard, conn int) {
	ep.conn.guard.mu.Lock()
	guard = ep.conn.guard.inFlight
	ep.conn.guard.mu.Unlock()
	ep.conn.mu.Lock()
	defer ep.conn.mu.Unlock()
	for _, r := range ep.conn.sessions {
		conn += len(r.flights)
	}
	for _, r := range ep.conn.v15Active {
		conn += len(r.flights)
	}
	return guard, conn
}

// droppedAll returns a copy of the drop counts (for messages).
func (o *countingObserver) droppedAll() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.dropped)
}
