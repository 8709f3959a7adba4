package ipmi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/hal"
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/server"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/powerjockey/powerjockey/pkg/node"
)

// EndpointConfig is one node's BMC.
type EndpointConfig struct {
	// Listen is the UDP address, e.g. "192.168.24.1:6230".
	Listen   string
	Username string
	Password string
	// Privilege is the user's maximum privilege.
	Privilege bmc.PrivilegeLevel
	// CipherSuites offered over RMCP+; 0 only when listed explicitly.
	CipherSuites []types.CipherSuiteID
	// V15AuthTypes enables IPMI v1.5 sessions; empty disables them.
	V15AuthTypes []bmc.V15AuthType
	// MaxSessions is the RMCP+ session table size.
	MaxSessions int
	// SessionTimeout is the idle timeout.
	SessionTimeout time.Duration
	// ReclaimAfter is how long an established session must have been
	// silent before a new console may take its place in a full table
	// (default 10s).
	ReclaimAfter time.Duration
	// Hardware is what the BMC reports beyond power and boot: power
	// supplies, FRU inventory, serial console (hardware.go).
	Hardware Hardware
}

// defaultReclaimAfter: far longer than any pause inside a scripted session,
// far shorter than the 60-second idle timeout a locked-out client would wait.
const defaultReclaimAfter = 10 * time.Second

func (ep *Endpoint) reclaimAfter() time.Duration {
	if ep.cfg.ReclaimAfter > 0 {
		return ep.cfg.ReclaimAfter
	}
	return defaultReclaimAfter
}

// Endpoint is one node's BMC: a go-ipmi BMC and server on its own socket.
type Endpoint struct {
	machine Machine
	cfg     EndpointConfig
	log     *slog.Logger
	bmc     *bmc.BMC
	srv     *server.Server
	conn    *guardedConn
	clock   *endpointClock
	obs     Observer

	dedup dedupTable

	// v15Password is the user's password as IPMI v1.5 AuthCodes use it,
	// for the conn to verify v1.5 datagrams before go-ipmi does.
	v15Password []byte

	mu                sync.Mutex
	bootSetInProgress byte // boot options parameter 0, volatile like on a real BMC

	hw bmcState // SEL/SDR reservations and the like (hardware.go)

	done chan struct{}
}

// deviceInfo is what Get Device ID reports. Manufacturer ID 0 is
// "unspecified": claiming a real vendor would make Ironic and other tools
// send that vendor's OEM commands.
var deviceInfo = bmc.DeviceInfo{
	DeviceID:                0x20,
	DeviceRevision:          0x01,
	FirmwareMajor:           0,
	FirmwareMinor:           0x01, // BCD
	IPMIVersion:             0x02, // BCD, low nibble major: 2.0
	ManufacturerID:          0,
	ProductID:               0x706A, // "pj"
	AdditionalDeviceSupport: 0x8F,   // chassis, FRU inventory, SEL, SDR repository and sensor device
}

// newEndpoint builds the BMC for m and binds its socket; Serve starts it.
func newEndpoint(m Machine, cfg EndpointConfig, reg *handlers.Registry, guard *Guard, obs Observer, log *slog.Logger) (*Endpoint, error) {
	ua, err := net.ResolveUDPAddr("udp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("ipmi endpoint of %s: %w", m.Name(), err)
	}
	udp, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("ipmi endpoint of %s: %w", m.Name(), err)
	}
	// A larger receive queue rides out bursts (a flood, a fleet-wide
	// power sweep) without dropping consoles' datagrams; the kernel caps it
	// at net.core.rmem_max and charges it only while datagrams wait.
	_ = udp.SetReadBuffer(socketReadBuffer)
	return newEndpointOn(udp, m, cfg, reg, guard, obs, log)
}

// newEndpointOn builds an endpoint on an already bound socket.
func newEndpointOn(udp udpConn, m Machine, cfg EndpointConfig, reg *handlers.Registry, guard *Guard, obs Observer, log *slog.Logger) (*Endpoint, error) {
	ep := &Endpoint{
		machine: m,
		cfg:     cfg,
		log:     log.With("node", m.Name(), "listen", cfg.Listen),
		obs:     obs,
		done:    make(chan struct{}),
	}
	if len(cfg.CipherSuites) == 0 {
		udp.Close()
		return nil, fmt.Errorf("ipmi endpoint of %s: no cipher suites", m.Name())
	}
	for _, id := range cfg.CipherSuites {
		// go-ipmi panics on a suite it cannot serve, and falls back to its
		// own default list on an empty one: neither may happen silently.
		if !bmc.SupportedCipherSuite(id) {
			udp.Close()
			return nil, fmt.Errorf("ipmi endpoint of %s: cipher suite %d is not supported", m.Name(), id)
		}
	}
	ep.conn = newGuardedConn(udp, guard, ep)
	ep.clock = newEndpointClock(guard)

	opts := []bmc.Option{bmc.WithClock(ep.clock), bmc.WithCipherSuites(cfg.CipherSuites)}
	if len(cfg.V15AuthTypes) == 0 {
		opts = append(opts, bmc.WithV15Disabled())
	} else {
		opts = append(opts, bmc.WithV15AuthTypes(cfg.V15AuthTypes))
	}
	b := bmc.New(deviceInfo, ipmiGUID(m.GUID()), &halAdapter{ep: ep}, opts...)
	// go-ipmi's store holds handshakes and sessions alike and, when full,
	// evicts the oldest handshake: under a flood of Open Session requests a
	// console's handshake would be evicted before its RAKP 1 arrived. The
	// store is made as large as go-ipmi's one-byte handles allow and the
	// conn decides what is admitted and evicted (guard.go): at most
	// cfg.MaxSessions established sessions, a bounded number of handshakes.
	b.Sessions = bmc.NewSessionStoreWithOptions(b.Clock(),
		bmc.WithMaxSessions(storeMax), bmc.WithInactivityTimeout(cfg.SessionTimeout))
	b.Sessions.SetOnRemove(func(id uint32) {
		b.SOL.DeactivateBySession(id)
		ep.conn.forget(id)
	})
	// User 1 is go-ipmi's anonymous user (null name, null password),
	// enabled but without channel access: every login with it is refused,
	// yet Get Channel Authentication Capabilities announced anonymous login
	// and null user names because of it.
	_ = b.Users.Update(1, func(u *bmc.User) error { u.Enabled = false; return nil })

	user, err := b.Users.Add(2, cfg.Username)
	if err != nil {
		ep.conn.Close()
		return nil, fmt.Errorf("ipmi endpoint of %s: user: %w", m.Name(), err)
	}
	user.SetPassword([]byte(cfg.Password))
	user.Enabled = true
	user.ChannelAccess[lanChannel] = bmc.UserChannelAccess{MaxPrivilege: cfg.Privilege, Enabled: true}
	ep.v15Password = user.PasswordV15Padded()
	ep.bmc = b
	ep.setupSOL()
	// IPMI datagrams are small (a few hundred bytes; an SOL packet at most
	// ~300): a 1 KiB read buffer instead of go-ipmi's 4 KiB saves 3 MiB per
	// 1,000 endpoints. Anything longer is dropped as oversize by the guard.
	ep.srv = server.NewServer(b, ep.conn, server.WithHandlerRegistry(reg), server.WithServerBufferSize(readBufferSize))
	guard.register(ep.conn)
	return ep, nil
}

