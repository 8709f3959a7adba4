package inventory

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/pkg/power/pdu"
)

// detectPDUs detects, in parallel, the model of every PDU of pdus
// configured as auto. A device that answers but is not a switched PDU of
// the model table (a UPS, a sensor box, an unknown device) is an error:
// its nodes could never be switched. One that does not answer is logged;
// its model is detected when it is first used.
func (inv *Inventory) detectPDUs(ctx context.Context, pdus []config.PDU) error {
	errs := make([]error, len(pdus))
	var wg sync.WaitGroup
	for i, p := range pdus {
		c := inv.pdus[p.Name]
		if p.Model != "auto" || c == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Identity, a few GETNEXTs per candidate row and the UPS-MIB
			// identity, each bounded by the SNMP timeout and retries.
			budget := time.Duration(8*(*p.SNMP.Retries+1))*p.SNMP.Timeout.D() + time.Second
			dctx, cancel := context.WithTimeout(ctx, budget)
			defer cancel()
			m, err := c.Model(dctx)
			switch {
			case errors.Is(err, pdu.ErrNotPDU):
				errs[i] = fmt.Errorf("%s: pdus: %w", inv.cfg.Path, err)
			case err != nil:
				inv.log.Warn("PDU model not detected at start; detection is retried when the PDU is used", "pdu", p.Name, "err", err)
			default:
				inv.log.Info("PDU model", "pdu", p.Name, "model", m.Name)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
