//go:build pprof

package main

import (
	"fmt"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof/ on http.DefaultServeMux
	"os"
	"runtime"
	"strconv"
)

// A build with -tags pprof serves Go's profiles at $PJ_PPROF (e.g.
// 127.0.0.1:6060), for docs/performance.md's profiles of the running
// daemon. Release builds do not contain it. PJ_MEMPROFILERATE sets
// runtime.MemProfileRate (1: every allocation is sampled, for exact heap
// profiles of many small per-node objects; the default samples one per
// 512 KiB).
func init() {
	if r, err := strconv.Atoi(os.Getenv("PJ_MEMPROFILERATE")); err == nil && r > 0 {
		runtime.MemProfileRate = r
	}
	addr := os.Getenv("PJ_PPROF")
	if addr == "" {
		return
	}
	go func() {
		if err := http.ListenAndServe(addr, nil); err != nil {
			fmt.Fprintln(os.Stderr, "pprof:", err)
		}
	}()
}
