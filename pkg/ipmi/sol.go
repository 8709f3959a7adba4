package ipmi

import (
	"context"
	"errors"
	"fmt"

	"github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/hal"
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"
)

// Serial over LAN is go-ipmi's: its payload commands (Activate/Deactivate
// Payload, SOL configuration) and its data plane, which takes one SOL
// session per endpoint (a second activation gets "payload already active",
// 80h) and drives a hal.ConsoleConn. This file hands it the node's
// console.

// consoleHAL opens the node's console for an activation.
type consoleHAL struct{ ep *Endpoint }

func (c consoleHAL) Open(ctx context.Context) (hal.ConsoleConn, error) {
	s, err := c.ep.cfg.Hardware.Console.Attach(ctx)
	if errors.Is(err, ErrConsoleBusy) {
		return nil, fmt.Errorf("%w: %w", bmc.ErrSOLAlreadyActive, err)
	}
	if err != nil {
		c.ep.log.Warn("SOL activation: console not available", "err", err)
		return nil, err
	}
	c.ep.log.Info("SOL session started")
	return loggedSession{s, c.ep}, nil
}

// loggedSession notes the end of a SOL session in the log.
type loggedSession struct {
	ConsoleSession
	ep *Endpoint
}

func (s loggedSession) Close() error {
	s.ep.log.Info("SOL session ended")
	return s.ConsoleSession.Close()
}

// solBitRates maps a console speed to the SOL bit rate code (Table 26-5
// #5: 6h 9600 ... Ah 115200).
var solBitRates = map[int]byte{9600: 0x06, 19200: 0x07, 38400: 0x08, 57600: 0x09, 115200: 0x0A}

// setupSOL makes SOL's configuration say what the console is. Without a
// console, go-ipmi reports SOL as not supported by itself.
func (ep *Endpoint) setupSOL() {
	if ep.cfg.Hardware.Console == nil {
		return
	}
	if code, ok := solBitRates[ep.cfg.Hardware.BitRate]; ok {
		ep.bmc.SOL.Config().SetParam(5, []byte{code})
		ep.bmc.SOL.Config().SetParam(6, []byte{code})
	}
}

// handleSetSOLConfigParam is go-ipmi's Set SOL Configuration Parameters
// (§26.2) except for the bit rates (#5 non-volatile, #6 volatile): the
// console's speed is configuration (`console.baud`), and go-ipmi would
// store a new one without anything changing on the line, so that
// `sol info` would then report a speed the console does not run at.
func handleSetSOLConfigParam(_ context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	if len(req) < 2 {
		return nil, ccRequestDataTruncated, nil
	}
	switch req[1] {
	case 5, 6:
		return nil, ccParamReadOnly, nil
	}
	return nil, hctx.BMC.SOL.Config().SetParam(req[1], req[2:]), nil
}
