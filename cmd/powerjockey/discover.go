package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/pkg/inventory"
	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
	"github.com/powerjockey/powerjockey/pkg/power/pdu"
)

func runDiscover(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("discover", "--pdu ADDRESS [--snmp-version V --community C ...] | --config FILE", stderr)
	addr := fs.String("pdu", "", "address (host[:port]) of a PDU to read")
	cfgPath := fs.String("config", "", "compare this configuration with what its PDUs report")
	name := fs.String("name", "pdu1", "the PDU's name in the printed configuration skeleton")
	model := fs.String("model", "auto", "model table row, or auto to detect it")
	version := fs.String("snmp-version", "2c", "SNMP version: 1, 2c or 3")
	community := fs.String("community", "public", "SNMP v1/v2c community (read)")
	user := fs.String("snmp-user", "", "SNMPv3 user")
	authProto := fs.String("auth-protocol", "", "SNMPv3 authentication: MD5, SHA, SHA224, SHA256, SHA384 or SHA512")
	authPass := fs.String("auth-passphrase", "", "SNMPv3 authentication passphrase")
	privProto := fs.String("priv-protocol", "", "SNMPv3 privacy: DES, AES, AES192, AES256, AES192C or AES256C")
	privPass := fs.String("priv-passphrase", "", "SNMPv3 privacy passphrase")
	contextName := fs.String("snmp-context", "", "SNMPv3 context name")
	timeout := fs.Duration("timeout", 2*time.Second, "SNMP timeout per request")
	retries := fs.Int("retries", 1, "SNMP retries")
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: powerjockey discover --pdu ADDRESS [--snmp-version V --community C | --snmp-user U ...]
       powerjockey discover --config FILE

--pdu reads a PDU: its model (detected unless --model), each outlet's number,
name, state and draw, and prints them with a configuration skeleton (pdus:
and nodes:, one node per outlet name, several outlets for one machine's
power supplies). --config reads every PDU of a configuration and warns where
the configuration and the PDUs disagree: an outlet the PDU does not have, an
outlet named after another host, a node recorded on whose outlets are off or
draw nothing (and the reverse). Both only read: nothing is ever switched.
Exit status: 0 fine (warnings included), 1 a PDU could not be read.

flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || (*addr == "") == (*cfgPath == "") {
		fs.Usage()
		if fs.NArg() > 0 {
			return fmt.Errorf("unexpected argument %q", fs.Arg(0))
		}
		return errors.New("give either --pdu or --config")
	}
	if *cfgPath != "" {
		return discoverConfig(ctx, *cfgPath, stdout)
	}
	address := *addr
	if _, _, err := net.SplitHostPort(address); err != nil {
		address = net.JoinHostPort(strings.Trim(address, "[]"), strconv.Itoa(config.DefaultSNMPPort))
	}
	if *model != "auto" {
		if _, ok := pdu.Lookup(*model); !ok {
			return fmt.Errorf("--model: unknown PDU model %q (known: %s)", *model, strings.Join(pdu.Names(), ", "))
		}
	}
	snmp := pdu.SNMPConfig{Version: *version, CommunityRead: *community, CommunityWrite: *community,
		User: *user, AuthProtocol: *authProto, AuthPassphrase: *authPass,
		PrivProtocol: *privProto, PrivPassphrase: *privPass, ContextName: *contextName,
		Timeout: *timeout, Retries: *retries}
	c, err := pdu.New(pdu.Config{Name: *name, Address: address, Model: *model, SNMP: snmp})
	if err != nil {
		return err
	}
	defer c.Close()
	d, err := discoverPDU(ctx, c, snmp)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "PDU %s: model %s", address, d.model.Name)
	if *model == "auto" {
		fmt.Fprint(stdout, " (detected)")
	}
	fmt.Fprintf(stdout, ", sysObjectID %s, %s\n", dash(d.sysObjectID), plural(len(d.outlets), "outlet"))
	if descr := oneLine(d.sysDescr); descr != "" {
		fmt.Fprintf(stdout, "  %s\n", descr)
	}
	fmt.Fprintln(stdout)
	writeOutletTable(stdout, d, nil)
	fmt.Fprintln(stdout)
	writeSkeleton(stdout, *name, address, *version, *community, *user, *authProto, *privProto, d)
	return nil
}

// discovered is what one PDU reported.
type discovered struct {
	model       *pdu.Model
	sysObjectID string
	sysDescr    string
	outlets     []pdu.OutletInfo
}

