package node

import (
	"context"
	"fmt"
	"time"

	"github.com/powerjockey/powerjockey/pkg/power"
)

// BootConfig says how the node's machine boots, as far as powerjockey
// takes part in it.
type BootConfig struct {
	// FetchesScript is true when the machine fetches its boot script from
	// powerjockey's boot endpoint. It decides what uses up a next-boot-only
	// override (see TakeBoot).
	FetchesScript bool
	// Media checks an image before it is inserted as virtual media (the
	// boot endpoint serves it); nil means there is no boot endpoint, and
	// so no virtual media.
	Media MediaChecker
}

// The rule for a next-boot-only override ("chassis bootdev pxe", Redfish
// BootSourceOverrideEnabled Once) is that the boot it was set for uses it
// up, as a BIOS clears the flags it read:
//
//   - A machine that fetches its boot script from the boot endpoint uses it
//     up when its script is served (TakeBoot): the fetch is the boot, seen.
//     A power-on only stops the override's lapse (IPMI's 60-second
//     timeout), because the machine may take minutes to reach its network
//     boot, and using the override up then would boot it without it.
//   - Any other machine uses it up at the power-on that causes the boot
//     (the step that powers the machine on, consumeBoot): nothing later
//     can be seen.
//
// bootOnPowerOnLocked applies the power-on half of the rule. n.mu must be
// held.
func (n *Node) bootOnPowerOnLocked() {
	b := n.state.Boot.effective(time.Now())
	if b.Valid && !b.Persistent && !n.cfg.Boot.FetchesScript {
		b.Valid = false
	}
	b.ExpiresAt = time.Time{}
	n.state.Boot = b
}

// BootTaken is what one boot script request got from the node.
type BootTaken struct {
	// Boot is the override in effect for this boot (Valid false: none).
	Boot Boot
	// Media is the virtual CD as it is now.
	Media Media
	// UsedUp is true when Boot was a next-boot-only override that this
	// request used up.
	UsedUp bool
}

// TakeBoot is called by the boot endpoint when the node's machine asks for
// its boot script, that is, when the machine is booting now. It returns the
// override and the virtual media the script must carry out, and uses up a
// next-boot-only override.
//
// The request is also evidence that the machine is on. Where the node has
// sensors they decide its power state (a refresh is started, so they catch
// up at once); where it has none, its recorded state becomes on, with the
// event a sensor would have caused, and a pending manual power-on is seen
// done. from is the machine's address, for the log.
func (n *Node) TakeBoot(ctx context.Context, from string) BootTaken {
	now := time.Now()
	n.mu.Lock()
	b := n.state.Boot.effective(now)
	t := BootTaken{Boot: b, Media: n.mediaLocked()}
	if b.Valid && !b.Persistent {
		b.Valid = false
		t.UsedUp = true
	}
	b.ExpiresAt = time.Time{}
	n.state.Boot = b
	var events []Event
	if n.hasSensors() {
		n.startRefreshLocked()
	} else if prev := n.state.Power; prev != power.StateOn {
		n.state.Power = power.StateOn
		r := power.Reading{State: power.StateOn, Source: power.SourceBootFetch, At: now}
		n.log.Info("power state changed", "from", prev.String(), "to", r.State.String(), "source", r.Source)
		if prev != power.Unknown {
			events = append(events, n.changeEventLocked(prev, r))
		}
	}
	if m := n.state.Manual; m != nil && manualTarget(*m) == power.StateOn {
		n.state.Manual = nil
		events = append(events, Event{Kind: EventManualDone, Severity: SeverityOK, Action: m.Action,
			Message: fmt.Sprintf("Manual action power %s seen done: the machine fetched its boot script from %s.", m.Action, from)})
	}
	n.mu.Unlock()
	if err := n.persist(); err != nil {
		n.log.Error("cannot persist node state", "err", err)
	}
	for _, e := range events {
		n.record(e)
	}
	return t
}

// RecordBootScript puts a served boot script in the event log: what it
// makes the machine do (does, a sentence for people) and for which
// override. warn marks a script that could not do what the override asks
// (BIOS setup, a CD without media) and fell back.
func (n *Node) RecordBootScript(ctx context.Context, t BootTaken, from, does string, warn bool) {
	by := Requester{Channel: ChannelBoot, Source: from}
	attrs := []any{"from", from, "does", does, "override", string(t.Boot.Device), "valid", t.Boot.Valid, "used_up", t.UsedUp}
	sev := SeverityOK
	if warn {
		sev = SeverityWarning
		n.log.Warn("boot script served, the override could not be obeyed", attrs...)
	} else {
		n.log.Info("boot script served", attrs...)
	}
	what := "no override"
	if t.Boot.Valid {
		scope := "next boot only, now used up"
		if t.Boot.Persistent {
			scope = "all boots"
		}
		what = fmt.Sprintf("override %s, %s", t.Boot.Device, scope)
	}
	b := t.Boot
	n.record(Event{Kind: EventBootScript, Severity: sev, Boot: &b, By: &by,
		Message: fmt.Sprintf("Boot script served to the machine at %s (%s): %s", from, what, does)})
}

// manualTarget is the power state a manual action leaves the machine in.
func manualTarget(m ManualAction) power.State {
	return targetState(m.Action)
}
