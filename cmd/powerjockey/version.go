package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/powerjockey/powerjockey/pkg/buildinfo"
)

// runVersion prints which build this is: one line, or JSON (the same
// object as GET /api/v1/version).
func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "[--json]", stderr)
	asJSON := fs.Bool("json", false, "print JSON (as GET /api/v1/version serves it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return exitError(2)
	}
	info := buildinfo.Get()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	_, err := fmt.Fprintln(stdout, info)
	return err
}