// discoverPDU reads the PDU's identity and outlets, bounded by the SNMP
// timeout and retries.
func discoverPDU(ctx context.Context, c *pdu.Client, snmp pdu.SNMPConfig) (*discovered, error) {
	budget := time.Duration(16*(snmp.Retries+1))*snmp.Timeout + 5*time.Second
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	res, err := c.Probe(ctx, nil)
	if err != nil {
		return nil, err
	}
	m, outlets, err := c.Discover(ctx)
	if err != nil {
		return nil, err
	}
	if len(outlets) == 0 {
		why := fmt.Sprintf("its outlet status table (%s) holds no outlet", pdu.TablePrefix(m.Status.OID))
		if res.TableMissing != "" {
			why = res.TableMissing
		}
		return nil, fmt.Errorf("pdu %s: model %s, but %s", c.Name(), m.Name, why)
	}
	return &discovered{model: m, sysObjectID: res.SysObjectID, sysDescr: res.SysDescr, outlets: outlets}, nil
}

// writeOutletTable prints one line per outlet; owner, when set, names the
// configured node of each outlet.
func writeOutletTable(w io.Writer, d *discovered, owner map[int]string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "OUTLET\tNAME\tSTATE\tWATTS\tNODE")
	for _, o := range d.outlets {
		node := nodeNameFor(o.Name)
		if owner != nil {
			node = owner[o.Number]
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", o.Number, dash(oneLine(o.Name)), outletState(o.Outlet), wattsText(o.Watts), dash(node))
	}
	tw.Flush()
}

func outletState(o pdu.Outlet) string {
	s := o.State.String()
	if o.Pending != power.Unknown {
		s += " (pending " + o.Pending.String() + ")"
	}
	return s
}

func wattsText(w *float64) string {
	if w == nil {
		return "-"
	}
	return strconv.FormatFloat(*w, 'f', -1, 64)
}

// writeSkeleton prints a configuration for the PDU and one node per
// outlet name.
func writeSkeleton(w io.Writer, name, address, version, community, user, authProto, privProto string, d *discovered) {
	fmt.Fprintf(w, "# Configuration skeleton (powerjockey discover --pdu %s). Nodes are named after\n", address)
	fmt.Fprintln(w, "# outlet names; set each node's ipmi listen address, credentials and mac.")
	fmt.Fprintln(w, "pdus:")
	fmt.Fprintf(w, "  - name: %s\n", name)
	fmt.Fprintf(w, "    address: %q\n", address)
	fmt.Fprintf(w, "    model: %s\n", d.model.Name)
	fmt.Fprintf(w, "    outlets: %d\n", slices.MaxFunc(d.outlets, func(a, b pdu.OutletInfo) int { return cmp.Compare(a.Number, b.Number) }).Number)
	fmt.Fprintln(w, "    snmp:")
	fmt.Fprintf(w, "      version: %q\n", version)
	if version == "3" {
		fmt.Fprintf(w, "      user: %q\n", user)
		if authProto != "" {
			fmt.Fprintf(w, "      auth_protocol: %s\n      auth_passphrase_file: %s-auth.secret\n", authProto, name)
		}
		if privProto != "" {
			fmt.Fprintf(w, "      priv_protocol: %s\n      priv_passphrase_file: %s-priv.secret\n", privProto, name)
		}
	} else {
		fmt.Fprintf(w, "      community: %q   # switching may need another: community_write\n", community)
	}
	nodes, unnamed := groupOutlets(d.outlets)
	fmt.Fprintln(w, "nodes:")
	if len(nodes) == 0 {
		fmt.Fprintln(w, "  [] # no outlet carries a name")
	}
	for i, n := range nodes {
		fmt.Fprintf(w, "  - name: %s\n", n.name)
		fmt.Fprintf(w, "    pdu: {name: %s, outlets: %s}\n", name, intList(n.outlets))
		fmt.Fprintf(w, "    ipmi: {listen: \"0.0.0.0:%d\", username: admin, password_file: %s.pw}\n", 6230+i, n.name)
		fmt.Fprintln(w, "    # mac: \"\"   # the NIC that PXE-boots")
	}
	for _, o := range unnamed {
		label := ""
		if o.Name != "" {
			label = fmt.Sprintf(" %q", o.Name)
		}
		fmt.Fprintf(w, "  # outlet %d%s (%s, %s W): no machine name\n", o.Number, label, outletState(o.Outlet), wattsText(o.Watts))
	}
}

