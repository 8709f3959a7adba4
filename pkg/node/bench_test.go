package node

import (
	"context"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/power"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// BenchmarkPowerStateCached is the status path Ironic's power sync takes
// for every node every minute, served from the node's cache.
func BenchmarkPowerStateCached(b *testing.B) {
	store, err := OpenStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	watts := 120.0
	feed := testkit.NewFeed(&testkit.Journal{}, power.StateOn)
	feed.Sensor.Set(power.StateOn, &watts, nil)
	n, err := New(context.Background(), Config{Name: "n", Means: Means{Feed: feed}, WattsOn: 15, MaxAge: time.Hour}, store)
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	ctx := context.Background()
	if _, err := n.PowerState(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r, err := n.PowerState(ctx); err != nil || r.State != power.StateOn {
				b.Fatal(r, err)
			}
		}
	})
}

// BenchmarkPowerStateRefresh includes a sensor read on every call (MaxAge 0).
func BenchmarkPowerStateRefresh(b *testing.B) {
	store, err := OpenStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	feed := testkit.NewFeed(&testkit.Journal{}, power.StateOn)
	n, err := New(context.Background(), Config{Name: "n", Means: Means{Feed: feed}, StatusSource: "outlet", MaxAge: time.Nanosecond}, store)
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := n.PowerState(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
