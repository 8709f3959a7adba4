package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/pkg/daemon"
	"github.com/powerjockey/powerjockey/pkg/inventory"
	"github.com/powerjockey/powerjockey/pkg/power/pdu"
)

// defaultConfigPath is where serve, check and the operator commands look
// for the configuration unless told otherwise.
const defaultConfigPath = "/etc/powerjockey/powerjockey.yaml"

type severity int

const (
	sevError severity = iota
	sevWarning
	sevNote
)

// finding is one line of check's report.
type finding struct {
	sev severity
	err *config.Error
}

func (f finding) String() string {
	e := *f.err
	switch f.sev {
	case sevWarning:
		e.Msg = "warning: " + e.Msg
	case sevNote:
		e.Msg = "note: " + e.Msg
	}
	return e.Error()
}

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check", "--config FILE [--probe] [--strict]", stderr)
	cfgPath := fs.String("config", defaultConfigPath, "configuration file to check")
	probe := fs.Bool("probe", false, "also ask each PDU for its sysObjectID and the state of its nodes' outlets")
	strict := fs.Bool("strict", false, "fail on warnings too (world-readable secrets, ...)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: powerjockey check --config FILE [--probe] [--strict]

Validates a configuration as the daemon would (every error with file:line:col
and key; a secret still holding a placeholder such as CHANGE-ME is an error,
weak IPMI cipher suites and v1.5 straight password are warnings), then checks what only this host can tell: each listen address can
be bound (skipped while a daemon holds the state_dir), each wol.interface
exists, each exec hook's command is on PATH. --probe asks every PDU who it is
and what its nodes' outlets are doing; a PDU that does not answer is an error.
Exit status: 0 fine, 1 errors (or warnings with --strict).

flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		var errs config.Errors
		if !errors.As(err, &errs) {
			return err
		}
		for _, e := range errs {
			fmt.Fprintln(stdout, e.Error())
		}
		fmt.Fprintf(stdout, "%s: %s\n", *cfgPath, plural(len(errs), "error"))
		return exitError(1)
	}

	c := &checker{cfg: cfg, loc: newLocator(cfg.Path)}
	for _, w := range cfg.Warnings {
		c.add(sevWarning, w)
	}
	c.runtime()
	if *probe {
		c.probe(ctx)
	}

	slices.SortStableFunc(c.findings, func(a, b finding) int {
		return cmp.Or(cmp.Compare(a.err.Line, b.err.Line), cmp.Compare(a.err.Col, b.err.Col))
	})
	var nerr, nwarn int
	for _, f := range c.findings {
		fmt.Fprintln(stdout, f.String())
		switch f.sev {
		case sevError:
			nerr++
		case sevWarning:
			nwarn++
		}
	}
	if c.table != "" {
		if len(c.findings) > 0 {
			fmt.Fprintln(stdout)
		}
		fmt.Fprint(stdout, c.table)
		fmt.Fprintln(stdout)
	}
	summary := fmt.Sprintf("%s: %s, %s", cfg.Path, plural(len(cfg.Nodes), "node"), plural(len(cfg.PDUs), "PDU"))
	switch {
	case nerr == 0 && nwarn == 0:
		fmt.Fprintf(stdout, "%s: OK\n", summary)
	default:
		fmt.Fprintf(stdout, "%s: %s, %s\n", summary, plural(nerr, "error"), plural(nwarn, "warning"))
	}
	if nerr > 0 || (*strict && nwarn > 0) {
		return exitError(1)
	}
	return nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// checker collects the findings of one check run.
type checker struct {
	cfg      *config.Config
	loc      *locator
	mu       sync.Mutex
	findings []finding
	table    string
}

func (c *checker) add(sev severity, e *config.Error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.findings = append(c.findings, finding{sev, e})
}

func (c *checker) addf(sev severity, key, format string, args ...any) {
	c.add(sev, c.loc.finding(key, fmt.Sprintf(format, args...)))
}

