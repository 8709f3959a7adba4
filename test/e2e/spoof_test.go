package e2e

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/test/spoof"
)

// TestForgedSourceCannotLockOutIPMItool: a blind attacker forges ipmitool's
// source address (127.0.0.1) through a raw socket and sends what used to
// lock it out after 40 datagrams: RAKP 3 rejecting RAKP 2 and RAKP 1 for
// made-up sessions, Get Session Challenge for unknown users, Open Session,
// v1.5 Activate Session for made-up challenges. ipmitool from that address
// keeps working, before and after its first login, over lanplus and lan,
// and nothing counts as a failed login.
func TestForgedSourceCannotLockOutIPMItool(t *testing.T) {
	e, port, _, _ := manualEnv(t, false)
	s := spoof.Open(t)
	dst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	victim := netip.MustParseAddr("127.0.0.1")
	r := rand.New(rand.NewPCG(7, 8))
	forge := func() {
		for i, pkt := range spoof.LockoutTraffic(r, 50) {
			if err := s.Send(netip.AddrPortFrom(victim, uint16(40000+i)), dst, pkt); err != nil {
				t.Fatal(err)
			}
		}
	}
	dropped := func() float64 {
		v, _ := strconv.ParseFloat(e.metric(`powerjockey_ipmi_dropped_datagrams_total{node="compute-0",reason="unknown_session"}`), 64)
		return v
	}
	forge()
	eventually(t, 5*time.Second, "the forged datagrams reached the daemon", func() bool { return dropped() >= 150 })
	mustIPMItool(t, port, "Chassis Power is", "power", "status")
	forge()
	eventually(t, 5*time.Second, "the second round reached the daemon", func() bool { return dropped() >= 300 })
	mustIPMItool(t, port, "Chassis Power is", "power", "status")
	out, err := run(t, 30*time.Second, "ipmitool", "-I", "lan", "-A", "MD5", "-H", "127.0.0.1", "-p", fmt.Sprint(port),
		"-U", "admin", "-P", "password", "-R", "2", "-N", "2", "power", "status")
	if err != nil {
		t.Fatalf("ipmitool -I lan from the forged address: %v\n%s", err, out)
	}
	if v := e.metric(`powerjockey_ipmi_auth_failures_total{node="compute-0"}`); v != "" && v != "0" {
		t.Errorf("forged datagrams counted as failed logins: %s", v)
	}
}
