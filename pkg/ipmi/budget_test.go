package ipmi

import (
	"net/netip"
	"testing"
	"time"
)

// TestHeavyHitters: a source is heavy from its 17th datagram within a
// one-second window, whether its window's sources are few (counted
// exactly) or many (hashed counters, made when a ninth source appears,
// with the counts so far carried over), and light again in the next window.
func TestHeavyHitters(t *testing.T) {
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{127, 0, byte(i >> 8), byte(i)}) }
	t0 := time.Now()
	tests := []struct {
		name    string
		sources int // other sources heard from, once each, before the one counted
		before  int // datagrams of the counted source before the others
	}{
		{"alone", 0, 0},
		{"among few", fewSources - 1, 0},
		{"among many", 200, 0},
		{"counted before many arrive", 200, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h heavyHitters
			src := addr(1000)
			for range tc.before {
				if h.add(src, t0) {
					t.Fatal("heavy too early")
				}
			}
			for i := range tc.sources {
				h.add(addr(i), t0)
			}
			if many := h.many != nil; many != (tc.sources >= fewSources) {
				t.Fatalf("hashed table made: %v with %d other sources", many, tc.sources)
			}
			for i := tc.before + 1; i <= heavyPerSecond+1; i++ {
				// Collisions in the hashed table may only make a source
				// heavy sooner: in the exact table it is exact.
				heavy := h.add(src, t0)
				if i <= heavyPerSecond && heavy && h.many == nil {
					t.Fatalf("heavy at datagram %d", i)
				}
				if i == heavyPerSecond+1 && !heavy {
					t.Fatalf("not heavy at datagram %d", i)
				}
			}
			if !h.add(src, t0.Add(999*time.Millisecond)) {
				t.Fatal("light again within the window")
			}
			if h.stale(t0.Add(999*time.Millisecond)) || !h.stale(t0.Add(time.Second)) {
				t.Fatal("the window does not last one second")
			}
			if h.add(src, t0.Add(time.Second)) {
				t.Fatal("still heavy in the next window")
			}
		})
	}
}
