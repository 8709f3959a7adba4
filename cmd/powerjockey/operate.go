package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/pkg/daemon"
	"github.com/powerjockey/powerjockey/pkg/inventory"
	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
)

// targetFlags say where the running daemon is: its configuration (whose
// http.listen and state_dir are used) or its URL.
type targetFlags struct {
	config    string
	url       string
	tokenFile string
	caFile    string
	timeout   time.Duration
}

func (t *targetFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.config, "config", "", "the daemon's configuration (its http.listen is the API; default "+defaultConfigPath+")")
	fs.StringVar(&t.url, "url", "", "the daemon's HTTP API, e.g. http://127.0.0.1:9623 (instead of --config)")
	fs.StringVar(&t.tokenFile, "token-file", "", "a file holding a bearer token (one of http.tokens), for a daemon that asks for credentials")
	fs.StringVar(&t.caFile, "cacert", "", "the CA that signed the daemon's HTTPS certificate (default with --config: its tls_cert, or state_dir/http/ca.crt)")
	fs.DurationVar(&t.timeout, "timeout", time.Minute, "give up after this long")
}

// target is a resolved daemon location.
type target struct {
	base     string // http://host:port or https://host:port
	cfgPath  string // "" when only --url was given
	stateDir string // "" when unknown
	caFile   string // "" for the system's roots
	token    string // bearer token, "" for none
}

// resolve finds the daemon's API from the flags. Only http.listen and
// state_dir are read from the configuration: an operator who cannot read
// the password files can still ask the daemon.
func (t *targetFlags) resolve() (target, error) {
	var tg target
	if t.tokenFile != "" {
		b, err := os.ReadFile(t.tokenFile)
		if err != nil {
			return tg, fmt.Errorf("--token-file: %w", err)
		}
		tg.token = strings.TrimSpace(string(b))
	}
	tg.caFile = t.caFile
	cfgPath, explicit := t.config, t.config != ""
	if !explicit {
		cfgPath = defaultConfigPath
	}
	if t.url != "" {
		u, err := url.Parse(t.url)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return tg, fmt.Errorf("--url: want http://HOST:PORT, got %q", t.url)
		}
		tg.base = strings.TrimRight(t.url, "/")
		if !explicit {
			return tg, nil
		}
	}
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		// Without --config, a missing or unreadable default configuration
		// (an operator outside group powerjockey) means the default API.
		if !explicit {
			if tg.base == "" {
				tg.base = "http://" + config.DefaultHTTPListen
			}
			return tg, nil
		}
		return tg, fmt.Errorf("read config: %w", err)
	}
	var c struct {
		StateDir string `yaml:"state_dir"`
		HTTP     struct {
			Listen  string `yaml:"listen"`
			TLS     *bool  `yaml:"tls"`
			TLSCert string `yaml:"tls_cert"`
		} `yaml:"http"`
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		return tg, fmt.Errorf("%s: %w (run powerjockey check --config %s)", cfgPath, err, cfgPath)
	}
	tg.cfgPath, tg.stateDir = cfgPath, c.StateDir
	if tg.stateDir == "" {
		tg.stateDir = config.DefaultStateDir
	}
	if tg.base != "" {
		return tg, nil
	}
	listen := c.HTTP.Listen
	if listen == "" {
		listen = config.DefaultHTTPListen
	}
	if listen == "off" {
		return tg, fmt.Errorf("%s: http.listen is off: the daemon serves no API to talk to (enable it, or stop the daemon and use --direct)", cfgPath)
	}
	ap, err := netip.ParseAddrPort(listen)
	if err != nil {
		return tg, fmt.Errorf("%s: http.listen: want IP:port, got %q", cfgPath, listen)
	}
	addr := ap.Addr()
	if addr.IsUnspecified() {
		// Listening everywhere includes loopback.
		addr = netip.IPv6Loopback()
		if ap.Addr().Is4() {
			addr = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		}
	}
	scheme := "http"
	if (config.HTTP{Listen: listen, TLS: c.HTTP.TLS, TLSCert: c.HTTP.TLSCert}).TLSEnabled() {
		scheme = "https"
		if tg.caFile == "" {
			tg.caFile = filepath.Join(tg.stateDir, "http", "ca.crt")
			if c.HTTP.TLSCert != "" {
				tg.caFile = c.HTTP.TLSCert
			}
		}
	}
	tg.base = scheme + "://" + netip.AddrPortFrom(addr, ap.Port()).String()
	return tg, nil
}

