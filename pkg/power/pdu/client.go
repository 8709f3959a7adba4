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
	// VerifyTimeout bounds how long after a SET the outlet's status may
	// take to show the switch (default 5s).
	VerifyTimeout time.Duration
	// VerifyInterval is the spacing of the status reads that wait for a
	// switch (default 250ms).
	VerifyInterval time.Duration
	Logger         *slog.Logger
	// Observer, if set, is told about every SNMP request (metrics).
	Observer Observer
	// Now is the clock the cache's age and the last switch are told by
	// (default time.Now; tests: one they can move past CacheTTL).
	Now func() time.Time
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
	// State is on, off or unknown (an unexpected status value). A pending
	// switch reads as the state the outlet is still in.
	State power.State
	// Pending is the state a switch the PDU accepted and has not finished
	// goes to (Eaton pendingOn/pendingOff, Sentry onWait/offWait); Unknown
	// when none is pending.
	Pending power.State
	// Status is the raw status value read, for logs; HasStatus is false
	// when the PDU reported none.
	Status    int64
	HasStatus bool
	// Watts is the metered draw, nil when the model has no metering.
	Watts *float64
}

// ErrNotSwitched means a PDU acknowledged a switch it did not perform, or
// answered the SET with something other than the value written.
var ErrNotSwitched = errors.New("outlet not switched")

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

	// detectMu keeps one model detection in flight.
	detectMu sync.Mutex

	mu      sync.Mutex
	model   *Model
	refusal *refusal // a recent detection that found no PDU
	watched []int    // outlets some node reads; the poll set
	cache   map[int]Outlet
	// cachedAt is when the cached poll ended, cacheStart when it began:
	// a poll that began before a SET describes the outlets before it.
	cachedAt, cacheStart time.Time
	polling              *pollRun // the poll in flight
	// failed is the last poll when it failed, failedAt when it ended: it
	// answers reads for CacheTTL like a successful one, so that the nodes
	// of a PDU that fails at once (a closed port) read together do not
	// poll it one after another.
	failed   *pollRun
	failedAt time.Time
	// setAt is when the last SET was sent: no poll begun before it
	// answers reads.
	setAt time.Time
}

// refusal is a cached detection failure, so that nodes polling a device
// that is not a PDU do not walk it on every read.
type refusal struct {
	err error
	at  time.Time
}

