// Package pdu switches and reads outlets of switched PDUs over SNMP.
//
// One [Client] per PDU serializes every SNMP request to it (many PDU agents
// misbehave with concurrent managers), spaces outlet switch-ons apart
// (inrush), and answers outlet-status reads for all of the PDU's nodes from
// one short-lived poll, so N nodes polled together cost one request, not N.
// Device knowledge lives in the [Models] table.
package pdu

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/powerjockey/powerjockey/pkg/power"
)

// sysObjectIDOID is SNMPv2-MIB::sysObjectID.0, read to detect the model.
const sysObjectIDOID = "1.3.6.1.2.1.1.2.0"

// sysDescrOID is SNMPv2-MIB::sysDescr.0, reported by probes.
const sysDescrOID = "1.3.6.1.2.1.1.1.0"

// Config describes one PDU.
type Config struct {
	Name    string
	Address string // host:port
	// Model is a row name of [Models] or "auto".
	Model string
	SNMP  SNMPConfig
	// CacheTTL is how long one poll answers outlet reads.
	CacheTTL time.Duration
	// Stagger is the minimum spacing between two switch-ons.
	Stagger time.Duration
	Logger  *slog.Logger
	// Observer, if set, is told about every SNMP request (metrics).
	Observer Observer
}

// SNMPConfig is the transport and credentials.
type SNMPConfig struct {
	Version                       string // "1", "2c", "3"
	CommunityRead, CommunityWrite string
	User                          string
	AuthProtocol, AuthPassphrase  string
	PrivProtocol, PrivPassphrase  string
	ContextName                   string
	Timeout                       time.Duration
	Retries                       int
}

// Observer receives one call per SNMP request: op is "get", "set" or
// "poll"; err is nil on success.
type Observer interface {
	SNMPRequest(pdu, op string, took time.Duration, err error)
}

// Outlet is one outlet's last observed state.
type Outlet struct {
	// State is on, off or unknown (an unexpected status value).
	State power.State
	// Watts is the metered draw, nil when the model has no metering.
	Watts *float64
}

// Client talks to one PDU.
type Client struct {
	cfg Config
	log *slog.Logger

	// reqMu keeps one SNMP request in flight.
	reqMu sync.Mutex
	snmp  *gosnmp.GoSNMP
	// lastOnAt is when the last switch-on SET ended (answered or failed);
	// guarded by reqMu.
	lastOnAt time.Time

	mu       sync.Mutex
	model    *Model
	watched  []int // outlets some node reads; the poll set
	cache    map[int]Outlet
	cachedAt time.Time
	polling  chan struct{} // closed when the poll in flight ends
	pollErr  error
	// switched holds the outlets switched while a poll was in flight, so
	// that the poll's possibly older reading does not undo them.
	switched map[int]bool
}

