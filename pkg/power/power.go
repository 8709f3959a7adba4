// Package power defines the means by which powerjockey moves real hardware:
// actuators (switched PDU outlets, Wake-on-LAN, exec hooks, the manual
// fallback) and sensors (outlet state, metering, probes) behind two small
// interfaces. The node layer composes them into power policies; protocol
// servers never see them.
package power

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Action is a power request made of a node.
type Action int

// Actions a node can be asked for; they mirror IPMI's Chassis Control and
// Redfish's ResetType.
const (
	On Action = iota + 1
	Off
	SoftOff
	Cycle
	Reset
	Diag
)

var actionNames = map[Action]string{On: "on", Off: "off", SoftOff: "soft", Cycle: "cycle", Reset: "reset", Diag: "diag"}

// String is the action's name: "on", "off", "soft", "cycle", "reset", "diag".
func (a Action) String() string {
	if s, ok := actionNames[a]; ok {
		return s
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// MarshalText writes the action's name ("on", "soft"...): persisted state
// and the event log store actions by name.
func (a Action) MarshalText() ([]byte, error) {
	if _, ok := actionNames[a]; !ok {
		return nil, fmt.Errorf("unknown power action %d", int(a))
	}
	return []byte(a.String()), nil
}

// UnmarshalText reads a name written by MarshalText.
func (a *Action) UnmarshalText(b []byte) error {
	p, err := ParseAction(string(b))
	if err != nil {
		return err
	}
	*a = p
	return nil
}

// ParseAction parses an action name as printed by String.
func ParseAction(s string) (Action, error) {
	for a, name := range actionNames {
		if name == s {
			return a, nil
		}
	}
	return 0, fmt.Errorf("unknown power action %q (want on, off, soft, cycle, reset or diag)", s)
}

// State is a power state.
type State int

// Power states. Unknown means no source could tell.
const (
	Unknown State = iota
	StateOn
	StateOff
)

// String is "on", "off" or "unknown".
func (s State) String() string {
	switch s {
	case StateOn:
		return "on"
	case StateOff:
		return "off"
	default:
		return "unknown"
	}
}

// StateFor returns StateOn for true and StateOff for false.
func StateFor(on bool) State {
	if on {
		return StateOn
	}
	return StateOff
}

// Continuation is the part of an action that runs after its first step was
// confirmed (WoL repeats, say). It must return promptly when ctx is cancelled.
type Continuation func(ctx context.Context) error

// Actuator performs power actions on one node by one means.
type Actuator interface {
	// Name identifies the means in logs and metrics: "pdu", "wol", "exec", "manual".
	Name() string
	// Supports reports whether the actuator can perform a.
	Supports(a Action) bool
	// Do performs a and returns once its first step is confirmed (the
	// outlet SET acknowledged, the first magic packet sent, the hook
	// exited 0). Work that may follow is returned as a continuation (nil
	// when there is none) for the caller to run in the background.
	Do(ctx context.Context, a Action) (Continuation, error)
}

// Reading is one observation of a node's power.
type Reading struct {
	State State
	// Watts is the measured draw, when the source meters it.
	Watts *float64
	// Source names where the state came from.
	Source Source
	// At is when the observation was made.
	At time.Time
	// Outlets are the PDU outlets feeding the node (one per power supply),
	// each as the PDU reported it, when the reading came from a PDU.
	Outlets []OutletReading
}

// Source says where a power state came from: which sensor read it, or the
// record of the last action. The names appear in logs, metrics labels, the
// HTTP API and the event log.
type Source string

// Sources of readings.
const (
	// SourceMetering: the PDU's metered draw of the node's outlets.
	SourceMetering Source = "metering"
	// SourceOutlet: the PDU's outlet states.
	SourceOutlet Source = "outlet"
	// SourceProbe: a TCP connect or an ICMP echo to the machine.
	SourceProbe Source = "probe"
	// SourceExec: the exec.status hook.
	SourceExec Source = "exec"
	// SourceRecorded: no sensor; the target of the last action.
	SourceRecorded Source = "recorded"
	// SourceBootFetch: the machine fetched its boot script, so it runs.
	SourceBootFetch Source = "boot script fetch"
	// SourceAuto is a node's status setting, never a reading's source:
	// combine the sensors the node has (the outlets decide off, metering
	// or a probe or hook decides on).
	SourceAuto Source = "auto"
)

var sources = []Source{SourceMetering, SourceOutlet, SourceProbe, SourceExec, SourceRecorded, SourceBootFetch, SourceAuto}

// ParseSource parses a source name.
func ParseSource(s string) (Source, error) {
	for _, src := range sources {
		if string(src) == s {
			return src, nil
		}
	}
	return "", fmt.Errorf("unknown status source %q (want auto, metering, outlet, probe, exec or recorded)", s)
}

// MarshalText writes the source's name.
func (s Source) MarshalText() ([]byte, error) { return []byte(s), nil }

// UnmarshalText reads a source name; the empty name is "no source".
func (s *Source) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*s = ""
		return nil
	}
	p, err := ParseSource(string(b))
	if err != nil {
		return err
	}
	*s = p
	return nil
}

// OutletReading is one PDU outlet's part of a Reading.
type OutletReading struct {
	PDU    string
	Outlet int
	State  State
	// Watts is the outlet's metered draw, nil when the PDU does not meter it.
	Watts *float64
}

// Sensor observes a node's power.
type Sensor interface {
	// Name identifies the sensor ("pdu", "probe", "exec").
	Name() string
	// Read observes the node now (or from a short-lived shared cache).
	Read(ctx context.Context) (Reading, error)
}

// ErrUnsupported is returned for an action no configured means can perform.
var ErrUnsupported = errors.New("action not supported by this node")

// ErrTimeout marks a device that did not answer in time; protocol servers
// map it to a "timeout" error completion rather than a generic failure.
var ErrTimeout = errors.New("device did not answer in time")

// Sleep waits for d or until ctx is done, reporting ctx's error in the latter case.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// MarshalText writes the state's name, so persisted files stay readable.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a state name written by MarshalText.
func (s *State) UnmarshalText(b []byte) error {
	switch string(b) {
	case "on":
		*s = StateOn
	case "off":
		*s = StateOff
	case "unknown", "":
		*s = Unknown
	default:
		return fmt.Errorf("unknown power state %q", b)
	}
	return nil
}
