package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/powerjockey/powerjockey/pkg/buildinfo"
)

// runMan prints powerjockey(8) in roff. The commands and their flags come
// from the commands themselves (each one's --help), so the page cannot
// drift from the binary it ships with; the packages install its output.
func runMan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("man", "", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	_, err := io.WriteString(stdout, manPage(ctx))
	return err
}

func manPage(ctx context.Context) string {
	info := buildinfo.Get()
	day := ""
	if len(info.Date) >= 10 {
		day = info.Date[:10] // the build's (for packages: the commit's) date, so the page is reproducible
	}
	var b strings.Builder
	fmt.Fprintf(&b, ".TH POWERJOCKEY 8 %q %q \"System Administration\"\n", day, "powerjockey "+info.Version)
	b.WriteString(`.SH NAME
powerjockey \- IPMI and Redfish endpoints for machines without a BMC
.SH SYNOPSIS
.B powerjockey
.I command
.RI [ flags ]
.br
.B powerjockey \-\-version
.SH DESCRIPTION
.B powerjockey
gives machines without a baseboard management controller one: a single daemon answers
IPMI v2.0 over LAN (and, when configured, Redfish over HTTPS) for every configured node, so
that OpenStack Ironic, MAAS, fencing agents and monitoring drive them as if they had a real
BMC.
Power on is a switched PDU outlet (SNMP) plus a Wake\-on\-LAN magic packet, power off an
SNMP SET; the power state comes from what the PDU meters, a probe or a hook.
One YAML file describes the nodes, the PDUs and the credentials.
An operator HTTP server serves a live page of the rack, a JSON API and Prometheus metrics.
.SH COMMANDS
`)
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, ".SS %s\n%s\n", roffText(n), roffText(cmds[n].summary))
		var help bytes.Buffer
		run(ctx, []string{n, "--help"}, io.Discard, &help)
		if s := strings.TrimSpace(help.String()); s != "" {
			b.WriteString(".PP\n.nf\n.RS 4\n")
			for _, line := range strings.Split(s, "\n") {
				b.WriteString(roffLine(strings.ReplaceAll(line, "\t", "        ")) + "\n")
			}
			b.WriteString(".RE\n.fi\n")
		}
	}
	b.WriteString(`.SH SIGNALS
.TP
.B SIGHUP
re\-reads the configuration: added, removed and changed nodes take effect, untouched
endpoints keep their sessions; an invalid file is logged and the running configuration
keeps serving.
.TP
.BR SIGTERM ", " SIGINT
stop the daemon cleanly.
.SH FILES
.TP
.I /etc/powerjockey/powerjockey.yaml
the configuration.
The packaged one is a sample whose secrets (under
.IR /etc/powerjockey/nodes " and " /etc/powerjockey/pdus )
are CHANGE\-ME placeholders:
.B powerjockey check
and
.B serve
refuse it, naming each file, line and key, until they are replaced.
.TP
.I /var/lib/powerjockey
the state directory: node power state, boot overrides, GUIDs, event logs, the generated
certificates and their CA.
.TP
.I /usr/share/doc/powerjockey/examples/powerjockey.example.yaml
every configuration key with its default.
.SH EXIT STATUS
0 on success, 1 on an error, 2 on a usage error.
.SH SEE ALSO
.BR systemctl (1),
.BR ipmitool (1),
.BR sysusers.d (5)
`)
	return b.String()
}

// roffText escapes text for a roff text line: backslashes, and hyphens
// (which roff would set as typographic hyphens) as minus signs.
func roffText(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	return strings.ReplaceAll(s, "-", `\-`)
}

// roffLine is roffText for a line that must not be read as a request
// (one starting with a dot or an apostrophe).
func roffLine(s string) string {
	s = roffText(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}
