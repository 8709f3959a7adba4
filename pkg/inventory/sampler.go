package inventory

import (
	"context"
	"time"
)

// samplerTick is how often the sampler looks for nodes due a reading. Each
// node keeps its own interval; the tick only bounds how late a reading is.
const samplerTick = time.Second

// runSampler has every node read its sensors at its sample interval, so
// the meter history and the event log (a self-shutdown, a PDU that stopped
// answering) keep up when no client asks. One goroutine for all nodes:
// nodes start their refreshes in the background, and the nodes of a PDU
// share one poll of its outlet table.
func (inv *Inventory) runSampler(ctx context.Context) {
	t := time.NewTicker(samplerTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			inv.mu.RLock()
			for _, e := range inv.nodes {
				e.node.Sample(now)
			}
			inv.mu.RUnlock()
		}
	}
}
