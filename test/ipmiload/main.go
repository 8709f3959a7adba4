// Command ipmiload is a load generator for IPMI endpoints: C concurrent
// clients each run complete RMCP+ sessions (Open Session, RAKP 1-4, one
// command, Close Session) against N endpoints, and it reports sessions per
// second, latency percentiles and errors.
//
//	go run ./test/ipmiload -addr 127.0.0.1 -ports 30000-30999 -c 32 -duration 10s -cipher 17
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/types"
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
	r := run(portList, *addr, *conc, *duration, *total, types.CipherSuiteID(*cipher), *user, *pass, *timeout, *lean)
	fmt.Println(r)
	if r.errors > 0 {
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

type result struct {
	sessions, errors int64
	elapsed          time.Duration
	latencies        []time.Duration
	firstErr         string
}

func (r result) String() string {
	slices.Sort(r.latencies)
	pct := func(p float64) time.Duration {
		if len(r.latencies) == 0 {
			return 0
		}
		return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
	}
	s := fmt.Sprintf("sessions=%d errors=%d elapsed=%s rate=%.0f/s p50=%s p99=%s max=%s",
		r.sessions, r.errors, r.elapsed.Round(time.Millisecond), float64(r.sessions)/r.elapsed.Seconds(),
		pct(0.50).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), pct(1).Round(10*time.Microsecond))
	if r.firstErr != "" {
		s += "\nfirst error: " + r.firstErr
	}
	return s
}

func run(ports []int, addr string, conc int, duration time.Duration, total int, suite types.CipherSuiteID, user, pass string, timeout time.Duration, lean bool) result {
	var (
		next     atomic.Int64
		sessions atomic.Int64
		errs     atomic.Int64
		mu       sync.Mutex
		lats     []time.Duration
		firstErr string
		wg       sync.WaitGroup
	)
	deadline := time.Now().Add(duration)
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ls *leanSession
			if lean {
				conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
				if err != nil {
					errs.Add(1)
					return
				}
				defer conn.Close()
				if ls, err = newLean(conn, suite, user, pass, timeout); err != nil {
					errs.Add(1)
					return
				}
			}
			var local []time.Duration
			for {
				i := next.Add(1) - 1
				if (total > 0 && i >= int64(total)) || (total == 0 && time.Now().After(deadline)) {
					break
				}
				port := ports[int(i)%len(ports)]
				t0 := time.Now()
				var err error
				if ls != nil {
					ls.target = &net.UDPAddr{IP: net.ParseIP(addr), Port: port}
					err = ls.run()
				} else {
					err = oneSession(addr, port, suite, user, pass, timeout)
				}
				if err != nil {
					errs.Add(1)
					mu.Lock()
					if firstErr == "" {
						firstErr = fmt.Sprintf("port %d: %v", port, err)
					}
					mu.Unlock()
					continue
				}
				sessions.Add(1)
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lats = append(lats, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return result{sessions: sessions.Load(), errors: errs.Load(), elapsed: time.Since(start), latencies: lats, firstErr: firstErr}
}

// oneSession is what every ipmitool invocation Ironic makes amounts to.
func oneSession(addr string, port int, suite types.CipherSuiteID, user, pass string, timeout time.Duration) error {
	c, err := client.NewClient(addr, port, user, pass)
	if err != nil {
		return err
	}
	c = c.WithInterface(client.InterfaceLanplus).WithCipherSuiteID(suite).WithTimeout(timeout).WithRetry(1)
	ctx, cancel := context.WithTimeout(context.Background(), 4*timeout)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	_, cmdErr := c.GetChassisStatus(ctx)
	closeErr := c.Close(ctx)
	if cmdErr != nil {
		return fmt.Errorf("chassis status: %w", cmdErr)
	}
	if closeErr != nil {
		return fmt.Errorf("close session: %w", closeErr)
	}
	return nil
}
