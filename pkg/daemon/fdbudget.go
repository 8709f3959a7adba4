package daemon

import (
	"fmt"
	"syscall"

	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/pkg/internal/connlimit"
)

// File descriptors the daemon keeps for itself, whatever the TCP servers
// hold: the HTTP and Redfish connection caps are sized from what is left
// of RLIMIT_NOFILE after these, so that a flood of connections meets a cap
// and never turns into "too many open files" for an IPMI endpoint, a PDU
// or a state file.
const (
	// fdBase: standard streams, the state_dir lock, epoll, the
	// Wake-on-LAN and raw sockets, the listeners, certificate and
	// configuration reads, a reload's new endpoints, the sd_notify socket.
	fdBase = 64
	// fdPerNode: the node's IPMI socket, a state file being written (the
	// temporary file and its directory), an event log line being appended,
	// an exec hook's pipes and process descriptor, a TCP or ICMP probe.
	fdPerNode = 8
	// fdPerPDU: the PDU's SNMP socket and a probe's.
	fdPerPDU = 4
	// fdPerListener: a connection accepted to be refused, or accepted
	// before the idle one it replaces is closed.
	fdPerListener = 2
)

// RaiseFileLimit raises the soft RLIMIT_NOFILE to the hard limit and
// returns the limit now in effect. The Go runtime already does so at start
// (since Go 1.19) and gives exec'd hooks the original soft limit back; the
// call here changes the limit only if the runtime did not, so hooks keep
// that behaviour.
func RaiseFileLimit() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("getrlimit(RLIMIT_NOFILE): %w", err)
	}
	if rl.Cur < rl.Max {
		want := rl
		want.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			return rl.Cur, fmt.Errorf("setrlimit(RLIMIT_NOFILE, %d): %w", want.Cur, err)
		}
		rl = want
	}
	return rl.Cur, nil
}

func fileLimit() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 1024 // the usual default; keeps the caps small
	}
	return rl.Cur
}

// fdBudget is how the file descriptor limit is shared out.
type fdBudget struct {
	limit    uint64
	reserved int
	// http, redfish and boot are the caps of the servers (zero when off).
	http, redfish, boot connlimit.Limits
	// lowered says which configured caps the limit could not afford.
	lowered []string
}

// newFDBudget shares limit out for cfg: the reserve first, then the
// configured caps of the servers that are on, scaled down in proportion
// when they do not fit (never below one connection each).
func newFDBudget(cfg *config.Config, limit uint64) fdBudget {
	b := fdBudget{limit: limit, reserved: fdBase + fdPerNode*len(cfg.Nodes) + fdPerPDU*len(cfg.PDUs)}
	httpOn, redfishOn := cfg.HTTP.Listen != "off", cfg.Redfish.Listen != ""
	want := map[string]config.HTTP{}
	if httpOn {
		b.reserved += fdPerListener
		want["http"] = cfg.HTTP
	}
	if redfishOn {
		b.reserved += fdPerListener
		want["redfish"] = config.HTTP{MaxConnections: cfg.Redfish.MaxConnections, MaxConnectionsPerSource: cfg.Redfish.MaxConnectionsPerSource}
	}
	if cfg.Boot.Listen != "" {
		b.reserved += fdPerListener
		want["boot"] = config.HTTP{MaxConnections: cfg.Boot.MaxConnections, MaxConnectionsPerSource: cfg.Boot.MaxConnectionsPerSource}
	}
	left := int64(limit) - int64(b.reserved)
	total := 0
	for _, w := range want {
		total += w.MaxConnections
	}
	caps := map[string]connlimit.Limits{}
	for _, name := range []string{"http", "redfish", "boot"} {
		w, on := want[name]
		if !on {
			continue
		}
		c := connlimit.Limits{Max: w.MaxConnections, PerSource: w.MaxConnectionsPerSource}
		if int64(total) > left {
			c.Max = max(1, int(left*int64(w.MaxConnections)/int64(total)))
			b.lowered = append(b.lowered, fmt.Sprintf("%s.max_connections %d -> %d", name, w.MaxConnections, c.Max))
		}
		c.PerSource = min(c.PerSource, c.Max)
		caps[name] = c
	}
	b.http, b.redfish, b.boot = caps["http"], caps["redfish"], caps["boot"]
	return b
}
