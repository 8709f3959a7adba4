//go:build pprof

package main

import (
	"fmt"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof/ on http.DefaultServeMux
	"os"
)

// A build with -tags pprof serves Go's profiles at $PJ_PPROF (e.g.
// 127.0.0.1:6060), for docs/performance.md's profiles of the running
// daemon. Release builds do not contain it.
func init() {
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
