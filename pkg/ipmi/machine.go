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
}

var _ Machine = (*node.Node)(nil)
