package pdu_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/power"
	"github.com/powerjockey/powerjockey/pkg/sim"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// TestFailedPollAnswersItsWindow: a failed poll answers the reads after it
// with its error for CacheTTL, as a successful one answers with outlets, so
// that the nodes of a PDU that fails (the background sampler reads them
// together) do not poll it one after another; a switch's read-back still
// polls; with no TTL every read polls. The failure is logged once per
// outage, and the recovery once.
func TestFailedPollAnswersItsWindow(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ttl   time.Duration
		polls int
	}{
		{"cached", time.Minute, 1},
		{"no cache", 0, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rack := startRack(t, sim.Config{PDUs: []sim.PDUConfig{simPDU("apc")}})
			agent := rack.PDU("p").Agent()
			agent.SetDropAll(true)
			cfg := baseConfig(rack.PDU("p").Addr(), "apc")
			cfg.SNMP.Timeout, cfg.SNMP.Retries = 100*time.Millisecond, 0
			cfg.CacheTTL = tc.ttl
			rec := newRecorder()
			cfg.Observer = rec
			logs := &testkit.Log{}
			cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
			c := newClient(t, cfg)
			c.Watch(1, 2)
			ctx := testCtx(t)
			for i := range 5 {
				if _, err := c.Read(ctx, []int{1 + i%2}); !errors.Is(err, power.ErrTimeout) {
					t.Fatalf("read %d of a PDU that does not answer: %v, want power.ErrTimeout", i, err)
				}
			}
			if got := rec.count("poll"); got != tc.polls || agent.Stats().Dropped != uint64(tc.polls) {
				t.Fatalf("5 reads: %d polls, %d requests at the agent; want %d", got, agent.Stats().Dropped, tc.polls)
			}
			if n := strings.Count(logs.String(), "outlet poll failed"); n != 1 {
				t.Fatalf("%d warnings for %d failed polls, want 1 (once per outage)", n, tc.polls)
			}

			agent.SetDropAll(false)
			if tc.ttl > 0 {
				if _, err := c.Read(ctx, []int{1}); !errors.Is(err, power.ErrTimeout) {
					t.Fatalf("read within the failed poll's window: %v, want its error", err)
				}
			}
			// A switch reads back from a poll begun after its SET.
			if err := c.SetOutlets(ctx, []int{1}, true); err != nil {
				t.Fatalf("switch on once the PDU answers: %v", err)
			}
			got, err := c.Read(ctx, []int{1})
			if err != nil || got[1].State != power.StateOn {
				t.Fatalf("read after the switch: %v, %v; want on", got[1].State, err)
			}
			if n := strings.Count(logs.String(), "outlet poll answers again"); n != 1 {
				t.Fatalf("%d recovery lines, want 1", n)
			}
		})
	}
}
