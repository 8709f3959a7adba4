// Package node holds powerjockey's per-machine state and behaviour: the
// power policy that turns an action into steps on the node's means (PDU
// outlets, Wake-on-LAN, exec hooks, or the manual fallback), the power
// status that reports what sensors see rather than the last command, the boot
// override, and their persistence. Protocol servers (IPMI, Redfish, HTTP)
// call it; it calls the power backends.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/powerjockey/powerjockey/pkg/power"
)

// Fallback decides what happens to an action a node has no means for.
type Fallback int

const (
	// FallbackManual announces the action to the operator, records its
	// target state and reports success: the fake_pxe workflow's human step.
	FallbackManual Fallback = iota
	// FallbackError fails the action.
	FallbackError
)

// Feed is a power feed that can also be read: a node's PDU outlets.
type Feed interface {
	power.Actuator
	power.Sensor
	// Metered reports whether the feed reports the draw in watts.
	Metered(ctx context.Context) (bool, error)
}

// Means are the ways a node's power can be moved and observed. Any may be nil.
type Means struct {
	Feed       Feed           // PDU outlets: on, off, state, metering
	Waker      power.Actuator // Wake-on-LAN: on
	Hooks      power.Actuator // exec hooks: whichever actions are configured
	Probe      power.Sensor   // TCP/ICMP reachability
	ExecStatus power.Sensor   // exec status hook
}

// Observer is told about node events (metrics). Calls must not block.
type Observer interface {
	// ActionDone reports a finished power action; err is nil on success.
	ActionDone(node string, a power.Action, means string, took time.Duration, err error)
}

// Config is everything a node is built from.
type Config struct {
	Name string
	// GUID, if set, overrides the persisted or generated GUID.
	GUID       GUID
	Means      Means
	OnDelay    time.Duration
	CycleDelay time.Duration
	Fallback   Fallback
	// StatusSource is the sensor that decides the node's power state, or
	// power.SourceAuto (the default) to combine them.
	StatusSource power.Source
	// WattsOn is the metered draw above which the node counts as on.
	WattsOn float64
	// MaxAge is the age beyond which a reading is refreshed.
	MaxAge time.Duration
	// StatusWait bounds how long a status read waits for a refresh before
	// answering from the cache (default 1.5s).
	StatusWait time.Duration
	// SampleInterval is how often Sample reads the sensors when nobody
	// asked in the meantime; 0 disables sampling.
	SampleInterval time.Duration
	// MaxStale is the age beyond which a cached reading is no longer served
	// when refreshes fail: the node's state is then unknown (default 30s).
	MaxStale time.Duration
	// EventLogSize is how many events the node keeps (default
	// DefaultEventLogSize).
	EventLogSize int
	// Boot says whether the machine fetches its boot script from the boot
	// endpoint, and how virtual media is checked.
	Boot BootConfig
	// Now is the clock that readings' ages are measured by, against
	// MaxAge and MaxStale (default time.Now; tests: a fake one, with
	// sensors dating their readings by it).
	Now      func() time.Time
	Logger   *slog.Logger
	Observer Observer
}

// Node is one machine.
type Node struct {
	cfg   Config
	store *Store
	log   *slog.Logger

	// actMu serializes power actions.
	actMu sync.Mutex
	// tail is the background remainder of the last action; guarded by actMu.
	tail *tail

	// saveMu orders writes of state to the store, so that the file never
	// goes back to an older snapshot than one already written.
	saveMu sync.Mutex

	// events is the node's event log: what the IPMI SEL, the Redfish log
	// and the page's timeline show.
	events *eventLog

	mu    sync.Mutex // guards state and status fields below
	state Persisted
	// meter is the metered draw of the last hour; nil until the first
	// metered reading.
	meter *meterRing
	// status cache
	reading    power.Reading
	readingErr error
	refreshing chan struct{}
	// lastRefresh is when the last refresh started, whoever asked.
	lastRefresh time.Time
	// epoch counts accepted actions; a refresh begun in an older epoch is
	// not published.
	epoch uint64
	// mediaErrID is the virtual media insertion whose serving failure was
	// last recorded (media.go).
	mediaErrID string

	ctx    context.Context // node lifetime; cancelled by Close
	cancel context.CancelFunc
}