// refusalTTL is how long a refused detection is answered from memory.
const refusalTTL = 30 * time.Second

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
	if cfg.VerifyTimeout <= 0 {
		cfg.VerifyTimeout = 5 * time.Second
	}
	if cfg.VerifyInterval <= 0 {
		cfg.VerifyInterval = 250 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
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

// Model returns the PDU's model. A configured row is used as is; "auto"
// detects the family once, confirming it by reading its outlet table (see
// DetectModel), and remembers it. A device found not to be a switched PDU is
// refused with a *DetectError, remembered for a while so that polls do not
// walk it again on every read; a device that does not answer is retried.
func (c *Client) Model(ctx context.Context) (*Model, error) {
	if m, err, ok := c.knownModel(); ok {
		return m, err
	}
	c.detectMu.Lock()
	defer c.detectMu.Unlock()
	if m, err, ok := c.knownModel(); ok {
		return m, err
	}
	m, err := c.DetectModel(ctx)
	c.mu.Lock()
	switch {
	case err == nil:
		c.model, c.refusal = m, nil
	case errors.Is(err, ErrNotPDU):
		c.refusal = &refusal{err: err, at: c.cfg.Now()}
	}
	c.mu.Unlock()
	return m, err
}

// knownModel returns the configured or detected model, or a recent
// refusal; ok is false when detection must run.
func (c *Client) knownModel() (*Model, error, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.model != nil {
		return c.model, nil, true
	}
	if r := c.refusal; r != nil && c.cfg.Now().Sub(r.at) < refusalTTL {
		return nil, r.err, true
	}
	return nil, nil, false
}

// SetOutlets switches outlets on or off, one SET each, in order, and
// returns once the PDU's outlet status shows every switch done (or pending
// on a PDU that sequences its outlets). Switch-ons honour the stagger.
// A SET answered with an exception or another value than written, and a
// switch the status does not show within VerifyTimeout, are errors
// wrapping ErrNotSwitched, logged with the OID.
func (c *Client) SetOutlets(ctx context.Context, outlets []int, on bool) error {
	m, err := c.Model(ctx)
	if err != nil {
		return err
	}
	cmd := m.Off
	if on {
		cmd = m.On
	}
	// The read-back reads the outlets through the poll.
	c.Watch(outlets...)
	for _, o := range outlets {
		oid := m.OID(cmd.OID, o)
		pkt, err := c.requestStaggered(ctx, "set", true, on, func(g *gosnmp.GoSNMP) (*gosnmp.SnmpPacket, error) {
			return g.Set([]gosnmp.SnmpPDU{{Name: oid, Type: gosnmp.Integer, Value: cmd.Value}})
		})
		// Whatever the answer, the PDU may have acted: no poll begun
		// before now tells the outlet's state any more.
		c.mu.Lock()
		c.setAt = c.cfg.Now()
		c.mu.Unlock()
		if err != nil {
			return fmt.Errorf("pdu %s outlet %d: switch %s: %w", c.cfg.Name, o, onOff(on), err)
		}
		if err := setAnswer(pkt, oid, cmd.Value); err != nil {
			c.log.Error("PDU did not take the switch", "outlet", o, "state", onOff(on), "oid", oid, "value", cmd.Value, "err", err)
			return fmt.Errorf("pdu %s outlet %d: switch %s: SET %s = %d: %w", c.cfg.Name, o, onOff(on), oid, cmd.Value, err)
		}
		c.log.Info("outlet switch acknowledged", "outlet", o, "state", onOff(on), "oid", oid)
	}
	return c.verify(ctx, m, outlets, on)
}

// setAnswer checks the varbinds of a SET's response: RFC 3416 answers a
// successful SET with the varbinds written. An exception (noSuchObject,
// noSuchInstance, endOfMibView) or another value means the agent did not
// write what was asked, whatever its error-status says.
func setAnswer(pkt *gosnmp.SnmpPacket, oid string, value int) error {
	if pkt == nil || len(pkt.Variables) != 1 {
		n := 0
		if pkt != nil {
			n = len(pkt.Variables)
		}
		return fmt.Errorf("%w: the answer holds %d varbinds, want 1", ErrNotSwitched, n)
	}
	v := pkt.Variables[0]
	if name := trimDot(v.Name); name != oid {
		return fmt.Errorf("%w: the answer names %s", ErrNotSwitched, name)
	}
	switch v.Type {
	case gosnmp.NoSuchObject, gosnmp.NoSuchInstance, gosnmp.EndOfMibView:
		return fmt.Errorf("%w: the agent answered %s", ErrNotSwitched, v.Type)
	}
	got, ok := intValue(v)
	if !ok {
		return fmt.Errorf("%w: the agent answered a %s", ErrNotSwitched, v.Type)
	}
	if got != int64(value) {
		return fmt.Errorf("%w: the agent answered %d", ErrNotSwitched, got)
	}
	return nil
}

// verify reads the outlets back through the shared poll until each shows
// the switch (or a pending state towards it), for at most VerifyTimeout.
func (c *Client) verify(ctx context.Context, m *Model, outlets []int, on bool) error {
	want := power.StateFor(on)
	deadline := time.Now().Add(c.cfg.VerifyTimeout)
	var notBefore time.Time // read applies the last SET's time anyway
	for {
		outs, began, err := c.read(ctx, outlets, notBefore)
		if err != nil {
			return fmt.Errorf("pdu %s: read back after switch %s: %w", c.cfg.Name, onOff(on), err)
		}
		var left, pending []int
		for _, o := range outlets {
			switch out := outs[o]; {
			case out.Pending == want:
				pending = append(pending, o)
			case out.State == want && out.Pending == power.Unknown:
			default:
				// Not switched, or switched but about to go back.
				left = append(left, o)
			}
		}
		if len(left) == 0 {
			if len(pending) > 0 {
				c.log.Info("outlet switch pending on the PDU", "outlets", pending, "state", onOff(on))
			}
			return nil
		}
		if !time.Now().Before(deadline) {
			var errs []error
			for _, o := range left {
				out := outs[o]
				oid := m.OID(m.Status.OID, o)
				status := "absent"
				if out.HasStatus {
					status = strconv.FormatInt(out.Status, 10)
				}
				c.log.Error("outlet did not switch", "outlet", o, "want", onOff(on), "status_oid", oid,
					"status", status, "state", out.State.String(), "waited", c.cfg.VerifyTimeout)
				errs = append(errs, fmt.Errorf("pdu %s outlet %d: %w %s: status %s is %s (%s) after %s",
					c.cfg.Name, o, ErrNotSwitched, onOff(on), oid, status, out.State, c.cfg.VerifyTimeout))
			}
			return errors.Join(errs...)
		}
		if err := power.Sleep(ctx, min(c.cfg.VerifyInterval, time.Until(deadline))); err != nil {
			return err
		}
		notBefore = began.Add(time.Nanosecond)
	}
}

// Read returns the state of outlets from the shared poll, polling when the
// cache is older than CacheTTL or began before the last switch. Concurrent
// readers share one poll. A failed poll answers with its error for
// CacheTTL in the same way.
func (c *Client) Read(ctx context.Context, outlets []int) (map[int]Outlet, error) {
	out, _, err := c.read(ctx, outlets, time.Time{})
	return out, err
}

// pollRun is one poll of the watched outlets.
type pollRun struct {
	done  chan struct{} // closed when the poll ended; then:
	start time.Time
	cache map[int]Outlet
	err   error
}

// read is Read from a poll begun no earlier than notBefore (nor than the
// last SET); it also returns when that poll began.
func (c *Client) read(ctx context.Context, outlets []int, notBefore time.Time) (map[int]Outlet, time.Time, error) {
	for {
		c.mu.Lock()
		floor := notBefore
		if c.setAt.After(floor) {
			floor = c.setAt
		}
		if c.cache != nil && !c.cacheStart.Before(floor) && c.cfg.Now().Sub(c.cachedAt) < c.cfg.CacheTTL && hasAll(c.cache, outlets) {
			out, began := pick(c.cache, outlets), c.cacheStart
			c.mu.Unlock()
			return out, began, nil
		}
		// Only watched outlets are polled: waiting for others would poll
		// forever.
		for _, o := range outlets {
			if !slices.Contains(c.watched, o) {
				c.mu.Unlock()
				return nil, time.Time{}, fmt.Errorf("pdu %s: outlet %d is not watched", c.cfg.Name, o)
			}
		}
		if f := c.failed; f != nil && !f.start.Before(floor) && c.cfg.Now().Sub(c.failedAt) < c.cfg.CacheTTL {
			c.mu.Unlock()
			return nil, time.Time{}, f.err
		}
		run := c.polling
		if run == nil {
			run = &pollRun{done: make(chan struct{}), start: c.cfg.Now()}
			c.polling = run
			go c.poll(run)
		}
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, time.Time{}, ctx.Err()
		case <-run.done:
		}
		if run.err != nil {
			return nil, time.Time{}, run.err
		}
		if !run.start.Before(floor) && hasAll(run.cache, outlets) {
			return pick(run.cache, outlets), run.start, nil
		}
		// The poll began before a switch, or raced with a Watch that added
		// our outlets: poll again.
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
func (c *Client) poll(run *pollRun) {
	// The poll outlives any one reader's context: it is bounded by the
	// SNMP timeout and retries instead.
	ctx := context.Background()
	start := time.Now()
	cache, err := c.pollOnce(ctx)
	if c.cfg.Observer != nil {
		c.cfg.Observer.SNMPRequest(c.cfg.Name, "poll", time.Since(start), err)
	}
	c.mu.Lock()
	run.cache, run.err = cache, err
	if err == nil {
		c.cache, c.cachedAt, c.cacheStart = cache, c.cfg.Now(), run.start
		if c.failed != nil {
			c.log.Info("outlet poll answers again")
		}
		c.failed = nil
	} else {
		// Once per outage: the background sampler polls a dead PDU every
		// sample interval.
		if c.failed == nil {
			c.log.Warn("outlet poll failed", "err", err)
		} else {
			c.log.Debug("outlet poll failed", "err", err)
		}
		c.failed, c.failedAt = run, c.cfg.Now()
	}
	c.polling = nil
	c.mu.Unlock()
	close(run.done)
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
			out.Status, out.HasStatus = v, true
			if v == int64(int(v)) {
				if on, known := m.Status.StateOf(int(v)); known {
					out.State = power.StateFor(on)
				}
				if toward, pending := m.Status.Pending(int(v)); pending {
					out.Pending = power.StateFor(toward)
				}
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
		return nil, fmt.Errorf("%s: %w", c.cfg.Address, &AgentError{Status: pkt.Error, Index: pkt.ErrorIndex})
	}
	return pkt, nil
}

// AgentError is an SNMP error-status the agent answered a request with.
type AgentError struct {
	Status gosnmp.SNMPError
	Index  uint8
}

// Error names the SNMP error status and the varbind it concerns.
func (e *AgentError) Error() string {
	return fmt.Sprintf("agent answered %s (index %d)", e.Status, e.Index)
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
	// TableMissing, for a model configured by name, says why the PDU's
	// outlet status table does not fit the row ("" when it does).
	TableMissing string
	Outlets      map[int]Outlet
}

// Probe asks the PDU who it is, confirms its model's outlet table and
// reads outlets. It never writes.
func (c *Client) Probe(ctx context.Context, outlets []int) (*ProbeResult, error) {
	id, descr, err := c.identity(ctx)
	if err != nil {
		return nil, fmt.Errorf("pdu %s: %w", c.cfg.Name, err)
	}
	res := &ProbeResult{SysObjectID: id, SysDescr: descr}
	m, err := c.Model(ctx)
	if err != nil {
		return res, err
	}
	res.Model = m.Name
	if c.cfg.Model != "auto" && c.cfg.Model != "" {
		if res.TableMissing, err = c.Confirm(ctx, m); err != nil {
			return res, fmt.Errorf("pdu %s: %w", c.cfg.Name, err)
		}
	}
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
