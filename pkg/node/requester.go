package node

import (
	"context"
	"fmt"
)

// Requester says who asked a node for something: the protocol face it came
// through, the remote address and the authenticated user. The faces attach
// it to the request's context (WithRequester); the node writes it into the
// audit lines of its log and into the action record, so that "who switched
// this machine off?" has an answer.
type Requester struct {
	// Channel is the face the request came through.
	Channel Channel `json:"channel"`
	// Source is the remote address (host, or host:port), empty when local.
	Source string `json:"source,omitempty"`
	// User is the authenticated user name, empty when there is none.
	User string `json:"user,omitempty"`
}

type requesterKey struct{}

// WithRequester returns ctx carrying r.
func WithRequester(ctx context.Context, r Requester) context.Context {
	return context.WithValue(ctx, requesterKey{}, r)
}

// RequesterFrom returns the requester ctx carries; without one it reports
// an "internal" request (the daemon itself, a test).
func RequesterFrom(ctx context.Context) Requester {
	if r, ok := ctx.Value(requesterKey{}).(Requester); ok {
		return r
	}
	return Requester{Channel: ChannelInternal}
}

// Channel is the way a request reached a node: a protocol face, the CLI,
// the machine itself, or the daemon.
type Channel string

// Channels.
const (
	ChannelIPMI    Channel = "ipmi"
	ChannelRedfish Channel = "redfish"
	ChannelHTTP    Channel = "http"
	// ChannelCLI is `powerjockey power --direct`.
	ChannelCLI Channel = "cli"
	// ChannelBoot is the machine fetching its boot script.
	ChannelBoot Channel = "boot"
	// ChannelInternal is the daemon itself (or a test).
	ChannelInternal Channel = "internal"
)

// MarshalText writes the channel's name.
func (c Channel) MarshalText() ([]byte, error) { return []byte(c), nil }

// UnmarshalText reads a channel name written by MarshalText.
func (c *Channel) UnmarshalText(b []byte) error {
	switch ch := Channel(b); ch {
	case ChannelIPMI, ChannelRedfish, ChannelHTTP, ChannelCLI, ChannelBoot, ChannelInternal:
		*c = ch
		return nil
	}
	return fmt.Errorf("unknown channel %q", b)
}

// logAttrs are the audit attributes of a log line.
func (r Requester) logAttrs() []any {
	return []any{"channel", r.Channel, "source", r.Source, "user", r.User}
}
