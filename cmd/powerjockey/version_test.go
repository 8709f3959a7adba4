package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/powerjockey/powerjockey/pkg/buildinfo"
)

func TestVersionCommand(t *testing.T) {
	want := buildinfo.Get()
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		out, errOut, code := runCmd(t, args...)
		if code != 0 || out != want.String()+"\n" || errOut != "" {
			t.Errorf("%v: exit %d, %q %q; want %q", args, code, out, errOut, want.String())
		}
	}
	out, _, code := runCmd(t, "version", "--json")
	var got buildinfo.Info
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil || got != want {
		t.Errorf("version --json: exit %d %s", code, out)
	}
}

// TestVersionFromLdflags builds the binary as the packages and the
// Dockerfile do, with the version, commit and date given by -ldflags, and
// reads them back from the binary itself.
func TestVersionFromLdflags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "powerjockey")
	const pkg = "github.com/powerjockey/powerjockey/pkg/buildinfo"
	ld := "-s -w -X " + pkg + ".version=1.2.3+git20261126090000.0123456789ab -X " + pkg + ".commit=0123456789abcdef0123456789abcdef01234567 -X " +
		pkg + ".date=2026-11-26T09:00:00Z"
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags", ld, "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "powerjockey 1.2.3+git20261126090000.0123456789ab (commit 0123456789ab, built 2026-11-26T09:00:00Z, go1.") {
		t.Errorf("--version: %s", out)
	}
	man, err := exec.Command(bin, "man").Output()
	if err != nil || !strings.HasPrefix(string(man), `.TH POWERJOCKEY 8 "2026-11-26" "powerjockey 1.2.3+git20261126090000.0123456789ab"`) {
		t.Errorf("man: %v\n%.200s", err, man)
	}
}

func TestManPage(t *testing.T) {
	out, _, code := runCmd(t, "man")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for name := range commands() {
		if !strings.Contains(out, ".SS "+roffText(name)+"\n") {
			t.Errorf("the man page lacks command %s", name)
		}
	}
	// Every flag of serve is in it (from serve --help).
	for _, f := range []string{`\-config`, `\-log\-format`, `\-log\-level`} {
		if !strings.Contains(out, f) {
			t.Errorf("the man page lacks serve's %s", f)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, ".") && !strings.HasPrefix(line, ".TH") && !strings.HasPrefix(line, ".S") &&
			!strings.HasPrefix(line, ".P") && !strings.HasPrefix(line, ".nf") && !strings.HasPrefix(line, ".fi") &&
			!strings.HasPrefix(line, ".R") && !strings.HasPrefix(line, ".B") && !strings.HasPrefix(line, ".I") &&
			!strings.HasPrefix(line, ".TP") && !strings.HasPrefix(line, ".br") {
			t.Errorf("unexpected request line %q", line)
		}
	}
	// groff itself finds nothing to warn about.
	if _, err := exec.LookPath("man"); err == nil {
		f := filepath.Join(t.TempDir(), "powerjockey.8")
		writeFile(t, f, out, 0o644)
		cmd := exec.Command("man", "--warnings", "-l", f)
		cmd.Env = append(os.Environ(), "MANWIDTH=80")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil || stderr.Len() > 0 {
			t.Errorf("man --warnings: %v\n%s", err, stderr.String())
		}
	}
}
