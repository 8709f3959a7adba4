package node

import (
	"context"
	"time"

	"github.com/powerjockey/powerjockey/pkg/power"
)

// View is a node as operators see it, in one shape for every place that
// shows one: the HTTP API's JSON (GET /api/v1/nodes, which the live page
// renders), and the CLI's status and power commands, whether they ask the
// daemon or operate the node in-process (--direct). The JSON field names
// are the API's: changing one breaks the page, the CLI and scripts.
type View struct {
	Name string `json:"name"`
	GUID GUID   `json:"guid"`
	// Power is what the sensors see (Unknown with StatusErr when they do
	// not answer), Source which sensor saw it.
	Power      power.State  `json:"power"`
	Source     power.Source `json:"source"`
	Watts      *float64     `json:"watts,omitempty"`
	ObservedAt *time.Time   `json:"observed_at,omitempty"`
	StatusErr  string       `json:"status_error,omitempty"`
	// Recorded is the target of the last successful action.
	Recorded   power.State   `json:"recorded_power"`
	LastAction *ActionRecord `json:"last_action,omitempty"`
	// Busy is true while background steps of an action run.
	Busy   bool          `json:"busy"`
	Manual *ManualAction `json:"manual_action,omitempty"`
	Boot   BootView      `json:"boot"`
}

// BootView is a node's boot override as operators see it.
type BootView struct {
	Device     BootDevice `json:"device"`
	Valid      bool       `json:"valid"`
	Persistent bool       `json:"persistent"`
	UEFI       bool       `json:"uefi"`
}

// View describes the node, reading its power state as PowerState does
// (a cached reading, or a refresh awaited for at most StatusWait).
func (n *Node) View(ctx context.Context) View {
	r, err := n.PowerState(ctx)
	return NewView(n.Snapshot(), r, err)
}

// NewView describes a node from its snapshot and a power reading (or the
// error reading it): for a caller that read the power otherwise, e.g.
// with Refresh.
func NewView(s Snapshot, r power.Reading, err error) View {
	v := View{
		Name:       s.Name,
		GUID:       s.Persisted.GUID,
		Power:      r.State,
		Source:     r.Source,
		Watts:      r.Watts,
		Recorded:   s.Persisted.Power,
		LastAction: s.Persisted.LastAction,
		Busy:       s.Busy,
		Manual:     s.Persisted.Manual,
		Boot: BootView{Device: s.Persisted.Boot.Device, Valid: s.Persisted.Boot.Valid,
			Persistent: s.Persisted.Boot.Persistent, UEFI: s.Persisted.Boot.UEFI},
	}
	if !r.At.IsZero() {
		at := r.At
		v.ObservedAt = &at
	}
	if err != nil {
		v.Power, v.StatusErr = power.Unknown, err.Error()
	}
	return v
}