// client is the API client for the target: its CA, its token.
func (tg target) client() (*apiClient, error) {
	c := newAPIClient(tg.base)
	c.token = tg.token
	if tg.caFile != "" && strings.HasPrefix(tg.base, "https:") {
		pem, err := os.ReadFile(tg.caFile)
		if err != nil {
			return nil, fmt.Errorf("the daemon serves HTTPS, and its CA cannot be read: %w (give --cacert FILE)", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate", tg.caFile)
		}
		c.hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}
	}
	return c, nil
}

// errUnreachable is an API that does not answer at all.
var errUnreachable = errors.New("daemon not reachable")

type apiClient struct {
	base  string
	token string
	hc    *http.Client
}

func newAPIClient(base string) *apiClient {
	return &apiClient{base: base, hc: &http.Client{}}
}

// call sends a request and decodes the JSON answer into out; API errors
// come back with the daemon's message.
func (c *apiClient) call(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	// The API refuses POSTs that could come from a cross-site page; this
	// header (or the JSON body) says the request is not one.
	req.Header.Set("X-Requested-By", "powerjockey")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return fmt.Errorf("%w at %s: %v", errUnreachable, c.base, op.Err)
		}
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if resp.StatusCode == http.StatusUnauthorized {
			if c.token == "" {
				return &apiError{status: resp.StatusCode, msg: "the daemon asks for credentials: give --token-file FILE (a file holding one of its http.tokens)"}
			}
			return &apiError{status: resp.StatusCode, msg: "the daemon refused the token of --token-file"}
		}
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return &apiError{status: resp.StatusCode, msg: e.Error}
		}
		return &apiError{status: resp.StatusCode, msg: strings.TrimSpace(string(data))}
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = data
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: unexpected answer: %w", method, c.base+path, err)
	}
	return nil
}

type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

// unreachableHelp explains an unreachable daemon, telling whether it runs.
func unreachableHelp(err error, tg target, cmd string) error {
	if !errors.Is(err, errUnreachable) {
		return err
	}
	if tg.stateDir == "" {
		return fmt.Errorf("%w (is powerjockey serve running? give --config to tell, and to use --direct)", err)
	}
	lock, running, lerr := stateDirLock(tg.stateDir)
	if lock != nil {
		lock.Unlock()
	}
	switch {
	case running:
		return fmt.Errorf("%w, but a powerjockey daemon holds %s: is its http.listen different from %s's?", err, tg.stateDir, tg.cfgPath)
	case lerr != nil:
		return fmt.Errorf("%w; cannot tell whether a daemon runs: %v", err, lerr)
	case cmd != "":
		return fmt.Errorf("%w, and no daemon holds %s: powerjockey is not running.\nStart it (systemctl start powerjockey), or operate the node in-process with:\n  %s --direct", err, tg.stateDir, cmd)
	default:
		return fmt.Errorf("%w, and no daemon holds %s: powerjockey is not running (systemctl start powerjockey)", err, tg.stateDir)
	}
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("status", "[--config FILE | --url URL] [--json]", stderr)
	var tf targetFlags
	tf.register(fs)
	asJSON := fs.Bool("json", false, "print the daemon's JSON (GET /api/v1/nodes) instead of a table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	tg, err := tf.resolve()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, tf.timeout)
	defer cancel()
	c, err := tg.client()
	if err != nil {
		return err
	}
	var raw json.RawMessage
	if err := c.call(ctx, "GET", "/api/v1/nodes", nil, &raw); err != nil {
		return unreachableHelp(err, tg, "")
	}
	if *asJSON {
		var b bytes.Buffer
		if err := json.Indent(&b, raw, "", "  "); err != nil {
			return err
		}
		b.WriteString("\n")
		_, err := stdout.Write(b.Bytes())
		return err
	}
	var nodes []node.View
	if err := json.Unmarshal(raw, &nodes); err != nil {
		return fmt.Errorf("unexpected answer from %s: %w", tg.base, err)
	}
	printStatusTable(stdout, nodes, time.Now())
	return nil
}

func printStatusTable(w io.Writer, nodes []node.View, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tPOWER\tSOURCE\tWATTS\tLAST ACTION\tRESULT\tMANUAL ACTION WAITING\tBUSY")
	var notes []string
	for _, n := range nodes {
		last, result := "-", "-"
		if a := n.LastAction; a != nil {
			last = fmt.Sprintf("%s via %s at %s", a.Action, a.Means, clock(a.At, now))
			result = string(a.Result)
			if a.Result != node.ResultRunning && a.Duration > 0 {
				result += fmt.Sprintf(" (%s)", roundDuration(a.Duration))
			}
			if a.Error != "" {
				notes = append(notes, fmt.Sprintf("%s: last action failed: %s", n.Name, a.Error))
			}
		}
		manual := "-"
		if m := n.Manual; m != nil {
			manual = fmt.Sprintf("power %s since %s", strings.ToUpper(m.Action.String()), clock(m.Since, now))
		}
		busy := "-"
		if n.Busy {
			busy = "yes"
		}
		if n.StatusErr != "" {
			notes = append(notes, fmt.Sprintf("%s: status: %s", n.Name, n.StatusErr))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.Name, n.Power, dash(string(n.Source)), watts(n.Watts), last, result, manual, busy)
	}
	tw.Flush()
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, s := range notes {
			fmt.Fprintln(w, s)
		}
	}
}