type tail struct {
	action power.Action
	cancel context.CancelFunc
	// stepsDone is set once the steps have run (before the result is
	// recorded); done is closed once the result is recorded.
	stepsDone atomic.Bool
	done      chan struct{}
}

// New builds a node, loading its persisted state from store.
func New(ctx context.Context, cfg Config, store *Store) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.StatusSource == "" {
		cfg.StatusSource = power.SourceAuto
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = 2 * time.Second
	}
	if cfg.StatusWait == 0 {
		cfg.StatusWait = 1500 * time.Millisecond
	}
	if cfg.MaxStale == 0 {
		cfg.MaxStale = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	st, _, err := store.Load(cfg.Name)
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, store: store, log: cfg.Logger.With("node", cfg.Name), state: st,
		events: newEventLog(store.eventsPath(cfg.Name), cfg.EventLogSize)}
	// A node needs no file until it has state: its GUID comes from the
	// configuration, or from the file, or is derived from the installation
	// and its name (the same on every start). Writing nothing here keeps a
	// first start of a thousand nodes from costing a thousand fsyncs.
	switch {
	case !cfg.GUID.IsZero() && cfg.GUID != st.GUID:
		// A configured GUID is recorded, so that it stays the node's GUID
		// if the key is later dropped from the configuration.
		n.state.GUID = cfg.GUID
		if err := store.Save(cfg.Name, n.state); err != nil {
			return nil, err
		}
	case n.state.GUID.IsZero():
		n.state.GUID = store.NodeGUID(cfg.Name)
	}
	if n.state.Boot.Device == "" {
		n.state.Boot.Device = BootNone
	}
	n.ctx, n.cancel = context.WithCancel(ctx)
	return n, nil
}

// Name returns the node's name.
func (n *Node) Name() string { return n.cfg.Name }

// GUID returns the node's system GUID, stable across restarts.
func (n *Node) GUID() GUID {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state.GUID
}

// Close stops any background action sequence and waits for it.
func (n *Node) Close() {
	n.actMu.Lock()
	defer n.actMu.Unlock()
	n.stopTailLocked()
	n.cancel()
}

// Power performs action a. It returns once the first step is confirmed
// (an outlet switched and read back, a magic packet sent, a hook exited 0,
// or the action announced for a human); delays and follow-up steps run in
// the background. A new action cancels the background steps of the
// previous one.
//
// What a sensor sees decides two cases, as clients expect of a BMC: on,
// off and soft off of a node already in that state succeed without
// switching anything, and cycle or reset of a node that is off powers it
// on (as freeipmi's `ipmipower --cycle --on-if-off` asks, which MAAS uses;
// the IPMI specification's note on power cycle would rather have a BMC do
// nothing and answer D5h). Without a sensor, or when it does not answer
// within StatusWait, the action is performed as asked.
func (n *Node) Power(ctx context.Context, a power.Action) error {
	n.actMu.Lock()
	defer n.actMu.Unlock()
	start := time.Now()
	by := RequesterFrom(ctx)
	busy := n.tailRunningLocked()
	if busy && (a == power.On || a == power.Off) && targetState(n.tail.action) == targetState(a) {
		// The action under way already heads there (a client resending
		// "power on" while the Wake-on-LAN repeats run): let it finish,
		// and keep its record; the request still gets its audit line.
		n.log.Info("power action", append([]any{"action", a.String(), "means", "none", "result", "ok",
			"note", "the " + n.tail.action.String() + " under way already does it"}, by.logAttrs()...)...)
		return nil
	}
	n.stopTailLocked()

	planned := a
	switch a {
	case power.Off:
		if !busy && n.outletsOff(ctx) {
			n.already(a, power.StateOff, by, start)
			return nil
		}
	case power.On, power.SoftOff:
		// Not while an action of ours runs: a machine booting after its
		// outlet came on reads as off until it draws power.
		if st, ok := n.sensedState(ctx); ok && st == targetState(a) && !busy {
			n.already(a, st, by, start)
			return nil
		}
	case power.Cycle, power.Reset:
		// Not while an action of ours runs: a node off in the middle of
		// a cycle gets its full off time again.
		if st, ok := n.sensedState(ctx); ok && st == power.StateOff && !busy {
			n.log.Info("power "+a.String()+" of a node that is off: powering it on", "action", a.String())
			planned = power.On
		}
	}
	steps, means, err := n.plan(planned)
	if err != nil {
		n.finish(a, means, by, start, err)
		return err
	}
	if steps == nil {
		return n.manual(a, by, start)
	}

	first := steps[0]
	cont, err := first.actuator.Do(ctx, first.action)
	if err != nil {
		err = fmt.Errorf("power %s %s: %w", a, n.cfg.Name, err)
		n.finish(a, means, by, start, err)
		return err
	}
	n.recordAccepted(a, means, by, start)
	if first.boots {
		n.consumeBoot()
	}

	rest := steps[1:]
	if cont == nil && len(rest) == 0 {
		n.finish(a, means, by, start, nil)
		return nil
	}
	tctx, cancel := context.WithCancel(n.ctx)
	t := &tail{action: a, cancel: cancel, done: make(chan struct{})}
	n.tail = t
	go func() {
		defer close(t.done)
		err := n.runTail(tctx, cont, rest)
		t.stepsDone.Store(true)
		if errors.Is(err, context.Canceled) {
			n.log.Info("power action superseded", "action", a.String(), "means", means)
			n.finishRecord(a, means, by, start, ResultCancelled, nil)
			return
		}
		if err != nil {
			err = fmt.Errorf("power %s %s: %w", a, n.cfg.Name, err)
		}
		n.finish(a, means, by, start, err)
	}()
	return nil
}

