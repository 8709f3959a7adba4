package node

import (
	"context"
	"fmt"
)

// Indicator is the state of a node's identify indicator, in Redfish's
// IndicatorLED words. A machine without a BMC has no such light: the
// state is recorded, persisted, logged and put in the event log, so that
// a request to find the machine in the rack is seen by the operator and
// reads back as it was set.
type Indicator string

// Indicator states.
const (
	IndicatorOff      Indicator = "Off"
	IndicatorLit      Indicator = "Lit"
	IndicatorBlinking Indicator = "Blinking"
)

// Valid reports whether i is one of the three states.
func (i Indicator) Valid() bool {
	return i == IndicatorOff || i == IndicatorLit || i == IndicatorBlinking
}

// Indicator returns the recorded indicator state (Off until one is set).
func (n *Node) Indicator() Indicator {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state.Indicator == "" {
		return IndicatorOff
	}
	return n.state.Indicator
}

// SetIndicator records the indicator state and persists it; ctx carries
// the requester for the audit line and the event. Setting the current
// state again is logged but adds no event.
func (n *Node) SetIndicator(ctx context.Context, i Indicator) error {
	if !i.Valid() {
		return fmt.Errorf("node %s: indicator state %q is not Off, Lit or Blinking", n.cfg.Name, i)
	}
	n.mu.Lock()
	before := n.state.Indicator
	if before == "" {
		before = IndicatorOff
	}
	n.state.Indicator = i
	n.mu.Unlock()
	if err := n.persist(); err != nil {
		return err
	}
	by := RequesterFrom(ctx)
	n.log.Info("indicator set (recorded: the machine has no indicator light)", append([]any{"state", string(i)}, by.logAttrs()...)...)
	if i != before {
		n.record(Event{Kind: EventIndicator, Severity: SeverityOK, By: &by,
			Message: fmt.Sprintf("Identify indicator set to %s%s (recorded only: the machine has no indicator light).", i, by.phrase())})
	}
	return nil
}
