package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	vcs := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/powerjockey/powerjockey",
		Version: "v0.0.0-20261126090000-0123456789ab"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-11-26T09:00:00Z"}, {Key: "vcs.modified", Value: "false"}}}
	dirty := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261126090000-0123456789ab+dirty"},
		Settings: []debug.BuildSetting{{Key: "vcs.modified", Value: "true"}}}
	devel := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}
	for _, tc := range []struct {
		name                  string
		bi                    *debug.BuildInfo
		ldv, ldc, ldd         string
		version, commit, date string
		modified              bool
	}{
		{name: "vcs only", bi: vcs, version: "v0.0.0-20261126090000-0123456789ab",
			commit: "0123456789abcdef0123456789abcdef01234567", date: "2026-11-26T09:00:00Z"},
		{name: "ldflags win", bi: vcs, ldv: "1.2.0", ldc: "fedcba", ldd: "2026-12-01T00:00:00Z",
			version: "1.2.0", commit: "fedcba", date: "2026-12-01T00:00:00Z"},
		{name: "ldflags fill what vcs lacks", bi: devel, ldv: "1.2.0", version: "1.2.0"},
		{name: "nothing", bi: devel, version: "devel"},
		{name: "no build info", bi: nil, version: "devel"},
		{name: "dirty tree", bi: dirty, version: "v0.0.0-20261126090000-0123456789ab+dirty", modified: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := resolve(tc.bi, tc.ldv, tc.ldc, tc.ldd)
			if got.Version != tc.version || got.Commit != tc.commit || got.Date != tc.date || got.Modified != tc.modified {
				t.Errorf("got %+v, want version %q commit %q date %q modified %v", got, tc.version, tc.commit, tc.date, tc.modified)
			}
			if got.GoVersion == "" || got.Platform != runtime.GOOS+"/"+runtime.GOARCH {
				t.Errorf("go %q platform %q", got.GoVersion, got.Platform)
			}
		})
	}
}

func TestString(t *testing.T) {
	i := Info{Version: "1.2.0", Commit: "0123456789abcdef0123", Date: "2026-11-26T09:00:00Z", Modified: true,
		GoVersion: "go1.26.8", Platform: "linux/amd64"}
	want := "powerjockey 1.2.0 (commit 0123456789ab, modified, built 2026-11-26T09:00:00Z, go1.26.8 linux/amd64)"
	if got := i.String(); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got := (Info{Version: "devel", GoVersion: "go1.26.8", Platform: "linux/amd64"}).String(); got != "powerjockey devel (go1.26.8 linux/amd64)" {
		t.Errorf("got %q", got)
	}
	if s := Get().String(); !strings.HasPrefix(s, "powerjockey ") {
		t.Errorf("Get: %q", s)
	}
}
