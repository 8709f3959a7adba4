package e2e

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSIGKILLAtAnyMomentLosesNothing kills the daemon at random moments
// while ipmitool changes power and boot state, restarts it, and checks that
// every acknowledged change survived (the one in flight at the kill may or
// may not have landed) and that no state file was left unreadable.
func TestSIGKILLAtAnyMomentLosesNothing(t *testing.T) {
	requireTool(t, "ipmitool")
	port := freePort(t, "udp")
	e := newEnv(t, `
state_dir: {{.Dir}}/state
http: {listen: "127.0.0.1:{{.HTTP}}"}
nodes:
  - name: n0
    ipmi: {listen: "127.0.0.1:{{.P}}", username: admin, password: password}
`, map[string]any{"P": port})
	type step struct {
		args        []string
		power, boot string // the state the step leaves ("" = unchanged)
	}
	steps := []step{
		{[]string{"power", "on"}, "on", ""},
		{[]string{"chassis", "bootdev", "pxe", "options=persistent"}, "", "Force PXE"},
		{[]string{"power", "off"}, "off", ""},
		{[]string{"chassis", "bootdev", "disk", "options=persistent"}, "", "Force Boot from default Hard-Drive"},
	}
	r := rand.New(rand.NewPCG(7, 11))
	power, boot := "off", "No override"
	for round := 0; round < 8; round++ {
		e.start()
		// Before this round's changes the state must be what was
		// acknowledged (or the in-flight change of the previous round).
		var (
			mu       sync.Mutex
			acked    []step
			inflight *step
		)
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; i < 200; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s := steps[(round+i)%len(steps)]
				mu.Lock()
				inflight = &s
				mu.Unlock()
				// Short retries: the call in flight at the kill times out.
				out, err := run(t, 10*time.Second, "ipmitool", append([]string{"-I", "lanplus", "-H", "127.0.0.1",
					"-p", fmt.Sprint(port), "-U", "admin", "-P", "password", "-R", "1", "-N", "1"}, s.args...)...)
				mu.Lock()
				if err == nil && !strings.Contains(out, "rror") {
					acked = append(acked, s)
					inflight = nil
				} // else: unanswered, it may or may not have landed
				mu.Unlock()
				if err != nil {
					return // the daemon is gone
				}
			}
		}()
		time.Sleep(time.Duration(50+r.IntN(400)) * time.Millisecond)
		e.kill()
		close(stop)
		<-done
		mu.Lock()
		for _, s := range acked {
			if s.power != "" {
				power = s.power
			}
			if s.boot != "" {
				boot = s.boot
			}
		}
		wantPower, wantBoot := []string{power}, []string{boot}
		if inflight != nil {
			if inflight.power != "" {
				wantPower = append(wantPower, inflight.power)
			}
			if inflight.boot != "" {
				wantBoot = append(wantBoot, inflight.boot)
			}
		}
		n := len(acked)
		mu.Unlock()

		e.start() // a corrupt state file would stop it here
		gotPower := mustIPMItool(t, port, "Chassis Power is", "power", "status")
		gotBoot := mustIPMItool(t, port, "Boot Device Selector", "chassis", "bootparam", "get", "5")
		if !containsAny(gotPower, wantPower, "Chassis Power is %s\n") {
			t.Fatalf("round %d (%d acknowledged): power %q, want one of %v", round, n, gotPower, wantPower)
		}
		if !containsAny(gotBoot, wantBoot, "Boot Device Selector : %s") {
			t.Fatalf("round %d (%d acknowledged): boot\n%s\nwant one of %v", round, n, gotBoot, wantBoot)
		}
		// Adopt what survived as the truth for the next round.
		if strings.Contains(gotPower, "is on") {
			power = "on"
		} else {
			power = "off"
		}
		for _, b := range wantBoot {
			if strings.Contains(gotBoot, b) {
				boot = b
			}
		}
		e.kill()
	}
}

func containsAny(out string, wants []string, format string) bool {
	for _, w := range wants {
		if strings.Contains(out, fmt.Sprintf(format, w)) {
			return true
		}
	}
	return false
}
