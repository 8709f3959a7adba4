package ipmi

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/powerjockey/powerjockey/pkg/node"
)

// Observer receives IPMI events (metrics). Calls must not block.
type Observer interface {
	// Request reports one dispatched command and its completion code.
	Request(node, command string, cc uint8)
	// Dropped reports a datagram dropped before dispatch and why.
	Dropped(node, reason string)
	// AuthFailure reports a failed authentication.
	AuthFailure(node string)
	// Retransmission reports a resent request answered from the replay cache.
	Retransmission(node string)
	// Panic reports a recovered panic and where: "handler" (a command
	// handler; answered 0xFF), "conn_read" or "conn_write" (the datagram or
	// reply was dropped).
	Panic(node, where string)
}

// NopObserver ignores every event.
type NopObserver struct{}

// Request implements Observer.
func (NopObserver) Request(string, string, uint8) {}

// Dropped implements Observer.
func (NopObserver) Dropped(string, string) {}

// AuthFailure implements Observer.
func (NopObserver) AuthFailure(string) {}

// Retransmission implements Observer.
func (NopObserver) Retransmission(string) {}

// Panic implements Observer.
func (NopObserver) Panic(string, string) {}

// newRegistry builds the handler registry shared by every endpoint:
// go-ipmi's standard handlers, powerjockey's replacements and additions,
// and the middleware, which must be installed before registration.
func newRegistry() *handlers.Registry {
	r := handlers.NewRegistry()
	r.Use(recoverMiddleware)
	r.Use(observeMiddleware)
	r.Use(requesterMiddleware)
	r.Use(privilegeMiddleware)
	r.Use(replayMiddleware)
	r.Use(sessionInfoMiddleware)
	handlers.RegisterAllHandlers(r)
	registerHandlers(r)
	for _, c := range configOwnedCommands {
		r.RegisterFunc(c, handleConfigOwned)
	}
	return r
}

// recoverMiddleware turns a panicking handler into an "unspecified error"
// reply: go-ipmi runs each datagram on its own goroutine without a recover,
// so one bad request would otherwise take down every node's BMC. The panic
// is counted and logged at most once a minute per source.
func recoverMiddleware(next handlers.Handler) handlers.Handler {
	return handlers.HandlerFunc(func(ctx context.Context, hctx *handlers.HandlerContext, req []byte) (resp []byte, cc types.CompletionCode, err error) {
		defer func() {
			if p := recover(); p != nil {
				ep := endpointOf(hctx)
				source := ""
				if hctx.Session != nil {
					if a, ok := hctx.Session.GetAddr().(*net.UDPAddr); ok {
						source = a.AddrPort().Addr().Unmap().String()
					}
				}
				ep.conn.guard.panicked(ep, source, "handler", p, "command", hctx.Command.Name, "request", fmt.Sprintf("% x", req))
				resp, cc, err = nil, types.CodeUnspecifiedError, nil
			}
		}()
		return next.Handle(ctx, hctx, req)
	})
}

// requesterMiddleware tells the node layer who is asking (the session's
// user and console address), for its audit lines and action records.
func requesterMiddleware(next handlers.Handler) handlers.Handler {
	return handlers.HandlerFunc(func(ctx context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		r := node.Requester{Channel: node.ChannelIPMI}
		if hctx.User != nil {
			r.User = hctx.User.Name
		}
		if hctx.Session != nil {
			if a := hctx.Session.GetAddr(); a != nil {
				r.Source = a.String()
			}
		}
		return next.Handle(node.WithRequester(ctx, r), hctx, req)
	})
}

func observeMiddleware(next handlers.Handler) handlers.Handler {
	return handlers.HandlerFunc(func(ctx context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		resp, cc, err := next.Handle(ctx, hctx, req)
		if err != nil && cc == types.CodeOK {
			cc = types.CodeUnspecifiedError // what the server answers for err != nil
		}
		ep := endpointOf(hctx)
		name := hctx.Command.Name
		if name == "" {
			name = "unknown"
		}
		ep.obs.Request(ep.Name(), name, uint8(cc))
		return resp, cc, err
	})
}

// extraMinimumPrivilege raises go-ipmi's per-command minimum to the IPMI
// v2.0 Appendix G value where go-ipmi is more permissive.
var extraMinimumPrivilege = map[types.Command]bmc.PrivilegeLevel{
	types.CommandChassisIdentify:      bmc.PrivilegeLevelOperator,
	types.CommandSetSystemBootOptions: bmc.PrivilegeLevelOperator,
	types.CommandGetSystemBootOptions: bmc.PrivilegeLevelOperator,
}