// runtime checks what the configuration cannot say about this host.
func (c *checker) runtime() {
	lock, running, err := stateDirLock(c.cfg.StateDir)
	switch {
	case running:
		c.addf(sevNote, "state_dir", "a powerjockey daemon holds %s: listen addresses were not test-bound (they are the daemon's)", c.cfg.StateDir)
	case err != nil:
		c.addf(sevWarning, "state_dir", "cannot take the state_dir lock to see whether a daemon runs: %v", err)
	case lock == nil:
		c.addf(sevNote, "state_dir", "%s does not exist yet; serve creates it", c.cfg.StateDir)
	}
	if lock != nil {
		// Held while binding: a daemon starting meanwhile fails cleanly
		// instead of racing with our test sockets.
		defer lock.Unlock()
	}
	if !running {
		c.bindChecks()
	}
	for i, n := range c.cfg.Nodes {
		path := fmt.Sprintf("nodes[%d]", i)
		if n.WoL != nil && n.WoL.Interface != "" {
			key := path + ".wol.interface"
			ifi, err := net.InterfaceByName(n.WoL.Interface)
			switch {
			case err != nil:
				c.addf(sevError, key, "no network interface %q on this host", n.WoL.Interface)
			case ifi.Flags&net.FlagUp == 0:
				c.addf(sevWarning, key, "interface %s is down: magic packets sent on it go nowhere", n.WoL.Interface)
			}
		}
		if e := n.Exec; e != nil {
			for _, h := range []struct{ key, cmd string }{
				{"on", e.On}, {"off", e.Off}, {"soft_off", e.SoftOff}, {"cycle", e.Cycle},
				{"reset", e.Reset}, {"diag", e.Diag}, {"status", e.Status},
			} {
				if msg := checkHookCommand(h.cmd); msg != "" {
					c.addf(sevError, path+".exec."+h.key, "%s", msg)
				}
			}
		}
	}
}

// stateDirLock tells whether a daemon holds stateDir's lock. When the lock
// is free it is returned held. A missing directory or lock file means no
// daemon ever ran there: not running, and nothing is created (a lock file
// created by root would keep the daemon's user from opening it).
func stateDirLock(stateDir string) (lock *daemon.Lock, running bool, err error) {
	if _, err := os.Stat(filepath.Join(stateDir, "lock")); errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	lock, err = daemon.LockStateDir(stateDir)
	if errors.Is(err, daemon.ErrLocked) {
		return nil, true, nil
	}
	return lock, false, err
}

// bindChecks binds each listen address for a moment, as the daemon will.
func (c *checker) bindChecks() {
	for i, n := range c.cfg.Nodes {
		c.bind(fmt.Sprintf("nodes[%d].ipmi.listen", i), "udp", n.IPMI.Listen)
	}
	if c.cfg.HTTP.Listen != "off" {
		c.bind("http.listen", "tcp", c.cfg.HTTP.Listen)
	}
	if c.cfg.Redfish.Listen != "" {
		c.bind("redfish.listen", "tcp", c.cfg.Redfish.Listen)
	}
}

func (c *checker) bind(key, network, addr string) {
	var err error
	if network == "udp" {
		var pc net.PacketConn
		if pc, err = net.ListenPacket("udp", addr); err == nil {
			pc.Close()
		}
	} else {
		var ln net.Listener
		if ln, err = net.Listen("tcp", addr); err == nil {
			ln.Close()
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, syscall.EADDRINUSE):
		c.addf(sevError, key, "cannot bind %s %s: address already in use (by another process)", network, addr)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		host, _, _ := net.SplitHostPort(addr)
		c.addf(sevError, key, "cannot bind %s %s: no interface of this host has address %s", network, addr, host)
	case errors.Is(err, syscall.EACCES):
		c.addf(sevWarning, key, "cannot bind %s %s here: ports below 1024 need CAP_NET_BIND_SERVICE (the systemd unit grants it to the daemon)", network, addr)
	default:
		c.addf(sevError, key, "cannot bind %s %s: %v", network, addr, err)
	}
}

// shellWords that make a hook's first word something other than a program.
var shellBuiltins = map[string]bool{
	".": true, ":": true, "[": true, "alias": true, "break": true, "cd": true, "continue": true,
	"echo": true, "eval": true, "exit": true, "export": true, "false": true, "printf": true,
	"pwd": true, "read": true, "return": true, "set": true, "shift": true, "test": true,
	"trap": true, "true": true, "ulimit": true, "umask": true, "unset": true, "wait": true,
	"!": true, "{": true, "(": true, "if": true, "for": true, "while": true, "until": true,
	"case": true, "source": true, "kill": true,
}

// checkHookCommand reports a hook whose program cannot be found; it is
// empty when the program exists or the command is too shell-like to tell
// (a builtin, a variable, a subshell).
func checkHookCommand(cmd string) string {
	prog := hookProgram(cmd)
	if prog == "" {
		return ""
	}
	if strings.Contains(prog, "/") {
		st, err := os.Stat(prog)
		switch {
		case err != nil:
			return fmt.Sprintf("command %s: %v", prog, errors.Unwrap(err))
		case st.IsDir() || st.Mode().Perm()&0o111 == 0:
			return fmt.Sprintf("command %s is not executable", prog)
		}
		return ""
	}
	if _, err := exec.LookPath(prog); err != nil {
		return fmt.Sprintf("command %q not found in PATH", prog)
	}
	return ""
}