// lanChannel is the LAN channel go-ipmi serves sessions on.
const lanChannel = 1

// Serve answers requests until ctx is done or Close is called. go-ipmi's
// server starts with the first datagram that is not a presence ping
// (guardedConn.awaitSession).
func (ep *Endpoint) Serve(ctx context.Context) error {
	defer close(ep.done)
	stop := context.AfterFunc(ctx, func() { _ = ep.srv.Close() })
	defer stop()
	if ep.conn.awaitSession() != nil {
		return nil // closed
	}
	err := ep.srv.Serve(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Close stops the endpoint and waits for its serve loop to end.
func (ep *Endpoint) Close() {
	_ = ep.srv.Close()
	<-ep.done
}

// Name is the node's name.
func (ep *Endpoint) Name() string { return ep.machine.Name() }

// Addr is the bound UDP address (useful with port 0 in tests).
func (ep *Endpoint) Addr() net.Addr { return ep.conn.LocalAddr() }

// Sessions returns the number of established sessions (handshakes in
// progress are not sessions yet).
func (ep *Endpoint) Sessions() int { return ep.conn.established() }

func (ep *Endpoint) setInProgress(v byte) types.CompletionCode {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if v == 1 && ep.bootSetInProgress == 1 {
		return ccSetInProgressActive
	}
	if v == 3 {
		return ccInvalidDataField // reserved
	}
	if v == 2 { // commit write: we write through, so it completes at once
		v = 0
	}
	ep.bootSetInProgress = v
	return ccOK
}

func (ep *Endpoint) getInProgress() byte {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return ep.bootSetInProgress
}

func (ep *Endpoint) updateBoot(ctx context.Context, fn func(*node.Boot)) error {
	b := ep.machine.Boot()
	fn(&b)
	// Re-setting the same override must not restart or cancel its timeout.
	validFor := time.Duration(0)
	if !b.ExpiresAt.IsZero() {
		validFor = time.Until(b.ExpiresAt)
	}
	return ep.machine.SetBoot(ctx, b, validFor)
}

// endpointOf finds the endpoint a request arrived on: every endpoint's BMC
// has a *halAdapter pointing back at it, which lets all endpoints share one
// handler registry.
func endpointOf(hctx *handlers.HandlerContext) *Endpoint {
	return hctx.BMC.HAL().(*halAdapter).ep
}

// ipmiGUID encodes a GUID as Get Device/System GUID return it. The IPMI
// spec (§20.8) stores it least-significant byte first, i.e. the RFC 4122
// bytes reversed; ipmitool and freeipmi decode it back to the same text.
func ipmiGUID(g node.GUID) [16]byte {
	var out [16]byte
	for i := range g {
		out[i] = g[15-i]
	}
	return out
}

// halAdapter is the go-ipmi HAL of one endpoint. Every chassis command that
// matters is served by our own handlers; the HAL covers go-ipmi's remaining
// default handlers (Chassis Identify) and the SOL store's needs.
type halAdapter struct{ ep *Endpoint }

func (h *halAdapter) Chassis() hal.ChassisHAL { return chassisHAL{h.ep} }
func (h *halAdapter) Sensors() hal.SensorHAL  { return nil } // sensors.go serves the Sensor/Event commands itself
func (h *halAdapter) Storage() hal.StorageHAL { return storageHAL{h.ep} }
func (h *halAdapter) Network() hal.NetworkHAL { return networkHAL{h.ep} }
func (h *halAdapter) GPIO() hal.GPIOHAL       { return nil }
func (h *halAdapter) I2C() hal.I2CHAL         { return nil }
func (h *halAdapter) Console() hal.ConsoleHAL {
	if h.ep.cfg.Hardware.Console == nil {
		return nil
	}
	return consoleHAL{h.ep}
}
func (h *halAdapter) Close() error { return nil }

// readBufferSize is each endpoint's datagram buffer.
const readBufferSize = 1024

// socketReadBuffer is each endpoint's kernel receive queue.
const socketReadBuffer = 1 << 20
