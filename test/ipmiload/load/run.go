// Package load runs complete IPMI sessions against endpoints and measures
// them: the engine of the ipmiload command and of the load test in
// test/perf.
package load

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/types"
)

// Options describe one load run.
type Options struct {
	Addr        string
	Ports       []int
	Concurrency int
	Duration    time.Duration // used when Sessions is 0
	Sessions    int
	Suite       types.CipherSuiteID
	User, Pass  string
	Timeout     time.Duration
	// Lean uses the built-in four-round-trip console; otherwise go-ipmi's client.
	Lean bool
}

// Result is what a run measured.
type Result struct {
	Sessions, Errors int64
	Elapsed          time.Duration
	Latencies        []time.Duration
	FirstErr         string
}

// String formats the result on one line (two with an error).
func (r Result) String() string {
	slices.Sort(r.Latencies)
	pct := func(p float64) time.Duration {
		if len(r.Latencies) == 0 {
			return 0
		}
		return r.Latencies[min(len(r.Latencies)-1, int(p*float64(len(r.Latencies))))]
	}
	s := fmt.Sprintf("sessions=%d errors=%d elapsed=%s rate=%.0f/s p50=%s p99=%s max=%s",
		r.Sessions, r.Errors, r.Elapsed.Round(time.Millisecond), float64(r.Sessions)/r.Elapsed.Seconds(),
		pct(0.50).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), pct(1).Round(10*time.Microsecond))
	if r.FirstErr != "" {
		s += "\nfirst error: " + r.FirstErr
	}
	return s
}

// Run executes the load described by o.
func Run(o Options) Result {
	ports, addr, conc, duration, total, suite, user, pass, timeout, lean := o.Ports, o.Addr, o.Concurrency, o.Duration, o.Sessions, o.Suite, o.User, o.Pass, o.Timeout, o.Lean
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
	return Result{Sessions: sessions.Load(), Errors: errs.Load(), Elapsed: time.Since(start), Latencies: lats, FirstErr: firstErr}
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

// Percentile returns the latency at fraction p (0..1) of the sorted latencies.
func (r Result) Percentile(p float64) time.Duration {
	l := slices.Clone(r.Latencies)
	slices.Sort(l)
	if len(l) == 0 {
		return 0
	}
	return l[min(len(l)-1, int(p*float64(len(l))))]
}

// Rate is complete sessions per second.
func (r Result) Rate() float64 { return float64(r.Sessions) / r.Elapsed.Seconds() }

// Session runs one lean session (Open Session, RAKP 1-4, Get Chassis
// Status, Close Session; one try per message) from localIP to addr:port.
func Session(localIP, addr string, port int, suite types.CipherSuiteID, user, pass string, timeout time.Duration) error {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(localIP)})
	if err != nil {
		return err
	}
	defer conn.Close()
	ls, err := newLean(conn, suite, user, pass, timeout)
	if err != nil {
		return err
	}
	ls.target = &net.UDPAddr{IP: net.ParseIP(addr), Port: port}
	return ls.run()
}
