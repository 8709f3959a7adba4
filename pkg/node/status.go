package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/powerjockey/powerjockey/pkg/power"
)

// ErrStale means no sensor answered recently enough to know the node's state.
var ErrStale = errors.New("power state unknown: sensors did not answer")

// PowerState reports the node's power as its sensors see it: the truth, not
// the last command. It never blocks long: a fresh cached reading is served
// at once; a stale one triggers a refresh that is awaited for at most
// StatusWait before the cached reading is served instead (if it is not
// older than MaxStale).
func (n *Node) PowerState(ctx context.Context) (power.Reading, error) {
	if !n.hasSensors() {
		return n.recorded(), nil
	}
	n.mu.Lock()
	r := n.reading
	if !r.At.IsZero() && n.cfg.Now().Sub(r.At) < n.cfg.MaxAge {
		n.mu.Unlock()
		return r, nil
	}
	done := n.startRefreshLocked()
	n.mu.Unlock()

	wait := time.NewTimer(n.cfg.StatusWait)
	defer wait.Stop()
	select {
	case <-done:
	case <-wait.C:
	case <-ctx.Done():
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	r, err := n.reading, n.readingErr
	if n.servableLocked(r) {
		return r, nil
	}
	if err == nil {
		return power.Reading{}, fmt.Errorf("node %s: %w", n.cfg.Name, ErrStale)
	}
	return power.Reading{}, fmt.Errorf("node %s: %w: %w", n.cfg.Name, ErrStale, err)
}

// servableLocked is the staleness rule, the one place it is written: a
// cached reading is served while it is younger than MaxStale, even when
// refreshes fail; after that the node's power state is unknown. n.mu
// must be held.
func (n *Node) servableLocked(r power.Reading) bool {
	return !r.At.IsZero() && n.cfg.Now().Sub(r.At) < n.cfg.MaxStale
}

// laggingLocked is the rule's warning half: a reading still served though
// older than a third of MaxStale (Snapshot.Lagging). n.mu must be held.
func (n *Node) laggingLocked(r power.Reading) bool {
	return n.servableLocked(r) && n.cfg.Now().Sub(r.At) >= n.cfg.MaxStale/3
}

// Sample starts a refresh in the background when none was started for
// SampleInterval, so the meter history and the event log do not depend on
// a client asking (Ironic's power sync may be off). It never waits. It
// returns when the node is next due (zero: never, the node has no sensors,
// no interval or is closed), for the caller to sleep until then.
//
// Background readings keep a fixed rate: a reading taken for a time the
// node was due at is counted from then, not from when the caller got to
// it, so lateness does not accumulate and one reading falls in each
// MeterBucket; nodes sampled together stay together (and share their
// PDU's poll). A reading a client caused restarts the count.
func (n *Node) Sample(now time.Time) (next time.Time) {
	if n.cfg.SampleInterval <= 0 || !n.hasSensors() || n.ctx.Err() != nil {
		return time.Time{}
	}
	every := n.cfg.SampleInterval
	n.mu.Lock()
	defer n.mu.Unlock()
	due := n.lastRefresh.Add(every)
	if now.Before(due) {
		return due
	}
	if n.refreshing != nil {
		// The last reading outlasted an interval (a sensor timing out):
		// look again shortly rather than a whole interval late.
		return now.Add(min(every, time.Second))
	}
	n.startRefreshLocked()
	if now.Sub(due) < every {
		n.lastRefresh = due
	} else {
		n.lastRefresh = now // far behind, or never read: a new start
	}
	return n.lastRefresh.Add(every)
}

// Refresh reads the sensors now (for tests and the CLI) and returns the result.
func (n *Node) Refresh(ctx context.Context) (power.Reading, error) {
	if !n.hasSensors() {
		return n.recorded(), nil
	}
	n.mu.Lock()
	done := n.startRefreshLocked()
	n.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return power.Reading{}, ctx.Err()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.reading, n.readingErr
}

func (n *Node) hasSensors() bool {
	m := n.cfg.Means
	switch n.cfg.StatusSource {
	case power.SourceRecorded:
		return false
	case power.SourceAuto:
		return m.Feed != nil || m.Probe != nil || m.ExecStatus != nil
	default:
		return true
	}
}

func (n *Node) recorded() power.Reading {
	n.mu.Lock()
	defer n.mu.Unlock()
	return power.Reading{State: n.state.Power, Source: power.SourceRecorded, At: n.cfg.Now()}
}

// startRefreshLocked starts one background refresh (or joins the one in
// flight) and returns a channel closed when it ends. n.mu must be held.
func (n *Node) startRefreshLocked() <-chan struct{} {
	if n.refreshing != nil {
		return n.refreshing
	}
	done := make(chan struct{})
	n.refreshing = done
	n.lastRefresh = time.Now()
	epoch := n.epoch
	go func() {
		defer close(done)
		// Bounded by the sensors' own timeouts, not by any one caller.
		ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
		defer cancel()
		// A reading that began before an action was accepted describes
		// the world before it: read again rather than publish it (a few
		// times at most; actions do not come faster than sensors answer).
		for try := 0; try < 3; try++ {
			r, err := n.sense(ctx)
			stored, changed, next, events := n.storeReading(r, err, epoch)
			if changed {
				if err := n.persist(); err != nil {
					n.log.Error("cannot persist node state", "err", err)
				}
			}
			for _, e := range events {
				n.record(e)
			}
			if stored {
				return
			}
			epoch = next
		}
		n.mu.Lock()
		n.refreshing = nil
		n.mu.Unlock()
	}()
	return done
}

// storeReading records the result of a refresh begun at epoch. It reports
// whether it was stored (false: an action was accepted meanwhile, and the
// current epoch is returned), whether the persisted state changed (a
// pending manual action cleared, an on-time interval opened or closed), and
// the events the reading makes, for the caller to record once the node is
// unlocked.
func (n *Node) storeReading(r power.Reading, err error, epoch uint64) (stored, changed bool, current uint64, events []Event) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if epoch != n.epoch {
		return false, false, n.epoch, nil
	}
	n.refreshing = nil
	prevErr := n.readingErr
	n.readingErr = err
	if err != nil {
		// Once per outage, not once per reading: the background sampler
		// reads every node of a dead PDU again and again.
		if prevErr == nil {
			n.log.Warn("power status refresh failed", "err", err)
			events = append(events, Event{Kind: EventSensorFailed, Severity: SeverityCritical, Error: err.Error(),
				Message: "Power sensors stopped answering: " + err.Error()})
		}
		return true, false, epoch, events
	}
	if prevErr != nil {
		events = append(events, Event{Kind: EventSensorRecovered, Severity: SeverityOK, Source: r.Source,
			Message: "Power sensors answer again (" + string(r.Source) + ")."})
	}
	if r.Watts != nil {
		if n.meter == nil {
			n.meter = &meterRing{}
		}
		n.meter.add(r.At, *r.Watts)
	}
	prev := n.reading
	n.reading = r
	changed = n.state.OnTime.observe(r.State, r.At)
	if prev.State != r.State && !prev.At.IsZero() {
		attrs := []any{"from", prev.State.String(), "to", r.State.String(), "source", r.Source}
		if r.Watts != nil {
			attrs = append(attrs, "watts", *r.Watts)
		}
		n.log.Info("power state changed", attrs...)
		events = append(events, n.changeEventLocked(prev.State, r))
	}
	if m := n.state.Manual; m != nil {
		if targetState(m.Action) == r.State {
			// A sensor saw the manual action done.
			n.state.Manual = nil
			return true, true, epoch, append(events, manualDoneEvent(*m, nil))
		}
	}
	return true, changed, epoch, events
}

