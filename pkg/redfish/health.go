package redfish

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
)

// powerHealth is what the node's sensors say of its power and how much to
// trust it: the health of a System, its Chassis and its power supplies.
type powerHealth struct {
	reading power.Reading
	// known is false when no reading could be served (err says why).
	known bool
	err   error
	// sensorErr is the last refresh's failure: the PDU (or probe, or
	// hook) does not answer now.
	sensorErr error
	// health is OK, Warning or Critical; why explains anything but OK.
	health string
	why    string
	at     time.Time
}

// assessPower reads the node's power (bounded by statusTimeout) and says
// how healthy that knowledge is: Critical while its sensors do not answer,
// Warning while the power state is unknown or stale, OK otherwise.
func assessPower(ctx context.Context, sys System) powerHealth {
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	r, err := sys.PowerState(ctx)
	snap := sys.Snapshot()
	ph := powerHealth{reading: r, known: err == nil, err: err, sensorErr: snap.ReadingErr, health: "OK", at: time.Now()}
	switch {
	case snap.ReadingErr != nil:
		ph.health = "Critical"
		ph.why = "the power sensors do not answer: " + snap.ReadingErr.Error()
		if err == nil {
			ph.why += fmt.Sprintf(" (power state as last read %s ago)", snap.ReadingAge.Round(time.Second))
		}
	case err != nil && errors.Is(err, node.ErrStale):
		ph.health = "Warning"
		ph.why = "the power state is unknown: no sensor answered in time (" + err.Error() + ")"
	case err != nil:
		ph.health = "Warning"
		ph.why = "the power state is unknown: " + err.Error()
	case r.State != power.StateOn && r.State != power.StateOff:
		ph.health = "Warning"
		if r.Source == power.SourceRecorded {
			ph.why = "the power state is unknown: the node has no sensor and no power action was recorded yet"
		} else {
			ph.why = "the power state is unknown: the " + string(r.Source) + " sensor reports neither on nor off"
		}
	case r.Source != power.SourceRecorded && snap.Lagging:
		// The node's staleness rule decides (Snapshot.Lagging), by its clock.
		ph.health = "Warning"
		ph.why = fmt.Sprintf("the power state is stale: last read %s ago from %s", snap.ReadingAge.Round(time.Second), r.Source)
	}
	return ph
}

// powerState is the ComputerSystem's PowerState: On, Off, or null when
// unknown.
func (ph powerHealth) powerState() any {
	if !ph.known {
		return nil
	}
	switch ph.reading.State {
	case power.StateOn:
		return "On"
	case power.StateOff:
		return "Off"
	}
	return nil
}

// status is the resource's Status: Enabled, the health, and a condition
// saying why when it is not OK.
func (ph powerHealth) status() map[string]any {
	st := map[string]any{"State": "Enabled", "Health": ph.health}
	if ph.health != "OK" {
		st["Conditions"] = []any{ph.condition()}
	}
	return st
}

// condition is a Status condition for what is wrong, as the DMTF
// ResourceEvent registry's ResourceErrorsDetected on PowerState.
func (ph powerHealth) condition() map[string]any {
	args := []string{"PowerState", ph.why}
	return map[string]any{
		"MessageId":   resourceEventPrefix + "ResourceErrorsDetected",
		"Message":     fmt.Sprintf("The resource property %s has detected errors of type '%s'.", args[0], args[1]),
		"MessageArgs": args,
		"Severity":    ph.health,
		"Timestamp":   ph.at.UTC().Format(time.RFC3339),
	}
}

// resourceEventPrefix is the DMTF ResourceEvent 1.0 registry's MessageId
// prefix.
const resourceEventPrefix = "ResourceEvent.1.0."
