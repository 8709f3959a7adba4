// Package buildinfo says which build of powerjockey is running: its
// version, the commit it was built from, when, and with which Go. The CLI
// prints it, the HTTP API serves it, the start-up log line and the
// powerjockey_build_info series carry it, so that "which build runs on
// this undercloud?" has one answer everywhere.
//
// The module and VCS build information Go embeds (runtime/debug) is the
// first source; a build made without it (a container build without .git,
// GOFLAGS=-buildvcs=false, a package build that wants a clean version
// string) sets the package variables below with -ldflags:
//
//	go build -ldflags "-X github.com/powerjockey/powerjockey/pkg/buildinfo.version=1.2.0
//	  -X github.com/powerjockey/powerjockey/pkg/buildinfo.commit=0123abc...
//	  -X github.com/powerjockey/powerjockey/pkg/buildinfo.date=2026-11-26T09:00:00Z" ./cmd/powerjockey
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Set by -ldflags -X (see the package comment); empty when not given.
var (
	version string
	commit  string
	date    string
)

// Info describes a build.
type Info struct {
	// Version is the release ("1.2.0", "0.0.0+git20261126090000.0123abcdef01")
	// or, without one, Go's module version of the main module, or "devel".
	Version string `json:"version"`
	// Commit is the full VCS revision, "" when unknown.
	Commit string `json:"commit,omitempty"`
	// Date is when the build was made, RFC 3339 in UTC. Reproducible
	// builds (the packages) use the commit's time, as SOURCE_DATE_EPOCH
	// says; without -ldflags it is the commit time Go recorded. "" when
	// unknown.
	Date string `json:"build_date,omitempty"`
	// Modified is set when the tree had uncommitted changes.
	Modified bool `json:"modified,omitempty"`
	// GoVersion is the toolchain that built the binary ("go1.26.8").
	GoVersion string `json:"go_version"`
	// Platform is GOOS/GOARCH.
	Platform string `json:"platform"`
}

// Get returns the running binary's build information.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return resolve(bi, version, commit, date)
}

// resolve merges what Go embedded (bi, nil when unavailable) with the
// -ldflags values, which win: they are set on purpose by the build.
func resolve(bi *debug.BuildInfo, ldVersion, ldCommit, ldDate string) Info {
	info := Info{GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi != nil {
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			info.Version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Commit = s.Value
			case "vcs.time":
				info.Date = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	if ldVersion != "" {
		info.Version = ldVersion
	}
	if ldCommit != "" {
		info.Commit = ldCommit
	}
	if ldDate != "" {
		info.Date = ldDate
	}
	if info.Version == "" {
		info.Version = "devel"
	}
	// Go marks a module version built from a dirty tree with +dirty.
	if strings.HasSuffix(info.Version, "+dirty") || strings.HasSuffix(info.Version, ".dirty") {
		info.Modified = true
	}
	return info
}

// ShortCommit is the commit's first 12 hex digits ("" when unknown).
func (i Info) ShortCommit() string {
	if len(i.Commit) > 12 {
		return i.Commit[:12]
	}
	return i.Commit
}

// String is the one-line form `powerjockey --version` prints:
// "powerjockey 1.2.0 (commit 0123abcdef01, built 2026-11-26T09:00:00Z, go1.26.8 linux/amd64)".
func (i Info) String() string {
	parts := []string{}
	if c := i.ShortCommit(); c != "" {
		if i.Modified {
			c += ", modified"
		}
		parts = append(parts, "commit "+c)
	}
	if i.Date != "" {
		parts = append(parts, "built "+i.Date)
	}
	parts = append(parts, i.GoVersion+" "+i.Platform)
	return fmt.Sprintf("powerjockey %s (%s)", i.Version, strings.Join(parts, ", "))
}

// LogAttrs are the attributes of the start-up log line.
func (i Info) LogAttrs() []any {
	return []any{"version", i.Version, "commit", i.Commit, "build_date", i.Date, "modified", i.Modified,
		"go", i.GoVersion, "platform", i.Platform}
}
