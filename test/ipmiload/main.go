// Command ipmiload is a load generator for IPMI endpoints: C concurrent
// clients each run complete RMCP+ sessions (Open Session, RAKP 1-4, one
// command, Close Session) against N endpoints, and it reports sessions per
// second, latency percentiles and errors.
//
//	go run ./test/ipmiload -addr 127.0.0.1 -ports 30000-30999 -c 32 -duration 10s -cipher 17
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/powerjockey/powerjockey/test/ipmiload/load"
)

func main() {
	addr := flag.String("addr", "127.0.0.1", "endpoint address")
	ports := flag.String("ports", "6230", "port or range of ports, e.g. 30000-30999")
	conc := flag.Int("c", 16, "concurrent clients")
	duration := flag.Duration("duration", 10*time.Second, "how long to run")
	total := flag.Int("n", 0, "stop after this many sessions (0: run for -duration)")
	cipher := flag.Int("cipher", 17, "RMCP+ cipher suite")
	user := flag.String("user", "admin", "user name")
	pass := flag.String("pass", "password", "password")
	timeout := flag.Duration("timeout", 2*time.Second, "per-request timeout")
	lean := flag.Bool("lean", true, "use the lean built-in console (4 round trips); false uses go-ipmi's client, which also sends the discovery and privilege commands ipmitool sends")
	flag.Parse()

	portList, err := parsePorts(*ports)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	r := load.Run(load.Options{Addr: *addr, Ports: portList, Concurrency: *conc, Duration: *duration, Sessions: *total,
		Suite: types.CipherSuiteID(*cipher), User: *user, Pass: *pass, Timeout: *timeout, Lean: *lean})
	fmt.Println(r)
	if r.Errors > 0 {
		os.Exit(1)
	}
}

func parsePorts(s string) ([]int, error) {
	lo, hi, found := strings.Cut(s, "-")
	a, err := strconv.Atoi(lo)
	if err != nil {
		return nil, fmt.Errorf("ports %q: %w", s, err)
	}
	b := a
	if found {
		if b, err = strconv.Atoi(hi); err != nil || b < a {
			return nil, fmt.Errorf("ports %q: bad range", s)
		}
	}
	var out []int
	for p := a; p <= b; p++ {
		out = append(out, p)
	}
	return out, nil
}
