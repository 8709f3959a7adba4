// Package ipmi gives each node an IPMI v2.0 BMC on its own UDP endpoint,
// built on go-ipmi's BMC framework (pkg/server, pkg/bmc, pkg/handlers). This
// package adds what powerjockey needs on top: the HAL adapter that maps IPMI
// actions to node actions, the handlers go-ipmi lacks or gets wrong
// (registered in its handler registry), retransmission de-duplication,
// per-user privilege enforcement, and a guard around the socket that drops
// malformed datagrams and rate-limits failed or abandoned authentication.
// It knows nodes, never PDUs.
package ipmi

import (
	"context"
	"time"

	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
)

// Machine is what an endpoint needs of a node; *node.Node implements it.
type Machine interface {
	Name() string
	GUID() node.GUID
	// PowerState must not block long: Ironic polls it for every node.
	PowerState(ctx context.Context) (power.Reading, error)
	// Power returns once the action's first step is confirmed.
	Power(ctx context.Context, a power.Action) error
	Boot() node.Boot
	// SetBoot replaces the boot override; ctx carries the requester.
	SetBoot(ctx context.Context, b node.Boot, validFor time.Duration) error

	// Snapshot is the node's state without touching any device (the last
	// action, the cached reading and its error).
	Snapshot() node.Snapshot
	// Events is the node's event log, oldest first: the SEL.
	Events() ([]node.Event, error)
	// ClearEvents empties the log; ctx carries the requester.
	ClearEvents(ctx context.Context) error
	// EventLogSize is how many events the node keeps.
	EventLogSize() int
	// MeterSamples is the metered draw since t in node.MeterBucket
	// buckets, oldest first; none without a meter.
	MeterSamples(since time.Time) []node.MeterSample
	// PowerOnTime is how long the node has been seen powered on.
	PowerOnTime() time.Duration
	// FirstServed is when the node first served content with this
	// fingerprint under key, persisted (the SDR's addition time).
	FirstServed(key, fingerprint string) (time.Time, error)
}

var _ Machine = (*node.Node)(nil)