func watts(w *float64) string {
	if w == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f", *w)
}

// clock formats t briefly: the time of day when it is today, else the date too.
func clock(t, now time.Time) string {
	t = t.Local()
	if y, m, d := t.Date(); y == now.Local().Year() && m == now.Local().Month() && d == now.Local().Day() {
		return t.Format("15:04:05")
	}
	return t.Format("2006-01-02 15:04")
}

// describeNode prints one node's state, as power NODE status shows it.
func describeNode(w io.Writer, n node.View, now time.Time) {
	state := n.Power.String()
	var details []string
	if n.Source != "" {
		details = append(details, "source "+string(n.Source))
	}
	if n.Watts != nil {
		details = append(details, watts(n.Watts)+" W")
	}
	if len(details) > 0 {
		state += " (" + strings.Join(details, ", ") + ")"
	}
	fmt.Fprintf(w, "%s: power %s\n", n.Name, state)
	if n.StatusErr != "" {
		fmt.Fprintf(w, "  status error: %s\n", n.StatusErr)
	}
	if a := n.LastAction; a != nil {
		line := fmt.Sprintf("  last action: %s via %s at %s: %s", a.Action, a.Means, clock(a.At, now), a.Result)
		if a.Result != node.ResultRunning && a.Duration > 0 {
			line += fmt.Sprintf(" in %s", roundDuration(a.Duration))
		}
		if a.Error != "" {
			line += ": " + a.Error
		}
		fmt.Fprintln(w, line)
	}
	if m := n.Manual; m != nil {
		fmt.Fprintf(w, "  manual action waiting: power %s since %s (a human must do it, then: powerjockey power %s acknowledge)\n", strings.ToUpper(m.Action.String()), clock(m.Since, now), n.Name)
	}
	if n.Busy {
		fmt.Fprintln(w, "  busy: background steps of the last action are running")
	}
}