// hookProgram is the program a /bin/sh -c command runs first, skipping
// variable assignments and exec/command; "" when it cannot be told.
func hookProgram(cmd string) string {
	words := strings.Fields(cmd)
	for len(words) > 0 {
		w := words[0]
		if i := strings.IndexByte(w, '='); i > 0 && !strings.ContainsAny(w[:i], "/'\"$") {
			words = words[1:] // VAR=value
			continue
		}
		if w == "exec" || w == "command" || w == "nohup" {
			words = words[1:]
			continue
		}
		break
	}
	if len(words) == 0 {
		return ""
	}
	w := words[0]
	if len(w) >= 2 && (w[0] == '\'' || w[0] == '"') && w[len(w)-1] == w[0] {
		w = w[1 : len(w)-1]
	}
	if shellBuiltins[w] || strings.HasPrefix(w, "-") || strings.ContainsAny(w, "$`()<>|;&'\"{}*?[]~") {
		return ""
	}
	return w
}

// probe asks each PDU for its identity and its nodes' outlets, in parallel.
func (c *checker) probe(ctx context.Context) {
	type outletRow struct {
		outlet int
		node   string
		out    pdu.Outlet
		ok     bool
	}
	type pduRow struct {
		name, address, model, sysObjectID, descr, err string
		outlets                                       []outletRow
	}
	rows := make([]pduRow, len(c.cfg.PDUs))
	var wg sync.WaitGroup
	for i, p := range c.cfg.PDUs {
		owner := map[int]string{}
		for _, n := range c.cfg.Nodes {
			if n.PDU != nil && n.PDU.Name == p.Name {
				for _, o := range n.PDU.Outlets {
					owner[o] = n.Name
				}
			}
		}
		outlets := make([]int, 0, len(owner))
		for o := range owner {
			outlets = append(outlets, o)
		}
		slices.Sort(outlets)
		wg.Add(1)
		go func() {
			defer wg.Done()
			row := pduRow{name: p.Name, address: p.Address}
			defer func() { rows[i] = row }()
			key := fmt.Sprintf("pdus[%d]", i)
			client, err := inventory.NewPDUClient(p, nil)
			if err != nil {
				row.err = err.Error()
				c.addf(sevError, key+".address", "%v", err)
				return
			}
			defer client.Close()
			// Identity, model detection and one outlet poll, each bounded
			// by the SNMP timeout and retries.
			budget := time.Duration(4*(*p.SNMP.Retries+1))*p.SNMP.Timeout.D() + time.Second
			pctx, cancel := context.WithTimeout(ctx, budget)
			defer cancel()
			res, err := client.Probe(pctx, outlets)
			if res != nil {
				row.sysObjectID = strings.TrimPrefix(res.SysObjectID, ".")
				row.descr = res.SysDescr
				row.model = res.Model
			}
			if errors.Is(err, pdu.ErrNotPDU) {
				row.err = err.Error()
				row.model = "refused"
				c.addf(sevError, key+".model", "%v", err)
				return
			}
			if err != nil {
				row.err = err.Error()
				c.addf(sevError, key+".address", "probe failed: %v", err)
				return
			}
			if p.Model == "auto" {
				row.model += " (detected)"
			} else if res.TableMissing != "" {
				// The configured row does not fit: say which one would.
				hint := "no row of the table is confirmed on it"
				auto := p
				auto.Model = "auto"
				if ac, aerr := inventory.NewPDUClient(auto, nil); aerr == nil {
					if m, derr := ac.DetectModel(pctx); derr == nil {
						hint = "its outlet table is that of model " + m.Name
					} else if errors.Is(derr, pdu.ErrNotPDU) {
						hint = derr.Error()
					}
					ac.Close()
				}
				c.addf(sevWarning, key+".model", "PDU %s is configured as %s, but %s; %s", p.Name, p.Model, res.TableMissing, hint)
			}
			for _, o := range outlets {
				out, ok := res.Outlets[o]
				row.outlets = append(row.outlets, outletRow{outlet: o, node: owner[o], out: out, ok: ok})
			}
		}()
	}
	wg.Wait()

	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PDU\tADDRESS\tMODEL\tSYSOBJECTID\tDESCRIPTION")
	for _, r := range rows {
		if r.err != "" && r.sysObjectID == "" {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\tno answer\n", r.name, r.address)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.name, r.address, dash(r.model), dash(r.sysObjectID), dash(oneLine(r.descr)))
	}
	tw.Flush()
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	header := "\nPDU\tOUTLET\tNODE\tSTATE\tWATTS\n"
	for _, r := range rows {
		for _, o := range r.outlets {
			state, watts := "?", "-"
			if o.ok {
				state = o.out.State.String()
				if o.out.Watts != nil {
					watts = fmt.Sprintf("%.0f", *o.out.Watts)
				}
			}
			fmt.Fprint(tw, header)
			header = ""
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", r.name, o.outlet, o.node, state, watts)
		}
	}
	tw.Flush()
	c.table = b.String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}