func intList(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// namedNode is a machine derived from outlet names.
type namedNode struct {
	name    string
	outlets []int
}

// groupOutlets gathers outlets by the machine their names point to (a
// machine with two power supplies has two outlets), in outlet order.
func groupOutlets(outlets []pdu.OutletInfo) (nodes []namedNode, unnamed []pdu.OutletInfo) {
	index := map[string]int{}
	for _, o := range outlets {
		n := nodeNameFor(o.Name)
		if n == "" {
			unnamed = append(unnamed, o)
			continue
		}
		i, ok := index[n]
		if !ok {
			i = len(nodes)
			index[n] = i
			nodes = append(nodes, namedNode{name: n})
		}
		nodes[i].outlets = append(nodes[i].outlets, o.Number)
	}
	return nodes, unnamed
}

var (
	// factoryName matches names PDUs ship with or placeholders: "Outlet 3",
	// "OUTLET_07", "3", "Socket 2", "spare".
	factoryName = regexp.MustCompile(`(?i)^((outlet|socket|receptacle|port|plug|out|o)?[\s_#-]*\d+|spare|unused|free|empty|none|n/a|-+)$`)
	// psuSuffix matches a power-supply designation ending a name:
	// "-PSU1", " PS2", "_psu-a", " (PSU 2)", " power supply 1".
	psuSuffix = regexp.MustCompile(`(?i)[\s._-]*\(?\s*(psu|ps|pwr|power[\s_-]*supply|supply)[\s_-]*([0-9]+|[ab])\s*\)?$`)
	nonName   = regexp.MustCompile(`[^a-z0-9._-]+`)
)

// nodeNameFor derives a node name from an outlet name: the part before a
// ':' (a common "host:psu" label), without a power-supply suffix,
// lower-cased, other characters replaced by '-'. "" for factory names,
// placeholders, empty names and names with non-ASCII letters.
func nodeNameFor(outlet string) string {
	s := strings.TrimSpace(outlet)
	if before, _, ok := strings.Cut(s, ":"); ok {
		s = strings.TrimSpace(before)
	}
	if factoryName.MatchString(s) {
		return ""
	}
	s = psuSuffix.ReplaceAllString(s, "")
	if strings.IndexFunc(s, func(r rune) bool { return r > unicode.MaxASCII }) >= 0 {
		return "" // no faithful node name (they are ASCII): left to the operator
	}
	s = strings.Trim(nonName.ReplaceAllString(strings.ToLower(s), "-"), "-._")
	if len(s) > 63 {
		s = strings.TrimRight(s[:63], "-._")
	}
	if s == "" || factoryName.MatchString(s) {
		return ""
	}
	return s
}

// sameHost reports whether node name and an outlet's derived name are the
// same machine (equal, or equal up to the first '.', as a short and a
// fully qualified host name).
func sameHost(node, derived string) bool {
	a, b := strings.ToLower(node), strings.ToLower(derived)
	if a == b {
		return true
	}
	short := func(s string) string { h, _, _ := strings.Cut(s, "."); return h }
	return short(a) == short(b)
}

// discoverConfig reads every PDU of a configuration and reports where the
// configuration and the PDUs disagree.
func discoverConfig(ctx context.Context, path string, stdout io.Writer) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	loc := newLocator(cfg.Path)
	results := make([]*discovered, len(cfg.PDUs))
	errs := make([]error, len(cfg.PDUs))
	var wg sync.WaitGroup
	for i, p := range cfg.PDUs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := inventory.NewPDUClient(p, nil)
			if err != nil {
				errs[i] = err
				return
			}
			defer c.Close()
			s := p.SNMP
			results[i], errs[i] = discoverPDU(ctx, c, pdu.SNMPConfig{Timeout: s.Timeout.D(), Retries: *s.Retries})
		}()
	}
	wg.Wait()

	var findings []finding
	add := func(sev severity, key, format string, args ...any) {
		findings = append(findings, finding{sev: sev, err: loc.finding(key, fmt.Sprintf(format, args...))})
	}
	nodeIndex := map[string]int{}
	for i, n := range cfg.Nodes {
		nodeIndex[n.Name] = i
	}
	var tables strings.Builder
	for i, p := range cfg.PDUs {
		key := fmt.Sprintf("pdus[%d]", i)
		d := results[i]
		if errs[i] != nil {
			add(sevError, key, "%v", errs[i])
			continue
		}
		owner := map[int]string{}
		for _, n := range cfg.Nodes {
			if n.PDU != nil && n.PDU.Name == p.Name {
				for _, o := range n.PDU.Outlets {
					owner[o] = n.Name
				}
			}
		}
		byNumber := map[int]pdu.OutletInfo{}
		for _, o := range d.outlets {
			byNumber[o.Number] = o
		}
		if last := d.outlets[len(d.outlets)-1].Number; p.Outlets > 0 && p.Outlets != last {
			add(sevWarning, key+".outlets", "PDU %s is configured with %d outlets, it reports %s", p.Name, p.Outlets, outletRange(d.outlets))
		}
		fmt.Fprintf(&tables, "PDU %s (%s): model %s, %s\n", p.Name, p.Address, d.model.Name, plural(len(d.outlets), "outlet"))
		writeOutletTable(&tables, d, owner)
		fmt.Fprintln(&tables)

		for ni, n := range cfg.Nodes {
			if n.PDU == nil || n.PDU.Name != p.Name {
				continue
			}
			nkey := fmt.Sprintf("nodes[%d].pdu.outlets", ni)
			var watts float64
			metered, anyOn, known := true, false, true
			for _, o := range n.PDU.Outlets {
				out, ok := byNumber[o]
				if !ok {
					add(sevWarning, nkey, "node %s: PDU %s reports no outlet %d (its outlets: %s)", n.Name, p.Name, o, outletRange(d.outlets))
					known = false
					continue
				}
				if derived := nodeNameFor(out.Name); derived != "" && !sameHost(n.Name, derived) {
					other := ""
					for _, m := range cfg.Nodes {
						if m.Name != n.Name && sameHost(m.Name, derived) {
							other = fmt.Sprintf(", the name of node %s", m.Name)
						}
					}
					add(sevWarning, nkey, "node %s: outlet %d of PDU %s is named %q%s", n.Name, o, p.Name, out.Name, other)
				}
				switch out.State {
				case power.StateOn:
					anyOn = true
				case power.Unknown:
					known = false
				}
				if out.Watts == nil {
					metered = false
				} else {
					watts += *out.Watts
				}
			}
			if !known {
				continue
			}
			st, ok, err := node.ReadState(cfg.StateDir, n.Name)
			if err != nil {
				add(sevWarning, fmt.Sprintf("nodes[%d]", ni), "%v", err)
				continue
			}
			if !ok {
				continue
			}
			wattsOn := config.DefaultWattsOn
			if n.Status.WattsOn != nil {
				wattsOn = *n.Status.WattsOn
			}
			draws := anyOn && (!metered || watts >= wattsOn)
			switch {
			case st.Power == power.StateOn && !anyOn:
				add(sevWarning, nkey, "node %s is recorded on, but its outlets are off", n.Name)
			case st.Power == power.StateOn && !draws:
				add(sevWarning, nkey, "node %s is recorded on, but its outlets draw %s W (below watts_on %s W)", n.Name, wattsText(&watts), wattsText(&wattsOn))
			case st.Power == power.StateOff && draws && metered:
				add(sevWarning, nkey, "node %s is recorded off, but its outlets draw %s W", n.Name, wattsText(&watts))
			}
		}
		for _, o := range d.outlets {
			if _, used := owner[o.Number]; used {
				continue
			}
			derived := nodeNameFor(o.Name)
			if derived == "" || o.State != power.StateOn {
				continue
			}
			hint := ""
			if _, ok := nodeIndex[derived]; ok {
				hint = fmt.Sprintf(" (node %s is configured on other outlets)", derived)
			}
			add(sevNote, key, "PDU %s outlet %d, named %q, is on (%s W) but no node uses it%s", p.Name, o.Number, o.Name, wattsText(o.Watts), hint)
		}
	}

	slices.SortStableFunc(findings, func(a, b finding) int {
		return cmp.Or(cmp.Compare(a.err.Line, b.err.Line), cmp.Compare(a.err.Col, b.err.Col))
	})
	var nerr, nwarn int
	for _, f := range findings {
		fmt.Fprintln(stdout, f.String())
		switch f.sev {
		case sevError:
			nerr++
		case sevWarning:
			nwarn++
		}
	}
	if len(findings) > 0 && tables.Len() > 0 {
		fmt.Fprintln(stdout)
	}
	fmt.Fprint(stdout, tables.String())
	fmt.Fprintf(stdout, "%s: %s, %s: %s, %s\n", cfg.Path, plural(len(cfg.Nodes), "node"), plural(len(cfg.PDUs), "PDU"),
		plural(nerr, "error"), plural(nwarn, "warning"))
	if nerr > 0 {
		return exitError(1)
	}
	return nil
}

// outletRange describes the outlet numbers a PDU reported.
func outletRange(outlets []pdu.OutletInfo) string {
	if len(outlets) == 0 {
		return "none"
	}
	first, last := outlets[0].Number, outlets[len(outlets)-1].Number
	if last-first+1 == len(outlets) {
		return fmt.Sprintf("%d-%d", first, last)
	}
	nums := make([]int, len(outlets))
	for i, o := range outlets {
		nums[i] = o.Number
	}
	return intList(nums)
}