// parseInterspersed parses flags that may come before, between or after
// positional arguments ("power compute-0 on --config F"), and returns the
// positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func runPower(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("power", "NODE on|off|soft|cycle|reset|diag|status|acknowledge [--config FILE | --url URL] [--direct]", stderr)
	var tf targetFlags
	tf.register(fs)
	direct := fs.Bool("direct", false, "no daemon runs: build the node from --config in this process (holding the state_dir lock), act, wait for the action's background steps, exit")
	var lf logFlags
	lf.register(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: powerjockey power NODE on|off|soft|cycle|reset|diag|status|acknowledge [--config FILE | --url URL] [--direct]

Operates a node through the running daemon's API, so the daemon serializes,
persists and logs the action as it does for Ironic. status prints the node's
state; acknowledge clears its manual action (a human did it). With --direct,
when no daemon runs, the node is built in this process from the configuration.

flags:
`)
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		fs.Usage()
		return errors.New("want a node name and an action")
	}
	name, verb := pos[0], pos[1]
	if verb == "ack" {
		verb = "acknowledge"
	}
	var action power.Action
	if verb != "status" && verb != "acknowledge" {
		if action, err = power.ParseAction(verb); err != nil {
			return fmt.Errorf("%w (or status, acknowledge)", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, tf.timeout)
	defer cancel()
	if *direct {
		if tf.url != "" {
			return errors.New("--direct builds the node from --config; --url makes no sense with it")
		}
		log, err := lf.logger(stderr)
		if err != nil {
			return err
		}
		return powerDirect(ctx, tf.config, name, verb, action, log, stdout, stderr)
	}

	tg, err := tf.resolve()
	if err != nil {
		return err
	}
	c, err := tg.client()
	if err != nil {
		return err
	}
	path := "/api/v1/nodes/" + url.PathEscape(name)
	var n node.View
	switch verb {
	case "status":
		err = c.call(ctx, "GET", path, nil, &n)
	case "acknowledge":
		err = c.call(ctx, "POST", path+"/acknowledge", nil, &n)
	default:
		err = c.call(ctx, "POST", path+"/power", map[string]string{"action": verb}, &n)
	}
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.status == http.StatusNotFound {
			return fmt.Errorf("no node %q on the daemon at %s", name, tg.base)
		}
		cmd := fmt.Sprintf("powerjockey power %s %s --config %s", name, verb, tg.cfgPath)
		if tg.cfgPath == "" {
			cmd = ""
		}
		return unreachableHelp(err, tg, cmd)
	}
	switch verb {
	case "status":
	case "acknowledge":
		fmt.Fprintf(stdout, "%s: manual action acknowledged\n", name)
	default:
		fmt.Fprintln(stdout, actionLine(name, verb, n.LastAction))
	}
	describeNode(stdout, n, time.Now())
	return nil
}

func actionLine(name, verb string, a *node.ActionRecord) string {
	s := fmt.Sprintf("%s: power %s accepted", name, verb)
	if a == nil {
		return s
	}
	s += " via " + a.Means
	if a.Result == node.ResultRunning {
		s += " (its background steps are running)"
	}
	return s
}

// powerDirect operates a node in-process, holding the state_dir lock, when
// no daemon runs.
func powerDirect(ctx context.Context, cfgPath, name, verb string, action power.Action, log *slog.Logger, stdout, stderr io.Writer) error {
	if cfgPath == "" {
		cfgPath = defaultConfigPath
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	if err := sameOwner(cfg.StateDir); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// The state directory's lock, as the daemon takes it: the node's
	// state and its PDU are this process's alone until it exits.
	lock, err := daemon.LockStateDir(cfg.StateDir)
	if errors.Is(err, daemon.ErrLocked) {
		return fmt.Errorf("a powerjockey daemon is running (it holds %s): drop --direct to operate the node through it", cfg.StateDir)
	}
	if err != nil {
		return err
	}
	defer lock.Unlock()
	store, err := node.OpenStore(cfg.StateDir)
	if err != nil {
		return err
	}
	// The inventory alone: no metrics, no IPMI endpoints, no sockets but
	// what the node's means need.
	inv := inventory.New(cfg, store, inventory.Options{Logger: log})
	defer inv.Close()
	nd, err := inv.OpenNode(ctx, name)
	if err != nil {
		return err
	}
	switch verb {
	case "status":
	case "acknowledge":
		if err := nd.Acknowledge(node.WithRequester(ctx, node.Requester{Channel: node.ChannelCLI})); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: manual action acknowledged\n", name)
	default:
		if err := nd.Power(node.WithRequester(ctx, node.Requester{Channel: node.ChannelCLI}), action); err != nil {
			return err
		}
		s := nd.Snapshot()
		fmt.Fprintln(stdout, actionLine(name, verb, s.Persisted.LastAction))
		if s.Busy {
			fmt.Fprintln(stderr, "waiting for the action's background steps (delays, Wake-on-LAN repeats) to finish...")
			if err := waitIdle(ctx, nd); err != nil {
				return fmt.Errorf("the background steps of power %s %s did not finish: %w", verb, name, err)
			}
		}
	}
	r, rerr := nd.Refresh(ctx)
	s := nd.Snapshot()
	describeNode(stdout, node.NewView(s, r, rerr), time.Now())
	if a := s.Persisted.LastAction; action != 0 && a != nil && a.Result == node.ResultError {
		return exitError(1)
	}
	return nil
}

// waitIdle waits until the node's last action has no background steps left.
func waitIdle(ctx context.Context, nd *node.Node) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for nd.Snapshot().Busy {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// sameOwner refuses to write into a state directory that belongs to
// another user (the daemon's, under systemd): files created there by root
// would be unreadable by the daemon and keep its nodes from starting.
func sameOwner(stateDir string) error {
	st, err := os.Stat(stateDir)
	if err != nil {
		return nil // created by this process, for this user
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || int(sys.Uid) == os.Geteuid() {
		return nil
	}
	who := fmt.Sprintf("uid %d", sys.Uid)
	if u, err := user.LookupId(fmt.Sprint(sys.Uid)); err == nil {
		who = u.Username
	}
	return fmt.Errorf("state_dir %s belongs to %s: run --direct as that user (sudo -u %s powerjockey power ...), so that the daemon can read what it writes", stateDir, who, who)
}

// roundDuration shows an action's duration to the millisecond; one that
// took less than a millisecond (a manual action, a no-op) shows as 1ms
// rather than "0s", which reads like "never ran".
func roundDuration(d time.Duration) time.Duration {
	return max(d.Round(time.Millisecond), time.Millisecond)
}