// changeEventLocked describes a change a sensor saw. A change towards the
// target of the last action is that action taking effect (a machine
// booting after its outlet came on); any other is unrequested: the
// machine shut itself down (the seed's ramdisks do), or someone switched
// it behind powerjockey's back. n.mu must be held.
func (n *Node) changeEventLocked(from power.State, r power.Reading) Event {
	e := Event{Kind: EventPowerChanged, Severity: SeverityOK, From: from, To: r.State, Source: r.Source, Watts: r.Watts}
	requested := false
	if la := n.state.LastAction; la != nil {
		if targetState(la.Action) == r.State {
			requested = true
		}
	}
	what := fmt.Sprintf("Power %s (seen by %s", r.State, r.Source)
	if r.Watts != nil {
		what += fmt.Sprintf(", %.0f W", *r.Watts)
	}
	what += ")"
	if requested {
		e.Message = what + "."
		return e
	}
	e.Unrequested = true
	e.Severity = SeverityWarning
	e.Message = what + " without a request: the machine powered itself " + r.State.String() + ", or was switched behind powerjockey's back."
	return e
}

// sense combines the node's sensors per its status source. With "auto" the
// outlets are authoritative for off; when they are on, metering (or a probe,
// or an exec status hook) tells whether the machine actually runs, which
// catches a machine that shut itself down behind a live outlet.
func (n *Node) sense(ctx context.Context) (power.Reading, error) {
	m := n.cfg.Means
	switch n.cfg.StatusSource {
	case power.SourceProbe:
		return m.Probe.Read(ctx)
	case power.SourceExec:
		return m.ExecStatus.Read(ctx)
	case power.SourceOutlet:
		return m.Feed.Read(ctx)
	case power.SourceMetering:
		r, err := m.Feed.Read(ctx)
		if err != nil {
			return r, err
		}
		if r.Watts == nil {
			return r, fmt.Errorf("node %s: status source is metering but the PDU reports no power", n.cfg.Name)
		}
		return n.metered(r), nil
	}
	// auto
	var outlets []power.OutletReading
	if m.Feed != nil {
		r, err := m.Feed.Read(ctx)
		if err != nil {
			return r, err
		}
		if r.State == power.StateOff {
			return r, nil
		}
		if r.Watts != nil {
			return n.metered(r), nil
		}
		if m.Probe == nil && m.ExecStatus == nil {
			return r, nil
		}
		outlets = r.Outlets
	}
	var r power.Reading
	var err error
	switch {
	case m.Probe != nil:
		r, err = m.Probe.Read(ctx)
	case m.ExecStatus != nil:
		r, err = m.ExecStatus.Read(ctx)
	default:
		return n.recorded(), nil
	}
	// The probe or hook decides the state; the outlets read on the way
	// still say what feeds each power supply.
	if err == nil && r.Outlets == nil {
		r.Outlets = outlets
	}
	return r, err
}

func (n *Node) metered(r power.Reading) power.Reading {
	r.Source = power.SourceMetering
	if r.State == power.StateOn || r.State == power.Unknown {
		r.State = power.StateFor(*r.Watts >= n.cfg.WattsOn)
	}
	return r
}
