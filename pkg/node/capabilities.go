package node

import "github.com/powerjockey/powerjockey/pkg/power"

// Support says whether and how a node performs a power action.
type Support int

const (
	// Unsupported actions fail with power.ErrUnsupported: diag without an
	// exec diag hook, or any action without means when the node's
	// fallback is "error".
	Unsupported Support = iota
	// ByHand actions have no means on the node: the manual fallback
	// announces them for a human, records them and reports success.
	ByHand
	// ByMeans actions are performed by the node's PDU outlets,
	// Wake-on-LAN or exec hooks.
	ByMeans
)

// Honoured reports whether an action with this support succeeds when
// asked for (performed by the node's means or by the manual fallback).
func (s Support) Honoured() bool { return s != Unsupported }

// String names the support for logs.
func (s Support) String() string {
	switch s {
	case ByHand:
		return "manual"
	case ByMeans:
		return "means"
	default:
		return "unsupported"
	}
}

// Supports reports whether and how the node performs action a, without
// touching any device. It plans the action exactly as Power would, so the
// answer cannot drift from what Power does.
func (n *Node) Supports(a power.Action) Support {
	steps, _, err := n.plan(a)
	switch {
	case err != nil:
		return Unsupported
	case steps == nil:
		return ByHand
	default:
		return ByMeans
	}
}