// New returns a client for cfg. It does not contact the PDU.
func New(cfg Config) (*Client, error) {
	host, portStr, err := net.SplitHostPort(cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("pdu %s: address %q: %w", cfg.Name, cfg.Address, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("pdu %s: port %q: %w", cfg.Name, portStr, err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	g := &gosnmp.GoSNMP{
		Target:             host,
		Port:               uint16(port),
		Timeout:            cfg.SNMP.Timeout,
		Retries:            cfg.SNMP.Retries,
		MaxOids:            gosnmp.MaxOids,
		ExponentialTimeout: false,
	}
	switch cfg.SNMP.Version {
	case "1":
		g.Version = gosnmp.Version1
	case "2c", "":
		g.Version = gosnmp.Version2c
	case "3":
		g.Version = gosnmp.Version3
		if err := setUSM(g, cfg.SNMP); err != nil {
			return nil, fmt.Errorf("pdu %s: %w", cfg.Name, err)
		}
	default:
		return nil, fmt.Errorf("pdu %s: unknown SNMP version %q", cfg.Name, cfg.SNMP.Version)
	}
	c := &Client{cfg: cfg, log: cfg.Logger.With("pdu", cfg.Name), snmp: g}
	if cfg.Model != "auto" && cfg.Model != "" {
		m, ok := Lookup(cfg.Model)
		if !ok {
			return nil, fmt.Errorf("pdu %s: unknown model %q", cfg.Name, cfg.Model)
		}
		c.model = m
	}
	return c, nil
}

var authProtocols = map[string]gosnmp.SnmpV3AuthProtocol{
	"MD5": gosnmp.MD5, "SHA": gosnmp.SHA, "SHA224": gosnmp.SHA224,
	"SHA256": gosnmp.SHA256, "SHA384": gosnmp.SHA384, "SHA512": gosnmp.SHA512,
}

// AuthProtocol maps a configuration name (MD5, SHA, SHA224, SHA256, SHA384,
// SHA512) to gosnmp's authentication protocol.
func AuthProtocol(name string) (gosnmp.SnmpV3AuthProtocol, bool) {
	p, ok := authProtocols[name]
	return p, ok
}

// PrivProtocol maps a configuration name (DES, AES, AES192, AES256, AES192C,
// AES256C) to gosnmp's privacy protocol.
func PrivProtocol(name string) (gosnmp.SnmpV3PrivProtocol, bool) {
	p, ok := privProtocols[name]
	return p, ok
}

var privProtocols = map[string]gosnmp.SnmpV3PrivProtocol{
	"DES": gosnmp.DES, "AES": gosnmp.AES, "AES192": gosnmp.AES192,
	"AES256": gosnmp.AES256, "AES192C": gosnmp.AES192C, "AES256C": gosnmp.AES256C,
}

func setUSM(g *gosnmp.GoSNMP, s SNMPConfig) error {
	usm := &gosnmp.UsmSecurityParameters{UserName: s.User}
	g.MsgFlags = gosnmp.NoAuthNoPriv
	if s.AuthProtocol != "" {
		p, ok := authProtocols[s.AuthProtocol]
		if !ok {
			return fmt.Errorf("unknown auth protocol %q", s.AuthProtocol)
		}
		usm.AuthenticationProtocol, usm.AuthenticationPassphrase = p, s.AuthPassphrase
		g.MsgFlags = gosnmp.AuthNoPriv
	}
	if s.PrivProtocol != "" {
		p, ok := privProtocols[s.PrivProtocol]
		if !ok {
			return fmt.Errorf("unknown privacy protocol %q", s.PrivProtocol)
		}
		usm.PrivacyProtocol, usm.PrivacyPassphrase = p, s.PrivPassphrase
		g.MsgFlags = gosnmp.AuthPriv
	}
	g.SecurityModel = gosnmp.UserSecurityModel
	g.SecurityParameters = usm
	g.ContextName = s.ContextName
	return nil
}

// Name returns the PDU's configured name.
func (c *Client) Name() string { return c.cfg.Name }

// Watch adds outlets to the set every poll reads. Nodes call it once when
// they are built; polling only what is used keeps a poll to one request.
func (c *Client) Watch(outlets ...int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range outlets {
		if !slices.Contains(c.watched, o) {
			c.watched = append(c.watched, o)
		}
	}
	slices.Sort(c.watched)
}

// Unwatch removes outlets from the poll set (a node was removed on reload).
func (c *Client) Unwatch(outlets ...int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.watched = slices.DeleteFunc(c.watched, func(o int) bool { return slices.Contains(outlets, o) })
}

// Model returns the PDU's model, detecting it once when configured as "auto".
func (c *Client) Model(ctx context.Context) (*Model, error) {
	c.mu.Lock()
	m := c.model
	c.mu.Unlock()
	if m != nil {
		return m, nil
	}
	id, err := c.sysObjectID(ctx)
	if err != nil {
		return nil, fmt.Errorf("pdu %s: detect model: %w", c.cfg.Name, err)
	}
	m, err = Detect(id)
	if err != nil {
		return nil, fmt.Errorf("pdu %s: %w", c.cfg.Name, err)
	}
	c.log.Info("detected PDU model", "model", m.Name, "sysObjectID", id)
	c.mu.Lock()
	c.model = m
	c.mu.Unlock()
	return m, nil
}

func (c *Client) sysObjectID(ctx context.Context) (string, error) {
	pkt, err := c.request(ctx, "get", false, func(g *gosnmp.GoSNMP) (*gosnmp.SnmpPacket, error) {
		return g.Get([]string{sysObjectIDOID})
	})
	if err != nil {
		return "", err
	}
	if len(pkt.Variables) != 1 || pkt.Variables[0].Type != gosnmp.ObjectIdentifier {
		return "", errors.New("agent returned no sysObjectID")
	}
	id, _ := pkt.Variables[0].Value.(string)
	return id, nil
}

// SetOutlets switches outlets on or off, one SET each, in order. Switch-ons
// honour the stagger. It returns when every SET was acknowledged.
func (c *Client) SetOutlets(ctx context.Context, outlets []int, on bool) error {
	m, err := c.Model(ctx)
	if err != nil {
		return err
	}
	cmd := m.Off
	if on {
		cmd = m.On
	}
	for _, o := range outlets {
		oid := m.OID(cmd.OID, o)
		_, err := c.requestStaggered(ctx, "set", true, on, func(g *gosnmp.GoSNMP) (*gosnmp.SnmpPacket, error) {
			return g.Set([]gosnmp.SnmpPDU{{Name: oid, Type: gosnmp.Integer, Value: cmd.Value}})
		})
		if err != nil {
			return fmt.Errorf("pdu %s outlet %d: switch %s: %w", c.cfg.Name, o, onOff(on), err)
		}
		c.log.Info("outlet switched", "outlet", o, "state", onOff(on))
		c.noteSwitched(o, on)
	}
	return nil
}

// noteSwitched updates the cache after an acknowledged SET, so a status
// read right after a switch-off does not report the stale "on".
func (c *Client) noteSwitched(outlet int, on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.polling != nil {
		if c.switched == nil {
			c.switched = map[int]bool{}
		}
		c.switched[outlet] = on
	}
	if c.cache == nil {
		return
	}
	c.cache[outlet] = switchedOutlet(c.cache[outlet], on)
}

// switchedOutlet is o after an acknowledged switch: an outlet switched off
// draws nothing.
func switchedOutlet(o Outlet, on bool) Outlet {
	o.State = power.StateFor(on)
	if !on && o.Watts != nil {
		zero := 0.0
		o.Watts = &zero
	}
	return o
}

// Read returns the state of outlets from the shared poll, polling when the
// cache is older than CacheTTL. Concurrent readers share one poll.
func (c *Client) Read(ctx context.Context, outlets []int) (map[int]Outlet, error) {
	for {
		c.mu.Lock()
		if c.cache != nil && time.Since(c.cachedAt) < c.cfg.CacheTTL && hasAll(c.cache, outlets) {
			out := pick(c.cache, outlets)
			c.mu.Unlock()
			return out, nil
		}
		// Only watched outlets are polled: waiting for others would poll
		// forever.
		for _, o := range outlets {
			if !slices.Contains(c.watched, o) {
				c.mu.Unlock()
				return nil, fmt.Errorf("pdu %s: outlet %d is not watched", c.cfg.Name, o)
			}
		}
		if c.polling == nil {
			c.polling = make(chan struct{})
			go c.poll(c.polling)
		}
		done := c.polling
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-done:
		}
		c.mu.Lock()
		err := c.pollErr
		ok := c.cache != nil && hasAll(c.cache, outlets)
		var out map[int]Outlet
		if ok {
			out = pick(c.cache, outlets)
		}
		c.mu.Unlock()
		if err != nil {
			return nil, err
		}
		if ok {
			return out, nil
		}
		// The poll raced with a Watch that added our outlets: poll again.
	}
}

func hasAll(cache map[int]Outlet, outlets []int) bool {
	for _, o := range outlets {
		if _, ok := cache[o]; !ok {
			return false
		}
	}
	return true
}

func pick(cache map[int]Outlet, outlets []int) map[int]Outlet {
	out := make(map[int]Outlet, len(outlets))
	for _, o := range outlets {
		out[o] = cache[o]
	}
	return out
}

// poll reads every watched outlet's status (and power, when metered) with
// as few GETs as the agent's message size allows, then publishes the result.
func (c *Client) poll(done chan struct{}) {
	// The poll outlives any one reader's context: it is bounded by the
	// SNMP timeout and retries instead.
	ctx := context.Background()
	start := time.Now()
	cache, err := c.pollOnce(ctx)
	if c.cfg.Observer != nil {
		c.cfg.Observer.SNMPRequest(c.cfg.Name, "poll", time.Since(start), err)
	}
	c.mu.Lock()
	c.pollErr = err
	if err == nil {
		// A switch acknowledged while the poll ran is newer than what the
		// poll may have read before it.
		for o, on := range c.switched {
			if out, ok := cache[o]; ok {
				cache[o] = switchedOutlet(out, on)
			}
		}
		c.cache, c.cachedAt = cache, time.Now()
	} else {
		c.log.Warn("outlet poll failed", "err", err)
	}
	c.switched = nil
	c.polling = nil
	c.mu.Unlock()
	close(done)
}

func (c *Client) pollOnce(ctx context.Context) (map[int]Outlet, error) {
	m, err := c.Model(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	outlets := slices.Clone(c.watched)
	c.mu.Unlock()
	var oids []string
	for _, o := range outlets {
		oids = append(oids, m.OID(m.Status.OID, o))
		if m.Power != nil {
			oids = append(oids, m.OID(m.Power.OID, o))
		}
	}
	values := make(map[string]gosnmp.SnmpPDU, len(oids))
	for chunk := range slices.Chunk(oids, gosnmp.MaxOids) {
		// Reported to the observer once, as the poll, by poll.
		pkt, err := c.request(ctx, "poll", false, func(g *gosnmp.GoSNMP) (*gosnmp.SnmpPacket, error) {
			return g.Get(chunk)
		})
		if err != nil {
			return nil, fmt.Errorf("pdu %s: read outlets: %w", c.cfg.Name, err)
		}
		for _, v := range pkt.Variables {
			values[trimDot(v.Name)] = v
		}
	}
	cache, missing := outletReadings(m, outlets, values)
	for _, o := range missing {
		c.log.Warn("outlet has no status on this PDU", "outlet", o, "oid", m.OID(m.Status.OID, o))
	}
	return cache, nil
}

// outletReadings interprets what a PDU answered for outlets under model m.
// It is the only code that reads values decoded from the PDU's replies, so
// it must tolerate anything (FuzzSNMPResponse). missing lists outlets
// whose status the PDU did not report.
func outletReadings(m *Model, outlets []int, values map[string]gosnmp.SnmpPDU) (cache map[int]Outlet, missing []int) {
	cache = make(map[int]Outlet, len(outlets))
	for _, o := range outlets {
		var out Outlet
		if v, ok := intValue(values[m.OID(m.Status.OID, o)]); ok {
			if on, known := m.Status.StateOf(int(v)); known {
				out.State = power.StateFor(on)
			}
		} else {
			missing = append(missing, o)
		}
		if m.Power != nil {
			// Meters report negative values (-1, -2000000) for "no reading".
			if v, ok := intValue(values[m.OID(m.Power.OID, o)]); ok && v >= 0 {
				w := float64(v) * m.Power.Scale
				out.Watts = &w
			}
		}
		cache[o] = out
	}
	return cache, missing
}

// request runs one SNMP operation with the PDU's single request slot held.
func (c *Client) request(ctx context.Context, op string, write bool, fn func(*gosnmp.GoSNMP) (*gosnmp.SnmpPacket, error)) (*gosnmp.SnmpPacket, error) {
	return c.requestStaggered(ctx, op, write, false, fn)
}

// requestStaggered is request; for a switch-on (switchOn) it also waits
// until Stagger has passed since the previous switch-on ended. It waits
// without holding the request slot and checks again once it holds it, so
// switch-ons reach the PDU at least Stagger apart however long they queued
// behind other requests.
func (c *Client) requestStaggered(ctx context.Context, op string, write, switchOn bool, fn func(*gosnmp.GoSNMP) (*gosnmp.SnmpPacket, error)) (*gosnmp.SnmpPacket, error) {
	for {
		c.reqMu.Lock()
		if err := ctx.Err(); err != nil {
			c.reqMu.Unlock()
			return nil, err
		}
		var wait time.Duration
		if switchOn && !c.lastOnAt.IsZero() {
			wait = time.Until(c.lastOnAt.Add(c.cfg.Stagger))
		}
		if wait <= 0 {
			break
		}
		c.reqMu.Unlock()
		if err := power.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
	defer c.reqMu.Unlock()
	if switchOn {
		// Counted even when the SET fails: the PDU may have acted on it.
		defer func() { c.lastOnAt = time.Now() }()
	}
	g := c.snmp
	if g.Version != gosnmp.Version3 {
		g.Community = c.cfg.SNMP.CommunityRead
		if write {
			g.Community = c.cfg.SNMP.CommunityWrite
		}
	}
	g.Context = ctx
	start := time.Now()
	pkt, err := c.exchange(g, fn)
	if c.cfg.Observer != nil && op != "poll" {
		c.cfg.Observer.SNMPRequest(c.cfg.Name, op, time.Since(start), err)
	}
	return pkt, err
}

func (c *Client) exchange(g *gosnmp.GoSNMP, fn func(*gosnmp.GoSNMP) (*gosnmp.SnmpPacket, error)) (*gosnmp.SnmpPacket, error) {
	if g.Conn == nil {
		if err := g.Connect(); err != nil {
			return nil, fmt.Errorf("connect %s: %w", c.cfg.Address, err)
		}
	}
	pkt, err := fn(g)
	if err != nil {
		// A refusal (ICMP port unreachable) means no agent answers there,
		// as a silent device does.
		if isTimeout(err) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("%s: %w (%v)", c.cfg.Address, power.ErrTimeout, err)
		}
		return nil, fmt.Errorf("%s: %w", c.cfg.Address, err)
	}
	if pkt.Error != gosnmp.NoError {
		return nil, fmt.Errorf("%s: agent answered %s (index %d)", c.cfg.Address, pkt.Error, pkt.ErrorIndex)
	}
	return pkt, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	// gosnmp reports exhausted retries as a plain error ("request timeout").
	return err != nil && (errors.Is(err, context.DeadlineExceeded) || strings.Contains(strings.ToLower(err.Error()), "timeout"))
}

// Close releases the SNMP socket.
func (c *Client) Close() error {
	c.reqMu.Lock()
	defer c.reqMu.Unlock()
	if c.snmp.Conn != nil {
		err := c.snmp.Conn.Close()
		c.snmp.Conn = nil
		return err
	}
	return nil
}

// ProbeResult is what `powerjockey check --probe` reports about a PDU.
type ProbeResult struct {
	SysObjectID string
	SysDescr    string
	Model       string
	Outlets     map[int]Outlet
}

// Probe asks the PDU who it is and reads outlets.
func (c *Client) Probe(ctx context.Context, outlets []int) (*ProbeResult, error) {
	pkt, err := c.request(ctx, "get", false, func(g *gosnmp.GoSNMP) (*gosnmp.SnmpPacket, error) {
		return g.Get([]string{sysObjectIDOID, sysDescrOID})
	})
	if err != nil {
		return nil, fmt.Errorf("pdu %s: %w", c.cfg.Name, err)
	}
	res := &ProbeResult{}
	for _, v := range pkt.Variables {
		switch trimDot(v.Name) {
		case sysObjectIDOID:
			res.SysObjectID, _ = v.Value.(string)
		case sysDescrOID:
			if b, ok := v.Value.([]byte); ok {
				res.SysDescr = string(b)
			}
		}
	}
	m, err := c.Model(ctx)
	if err != nil {
		return res, err
	}
	res.Model = m.Name
	c.Watch(outlets...)
	res.Outlets, err = c.Read(ctx, outlets)
	return res, err
}

func trimDot(oid string) string {
	if len(oid) > 0 && oid[0] == '.' {
		return oid[1:]
	}
	return oid
}

func intValue(v gosnmp.SnmpPDU) (int64, bool) {
	switch v.Type {
	case gosnmp.Integer, gosnmp.Gauge32, gosnmp.Counter32, gosnmp.Uinteger32, gosnmp.Counter64, gosnmp.TimeTicks:
		b := gosnmp.ToBigInt(v.Value)
		if b == nil || !b.IsInt64() {
			return 0, false
		}
		return b.Int64(), true
	default:
		return 0, false
	}
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}