// privilegeMiddleware enforces the user's configured maximum privilege on
// the session. go-ipmi starts an RMCP+ session at the maximum privilege the
// console asked for in Open Session, checking only the RAKP 1 role against
// the user's limit, so a user limited to USER could otherwise operate at
// ADMINISTRATOR (see docs/go-ipmi-notes.md).
func privilegeMiddleware(next handlers.Handler) handlers.Handler {
	return handlers.HandlerFunc(func(ctx context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		var current bmc.PrivilegeLevel
		inSession := false
		if hctx.User != nil {
			limit := hctx.User.ChannelAccess[lanChannel].MaxPrivilege
			// The server holds the session's ProcMu during dispatch, so
			// these writes follow go-ipmi's own locking contract.
			if s := hctx.Session; s != nil {
				s.MaxPrivilege, s.PrivilegeLevel = min(s.MaxPrivilege, limit), min(s.PrivilegeLevel, limit)
				current, inSession = s.PrivilegeLevel, true
			}
			if s := hctx.V15Session; s != nil {
				s.MaxPrivilege, s.PrivilegeLevel = min(s.MaxPrivilege, limit), min(s.PrivilegeLevel, limit)
				current, inSession = s.PrivilegeLevel, true
			}
		}
		if need, ok := extraMinimumPrivilege[hctx.Command]; ok && inSession && current < need {
			return nil, types.CodeInsufficientPrivilege, nil
		}
		return next.Handle(ctx, hctx, req)
	})
}

// configOwnedCommands would change what the configuration file owns
// (accounts); a change made over IPMI would silently vanish on restart, so
// they are disabled.
var configOwnedCommands = []types.Command{
	types.CommandSetUserAccess,
	types.CommandSetUsername,
	types.CommandSetUserPassword,
	types.CommandSetUserPayloadAccess,
}

func handleConfigOwned(_ context.Context, hctx *handlers.HandlerContext, _ []byte) ([]byte, types.CompletionCode, error) {
	endpointOf(hctx).log.Info("refused account change over IPMI: accounts come from the configuration file", "command", hctx.Command.Name)
	return nil, types.CompletionCode(0xD6), nil // command disabled
}

// replayWindow is how long a Chassis Control answer is replayed to an
// identical request on the same session: long enough for every resend a
// client makes while it waits, short enough not to swallow a deliberate
// repeat much later.
const replayWindow = 10 * time.Second

// replayMiddleware answers a resent Chassis Control with the first answer
// instead of running the power action twice. Clients resend when a reply
// is slow (ipmitool -R/-N keeps the request but bumps the session sequence;
// freeipmi also renews the request sequence), so the request's content on
// its session is the key. Requests of one session are serialized by
// go-ipmi, so a resend waits for the original and then finds its answer.
func replayMiddleware(next handlers.Handler) handlers.Handler {
	return handlers.HandlerFunc(func(ctx context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if hctx.Command != types.CommandChassisControl {
			return next.Handle(ctx, hctx, req)
		}
		key, ok := replayKeyOf(hctx, req)
		if !ok {
			return next.Handle(ctx, hctx, req)
		}
		ep := endpointOf(hctx)
		if resp, cc, hit := ep.dedup.lookup(key); hit {
			ep.obs.Retransmission(ep.Name())
			ep.log.Info("resent request answered from replay cache", "command", hctx.Command.Name)
			return resp, cc, nil
		}
		resp, cc, err := next.Handle(ctx, hctx, req)
		if err == nil {
			ep.dedup.store(key, resp, cc)
		}
		return resp, cc, err
	})
}

type replayKey struct {
	session uint32
	v15     bool
	req     string
}

func replayKeyOf(hctx *handlers.HandlerContext, req []byte) (replayKey, bool) {
	switch {
	case hctx.Session != nil:
		return replayKey{session: hctx.Session.BMCID, req: string(req)}, true
	case hctx.V15Session != nil:
		return replayKey{session: hctx.V15Session.SessionID, v15: true, req: string(req)}, true
	}
	return replayKey{}, false
}

// dedupTable is an endpoint's replay cache. Entries expire after
// replayWindow; the table is pruned on insert, so it is bounded by the
// number of commands one endpoint can complete in a window.
type dedupTable struct {
	mu      sync.Mutex
	entries map[replayKey]replayEntry
}

type replayEntry struct {
	resp []byte
	cc   types.CompletionCode
	at   time.Time
}

func (t *dedupTable) lookup(k replayKey) ([]byte, types.CompletionCode, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.entries[k]
	if !ok || time.Since(e.at) > replayWindow {
		return nil, 0, false
	}
	return e.resp, e.cc, true
}

func (t *dedupTable) store(k replayKey, resp []byte, cc types.CompletionCode) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if t.entries == nil {
		t.entries = make(map[replayKey]replayEntry)
	}
	for key, e := range t.entries {
		if now.Sub(e.at) > replayWindow {
			delete(t.entries, key)
		}
	}
	t.entries[k] = replayEntry{resp: resp, cc: cc, at: now}
}