// step is one actuator action or a pause.
type step struct {
	actuator power.Actuator
	action   power.Action
	delay    time.Duration
	// boots marks the step that powers the machine on: once it is done,
	// the machine boots and consumes a next-boot-only override.
	boots bool
}

// tailRunningLocked reports whether the background steps of the last
// action are still under way (the tail stays recorded after it ended).
// It turns false before the action's result is recorded, so that a
// request arriving once the snapshot says "not busy" sees it ended.
// n.actMu must be held.
func (n *Node) tailRunningLocked() bool {
	return n.tail != nil && !n.tail.stepsDone.Load()
}

func (n *Node) runTail(ctx context.Context, cont power.Continuation, rest []step) error {
	if cont != nil {
		if err := cont(ctx); err != nil {
			return err
		}
	}
	for _, s := range rest {
		if s.actuator == nil {
			if err := power.Sleep(ctx, s.delay); err != nil {
				return err
			}
			continue
		}
		// A superseded action must not move hardware any more, even when a
		// continuation or a timer that fired together with the cancellation
		// returned without an error.
		if err := ctx.Err(); err != nil {
			return err
		}
		c, err := s.actuator.Do(ctx, s.action)
		if err != nil {
			return err
		}
		if s.boots {
			n.consumeBoot()
		}
		if c != nil {
			if err := c(ctx); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

func (n *Node) stopTailLocked() {
	if n.tail == nil {
		return
	}
	n.tail.cancel()
	<-n.tail.done
	n.tail = nil
}

// plan turns an action into steps on the node's means. A nil plan with a
// nil error means the node has no means: the manual fallback applies.
func (n *Node) plan(a power.Action) (steps []step, means string, err error) {
	m := n.cfg.Means
	if m.Hooks != nil && m.Hooks.Supports(a) {
		return []step{{actuator: m.Hooks, action: a, boots: targetState(a) == power.StateOn}}, m.Hooks.Name(), nil
	}
	switch a {
	case power.On:
		steps = n.planOn()
	case power.Off:
		if m.Feed != nil {
			steps = []step{{actuator: m.Feed, action: power.Off}}
		} else if m.Hooks != nil && m.Hooks.Supports(power.Off) {
			steps = []step{{actuator: m.Hooks, action: power.Off}}
		}
	case power.SoftOff:
		// Only a hook can ask an operating system to shut down.
	case power.Cycle, power.Reset:
		off, _, _ := n.plan(power.Off)
		on := n.planOn()
		if off != nil && on != nil {
			steps = append(append(off, step{delay: n.cfg.CycleDelay}), on...)
		}
	case power.Diag:
		return nil, "", fmt.Errorf("power diag %s: %w (no diag hook configured)", n.cfg.Name, power.ErrUnsupported)
	default:
		return nil, "", fmt.Errorf("power %s %s: %w", a, n.cfg.Name, power.ErrUnsupported)
	}
	if steps == nil {
		if n.cfg.Fallback == FallbackError {
			return nil, "", fmt.Errorf("power %s %s: %w (no means configured and fallback is error)", a, n.cfg.Name, power.ErrUnsupported)
		}
		return nil, "manual", nil
	}
	return steps, meansOf(steps), nil
}

// planOn is outlets on, then the WoL delay, then the magic packet.
func (n *Node) planOn() []step {
	m := n.cfg.Means
	if m.Hooks != nil && m.Hooks.Supports(power.On) {
		return []step{{actuator: m.Hooks, action: power.On, boots: true}}
	}
	var steps []step
	if m.Feed != nil {
		steps = append(steps, step{actuator: m.Feed, action: power.On})
	}
	if m.Waker != nil {
		if m.Feed != nil && n.cfg.OnDelay > 0 {
			steps = append(steps, step{delay: n.cfg.OnDelay})
		}
		steps = append(steps, step{actuator: m.Waker, action: power.On})
	}
	if len(steps) > 0 {
		// The first step that can start the machine: the outlet (a
		// machine set to power on with AC boots then), else the packet.
		steps[0].boots = true
	}
	return steps
}

func meansOf(steps []step) string {
	var s string
	seen := map[string]bool{}
	for _, st := range steps {
		if st.actuator == nil || seen[st.actuator.Name()] {
			continue
		}
		seen[st.actuator.Name()] = true
		if s != "" {
			s += "+"
		}
		s += st.actuator.Name()
	}
	return s
}

// targetState is what a successful action leaves the machine in.
func targetState(a power.Action) power.State {
	switch a {
	case power.Off, power.SoftOff:
		return power.StateOff
	case power.On, power.Cycle, power.Reset:
		return power.StateOn
	default:
		return power.Unknown
	}
}

// manual records and announces an action for a human to perform.
func (n *Node) manual(a power.Action, by Requester, start time.Time) error {
	if targetState(a) == power.StateOn {
		defer n.consumeBoot() // the human's power-on boots the machine
	}
	n.log.Warn(fmt.Sprintf("manual action needed: power %s %s", n.cfg.Name, upper(a)),
		"action", a.String(), "means", "manual")
	n.mu.Lock()
	n.state.Manual = &ManualAction{Action: a, Since: start}
	n.mu.Unlock()
	n.recordAccepted(a, "manual", by, start)
	n.finish(a, "manual", by, start, nil)
	return nil
}

func upper(a power.Action) string {
	switch a {
	case power.On:
		return "ON"
	case power.Off:
		return "OFF"
	case power.SoftOff:
		return "SOFT OFF"
	case power.Cycle:
		return "CYCLE"
	case power.Reset:
		return "RESET"
	default:
		return a.String()
	}
}

// recordAccepted persists the consequences of an action whose first step
// succeeded: the recorded power state, a consumed one-time boot override,
// and the action record. It is synchronous so that a reply sent after it
// survives a crash.
func (n *Node) recordAccepted(a power.Action, means string, by Requester, start time.Time) {
	n.mu.Lock()
	if t := targetState(a); t != power.Unknown {
		n.state.Power = t
		if !n.hasSensors() {
			// The recorded state is the only truth such a node has.
			n.state.OnTime.observe(t, start)
		}
	}
	if means != "manual" {
		n.state.Manual = nil
	}
	n.state.LastAction = &ActionRecord{Action: a, Means: means, At: start, Result: ResultRunning, By: &by}
	// A reading taken before the action is no longer the truth.
	n.reading = power.Reading{}
	n.epoch++
	n.mu.Unlock()
	if err := n.persist(); err != nil {
		n.log.Error("cannot persist node state", "err", err)
	}
}

// consumeBoot is the machine just powered on: its firmware reads the flags
// as it boots. A next-boot-only override is used up now, or, for a machine
// that fetches its boot script, when it does (bootfetch.go has the rule).
func (n *Node) consumeBoot() {
	n.mu.Lock()
	before := n.state.Boot
	n.bootOnPowerOnLocked()
	b := n.state.Boot
	changed := b != before
	n.mu.Unlock()
	if !changed {
		return
	}
	if b.Valid {
		n.log.Info("boot override kept for the boot script fetch (its lapse stopped)", "device", string(b.Device))
	} else {
		n.log.Info("boot override consumed by power-on", "device", string(b.Device))
	}
	if err := n.persist(); err != nil {
		n.log.Error("cannot persist node state", "err", err)
	}
}

// sensedState is the node's power state as a sensor saw it within MaxAge,
// reading the sensors (for at most StatusWait) when needed. ok is false
// for a node without sensors, or when none answered in time.
func (n *Node) sensedState(ctx context.Context) (power.State, bool) {
	if !n.hasSensors() {
		return power.Unknown, false
	}
	n.mu.Lock()
	r := n.reading
	if r.At.IsZero() || n.cfg.Now().Sub(r.At) >= n.cfg.MaxAge {
		done := n.startRefreshLocked()
		n.mu.Unlock()
		wait := time.NewTimer(n.cfg.StatusWait)
		select {
		case <-done:
		case <-wait.C:
		case <-ctx.Done():
		}
		wait.Stop()
		n.mu.Lock()
		r = n.reading
	}
	fresh := n.readingErr == nil && !r.At.IsZero() && n.cfg.Now().Sub(r.At) < n.cfg.MaxAge
	n.mu.Unlock()
	if !fresh || r.State == power.Unknown {
		return power.Unknown, false
	}
	return r.State, true
}

// outletsOff reports whether an off request has nothing to do. With PDU
// outlets only the outlets being off counts: a machine whose draw reads
// as off behind live outlets (hung, or in standby) is still cut, as
// fencing needs. Without outlets the node's sensors decide.
func (n *Node) outletsOff(ctx context.Context) bool {
	if n.cfg.Means.Feed == nil {
		st, ok := n.sensedState(ctx)
		return ok && st == power.StateOff
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.StatusWait)
	defer cancel()
	r, err := n.cfg.Means.Feed.Read(ctx)
	return err == nil && r.State == power.StateOff
}

// already records a request for the state the node is in: nothing is
// switched and no boot override is consumed.
func (n *Node) already(a power.Action, st power.State, by Requester, start time.Time) {
	n.mu.Lock()
	n.state.Power = st
	n.mu.Unlock()
	n.log.Info("power "+a.String()+": the node is already "+st.String(), "action", a.String())
	n.finish(a, "none", by, start, nil)
}

// persist writes the node's current state. The snapshot is taken under
// saveMu, so concurrent writers land in order and the newest state wins.
func (n *Node) persist() error {
	n.saveMu.Lock()
	defer n.saveMu.Unlock()
	n.mu.Lock()
	st := n.state
	n.mu.Unlock()
	return n.store.Save(n.cfg.Name, st)
}

// finish logs the action once and records its result.
func (n *Node) finish(a power.Action, means string, by Requester, start time.Time, err error) {
	result := ResultOK
	if err != nil {
		result = ResultError
	}
	n.finishRecord(a, means, by, start, result, err)
}

// finishRecord writes the action's audit line (what, by whom, from where,
// with what result) and its record.
func (n *Node) finishRecord(a power.Action, means string, by Requester, start time.Time, result Result, err error) {
	took := time.Since(start)
	attrs := append([]any{"action", a.String(), "means", means, "result", result, "duration", took.Round(time.Millisecond)}, by.logAttrs()...)
	if err != nil {
		n.log.Error("power action", append(attrs, "err", err)...)
	} else {
		n.log.Info("power action", attrs...)
	}
	rec := &ActionRecord{Action: a, Means: means, At: start, Result: result, Duration: took, By: &by}
	if err != nil {
		rec.Error = err.Error()
	}
	n.mu.Lock()
	n.state.LastAction = rec
	n.mu.Unlock()
	if err := n.persist(); err != nil {
		n.log.Error("cannot persist node state", "err", err)
	}
	n.record(actionEvent(n.cfg.Name, rec))
	if n.cfg.Observer != nil && result != ResultCancelled {
		n.cfg.Observer.ActionDone(n.cfg.Name, a, means, took, err)
	}
}

// Boot returns the node's boot override (an expired one-time override reads
// as not valid).
func (n *Node) Boot() Boot {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state.Boot.effective(time.Now())
}

// SetBoot replaces the boot override and persists it. A positive validFor
// makes a next-boot-only override lapse when no boot consumed it in time.
// ctx carries the requester for the audit line.
func (n *Node) SetBoot(ctx context.Context, b Boot, validFor time.Duration) error {
	return n.UpdateBoot(ctx, func(cur *Boot) { *cur = b }, validFor)
}

// UpdateBoot applies fn to the boot override atomically and persists the
// result; validFor is as for SetBoot. fn runs with the node locked: it must
// only change the Boot it is given.
func (n *Node) UpdateBoot(ctx context.Context, fn func(*Boot), validFor time.Duration) error {
	n.mu.Lock()
	b := n.state.Boot.effective(time.Now())
	before := b
	fn(&b)
	b.ExpiresAt = time.Time{}
	if b.Valid && !b.Persistent && validFor > 0 {
		b.ExpiresAt = time.Now().Add(validFor)
	}
	if b.Device == "" {
		b.Device = BootNone
	}
	n.state.Boot = b
	n.mu.Unlock()
	if err := n.persist(); err != nil {
		return err
	}
	by := RequesterFrom(ctx)
	n.log.Info("boot override set", append([]any{"device", string(b.Device), "valid", b.Valid, "persistent", b.Persistent, "uefi", b.UEFI}, by.logAttrs()...)...)
	if b.Device != before.Device || b.Valid != before.Valid || b.Persistent != before.Persistent || b.UEFI != before.UEFI {
		n.record(bootEvent(b, by))
	}
	return nil
}

// Snapshot is a consistent copy of a node's state for reports.
type Snapshot struct {
	Name      string
	Persisted Persisted
	Reading   power.Reading
	// ReadingErr is the last status refresh failure, if any.
	ReadingErr error
	// Busy is true while background steps of an action run.
	Busy bool
	// Stale is true when the refreshes fail and no reading young enough to
	// be served (Config.MaxStale) remains: the node's power state is then
	// unknown, as PowerState reports it.
	Stale bool
	// Lagging is true while the reading served is still young enough to be
	// served but older than a third of MaxStale (10 s by default, five
	// refresh windows): several refreshes in a row did not complete, and a
	// face may warn before the reading is dropped.
	Lagging bool
	// ReadingAge is the reading's age by the node's clock (0 without one).
	ReadingAge time.Duration
}

// Power is the power state a report shows for the snapshot, without
// touching any device: the last reading and its source; the recorded state
// (power.SourceRecorded) when there is no reading, as for a node without
// sensors or right after an action; Unknown with no source when Stale.
func (s Snapshot) Power() (power.State, power.Source) {
	switch {
	case s.Stale:
		return power.Unknown, ""
	case s.Reading.At.IsZero():
		return s.Persisted.Power, power.SourceRecorded
	}
	return s.Reading.State, s.Reading.Source
}

// Snapshot returns the node's state without touching any device.
func (n *Node) Snapshot() Snapshot {
	n.mu.Lock()
	defer n.mu.Unlock()
	st := n.state
	st.Boot = st.Boot.effective(time.Now())
	busy := st.LastAction != nil && st.LastAction.Result == ResultRunning
	stale := n.readingErr != nil && !n.servableLocked(n.reading)
	var age time.Duration
	if !n.reading.At.IsZero() {
		age = n.cfg.Now().Sub(n.reading.At)
	}
	return Snapshot{Name: n.cfg.Name, Persisted: st, Reading: n.reading, ReadingErr: n.readingErr, Busy: busy,
		Stale: stale, Lagging: !stale && n.laggingLocked(n.reading), ReadingAge: age}
}

// Acknowledge clears a pending manual action (the operator did it); ctx
// carries who acknowledged it.
func (n *Node) Acknowledge(ctx context.Context) error {
	n.mu.Lock()
	m := n.state.Manual
	if m == nil {
		n.mu.Unlock()
		return nil
	}
	by := RequesterFrom(ctx)
	n.log.Info("manual action acknowledged", append([]any{"action", m.Action}, by.logAttrs()...)...)
	n.state.Manual = nil
	n.mu.Unlock()
	err := n.persist()
	n.record(manualDoneEvent(*m, &by))
	return err
}
