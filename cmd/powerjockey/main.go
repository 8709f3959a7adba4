// Command powerjockey gives machines without a BMC one: it answers IPMI
// (and Redfish) for every configured node and turns power commands into
// switched-PDU outlets, Wake-on-LAN packets, exec hooks, or announcements
// for a human.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
)

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"serve":      {"run the daemon in the foreground", runServe},
		"check":      {"validate a configuration and this host for it (--probe: ask the PDUs too)", runCheck},
		"discover":   {"read a PDU's outlets (names, states, watts) into a configuration skeleton, or compare a configuration with its PDUs", runDiscover},
		"instackenv": {"write enrollment files for TripleO, Ironic or Metal3", runInstackenv},
		"status":     {"show the running daemon's nodes, actions and manual actions waiting", runStatus},
		"power":      {"operate a node through the running daemon (--direct when none runs)", runPower},
		"demo":       {"run the daemon on a simulated rack on loopback (no hardware needed)", runDemo},
		"sim":        {"simulate the PDUs and machines a configuration describes", runSim},
		"version":    {"print the version, commit, build date and Go version (--json)", runVersion},
		"man":        {"print the manual page (roff), as the packages install it", runMan},
	}
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "--version" || args[0] == "-version" {
		args = []string{"version"}
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "powerjockey: unknown command %q\n\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	if err := c.run(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		var ee exitError
		if errors.As(err, &ee) {
			return int(ee)
		}
		fmt.Fprintf(stderr, "powerjockey %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// exitError ends the program with a status after the command printed its own report.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: powerjockey <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-11s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'powerjockey <command> --help' for a command's flags.")
}

// logFlags are the logging flags every long-running command takes.
type logFlags struct {
	format, level string
}

func (l *logFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.format, "log-format", "text", "log format: text or json")
	fs.StringVar(&l.level, "log-level", "info", "log level: debug, info, warn or error")
}

func (l *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(l.level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(l.format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format: want text or json, got %q", l.format)
	}
}

func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("powerjockey "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: powerjockey %s %s\n\nflags:\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}
