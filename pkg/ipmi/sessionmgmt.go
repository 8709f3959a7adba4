package ipmi

import (
	"context"
	"encoding/binary"

	"github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"
)

// Close Session completion codes (IPMI v2.0 Table 22-29).
const ccInvalidSessionID = types.CompletionCode(0x87)

// handleCloseSession implements Close Session (App 3Ch). go-ipmi's closes
// whatever session ID it is given, so any logged-in user could end other
// consoles' sessions (Ironic's among them). A session may close itself; an
// ADMINISTRATOR session may close any (IPMI v2.0 §22.19).
func handleCloseSession(_ context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	if len(req) < 4 {
		return nil, ccRequestDataTruncated, nil
	}
	id := binary.LittleEndian.Uint32(req[0:4])
	ep := endpointOf(hctx)
	var current bmc.PrivilegeLevel
	own := false
	switch {
	case hctx.Session != nil:
		current, own = hctx.Session.PrivilegeLevel, hctx.Session.BMCID == id
	case hctx.V15Session != nil:
		current, own = hctx.V15Session.PrivilegeLevel, hctx.V15Session.SessionID == id
	default:
		return nil, types.CodeInsufficientPrivilege, nil
	}
	if id == 0 {
		// Closing by session handle: not supported, and never needed by
		// consoles, which close their own session by ID.
		return nil, ccInvalidSessionID, nil
	}
	if !own && current < bmc.PrivilegeLevelAdministrator {
		return nil, types.CodeInsufficientPrivilege, nil
	}
	if err := hctx.BMC.Sessions.Close(id); err == nil {
		return nil, ccOK, nil
	}
	if err := hctx.BMC.V15Sessions.Close(id); err != nil {
		return nil, ccInvalidSessionID, nil
	}
	ep.conn.forgetV15(id)
	return nil, ccOK, nil
}

// sessionInfoMiddleware corrects Get Session Info's session counts for
// RMCP+ sessions: go-ipmi reports its store's size and occupancy, which
// here include handshakes in progress and a store sized for them; the
// table consoles may use is the configured one.
func sessionInfoMiddleware(next handlers.Handler) handlers.Handler {
	return handlers.HandlerFunc(func(ctx context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		resp, cc, err := next.Handle(ctx, hctx, req)
		if hctx.Command == types.CommandGetSessionInfo && cc == ccOK && err == nil && len(resp) >= 3 && hctx.Session != nil {
			ep := endpointOf(hctx)
			ep.conn.mu.Lock()
			active := len(ep.conn.sessions)
			ep.conn.mu.Unlock()
			resp[1] = byte(min(ep.cfg.MaxSessions, 0x3F))
			resp[2] = byte(min(active, 0x3F))
		}
		return resp, cc, err
	})
}
