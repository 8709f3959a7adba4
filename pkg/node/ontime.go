package node

import (
	"time"

	"github.com/powerjockey/powerjockey/pkg/power"
)

// observe folds a power state seen at t into the on-time and reports
// whether it changed. An interval stays open across a restart of the
// daemon: the first reading after it closes the interval if the machine is
// off, so the time powerjockey was not running counts as the state it last
// saw (there is nobody to tell otherwise).
func (o *OnTime) observe(s power.State, t time.Time) bool {
	switch {
	case s == power.StateOn && o.Since.IsZero():
		o.Since = t
		return true
	case s == power.StateOff && !o.Since.IsZero():
		if d := t.Sub(o.Since); d > 0 {
			o.Total += d
		}
		o.Since = time.Time{}
		return true
	}
	return false
}

// at is the accumulated on-time at t.
func (o OnTime) at(t time.Time) time.Duration {
	d := o.Total
	if !o.Since.IsZero() && t.After(o.Since) {
		d += t.Sub(o.Since)
	}
	return d
}

// PowerOnTime is how long the node has been seen powered on in all (IPMI's
// power-on hours counter): from its sensors' readings, or from the
// recorded state for a node without sensors.
func (n *Node) PowerOnTime() time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state.OnTime.at(time.Now())
}

// FirstServed returns when the node first served the content identified
// by fingerprint under key, recording now (persistently) when the
// fingerprint is new. Protocol faces use it for "last changed" times that
// must survive restarts: the IPMI SDR repository's addition timestamp,
// which caching clients compare to decide whether their copy is current.
func (n *Node) FirstServed(key, fingerprint string) (time.Time, error) {
	n.mu.Lock()
	if f, ok := n.state.Firsts[key]; ok && f.Fingerprint == fingerprint {
		n.mu.Unlock()
		return f.At, nil
	}
	at := time.Now().Truncate(time.Second)
	firsts := make(map[string]First, len(n.state.Firsts)+1)
	for k, v := range n.state.Firsts {
		firsts[k] = v
	}
	firsts[key] = First{Fingerprint: fingerprint, At: at}
	n.state.Firsts = firsts
	n.mu.Unlock()
	return at, n.persist()
}
