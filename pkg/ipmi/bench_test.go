package ipmi

import (
	"context"
	"testing"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/types"
)

// BenchmarkSession measures one endpoint's whole request path for what
// every Ironic ipmitool call is: Get Channel Authentication Capabilities,
// Open Session, RAKP 1-4, Set Session Privilege Level, Get Chassis Status,
// Close Session, over real loopback UDP (the go-ipmi client's own cost is
// included).
func BenchmarkSession(b *testing.B) {
	for _, suite := range []types.CipherSuiteID{3, 17} {
		b.Run("cs"+suiteName(suite), func(b *testing.B) {
			ep, _ := startEndpointB(b)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c, err := connect(ep, "admin", "password", client.InterfaceLanplus, suite)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := c.GetChassisStatus(context.Background()); err != nil {
						b.Fatal(err)
					}
					c.Close(context.Background())
				}
			})
		})
	}
}

// BenchmarkInSessionCommand measures one Get Chassis Status on an open session.
func BenchmarkInSessionCommand(b *testing.B) {
	ep, _ := startEndpointB(b)
	c, err := connect(ep, "admin", "password", client.InterfaceLanplus, 17)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(context.Background())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.GetChassisStatus(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

func suiteName(s types.CipherSuiteID) string {
	return string(rune('0'+int(s)/10)) + string(rune('0'+int(s)%10))
}

// startEndpointB runs an endpoint whose per-source budget does not throttle
// the benchmark's single console address (the default lets one address
// start about 200 sessions a second per endpoint; the benchmark measures
// the request path's cost, not the limit).
func startEndpointB(b testing.TB) (*Endpoint, *countingObserver) {
	b.Helper()
	obs := newCountingObserver()
	gcfg := DefaultGuardConfig()
	gcfg.PerSource = Budget{Rate: 1e6, Burst: 1e6}
	gcfg.Unproven = Budget{Rate: 1e6, Burst: 1e6}
	mgr := NewManager(NewGuard(gcfg), obs, nil)
	ep, err := mgr.Start(context.Background(), newFakeMachine("bench"), testEndpointConfig())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(mgr.Close)
	return ep, obs
}
