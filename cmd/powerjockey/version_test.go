package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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

// TestDockerfile checks the Dockerfile without docker (which cannot run
// here): its build stage's go build command, run as written with the
// build arguments substituted, builds a binary that reports them; what it
// copies exists and is not excluded by .dockerignore; the Go image matches
// go.mod; the final stage labels the image with the same arguments, runs
// serve with the packages' configuration path and exposes the default
// ports.
func TestDockerfile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	root := filepath.Join("..", "..")
	data, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	// Instructions, with continuation lines joined.
	var instrs []string
	cur := ""
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		instrs = append(instrs, cur+trimmed)
		cur = ""
	}
	stage := -1
	args := map[int][]string{}
	var build, label, entrypoint, expose string
	var copies []string
	for _, in := range instrs {
		kw, rest, _ := strings.Cut(in, " ")
		switch kw {
		case "FROM":
			stage++
			if stage == 0 {
				gomod, _ := os.ReadFile(filepath.Join(root, "go.mod"))
				m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
				if m == nil || !strings.HasPrefix(rest, "golang:"+string(m[1])+" ") {
					t.Errorf("build stage %q does not use go.mod's Go %s", rest, m[1])
				}
			}
		case "ARG":
			name, _, _ := strings.Cut(rest, "=")
			args[stage] = append(args[stage], name)
		case "RUN":
			if i := strings.Index(rest, "go build"); i >= 0 {
				build = strings.TrimPrefix(rest[:i], "CGO_ENABLED=0 ") + rest[i:]
				build, _, _ = strings.Cut(build, " && ")
				if !strings.HasPrefix(rest, "CGO_ENABLED=0 ") {
					t.Errorf("the build is not static (CGO_ENABLED=0): %s", rest)
				}
			}
		case "COPY":
			if stage == 0 {
				f := strings.Fields(rest)
				copies = append(copies, f[:len(f)-1]...)
			}
		case "LABEL":
			label += rest + " "
		case "ENTRYPOINT":
			entrypoint = rest
		case "EXPOSE":
			expose = rest
		}
	}
	for _, want := range []string{"VERSION", "COMMIT", "BUILD_DATE"} {
		for s := 0; s <= 1; s++ {
			if !slices.Contains(args[s], want) {
				t.Errorf("stage %d does not declare ARG %s (an ARG is scoped to its stage)", s, want)
			}
		}
	}
	for _, want := range []string{`org.opencontainers.image.version="${VERSION}"`, `org.opencontainers.image.revision="${COMMIT}"`,
		`org.opencontainers.image.created="${BUILD_DATE}"`} {
		if !strings.Contains(label, want) {
			t.Errorf("the image is not labelled %s: %s", want, label)
		}
	}
	ignore, _ := os.ReadFile(filepath.Join(root, ".dockerignore"))
	for _, c := range copies {
		if c == "." || c == "./" {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, c)); err != nil {
			t.Errorf("COPY %s: %v", c, err)
		}
		if regexp.MustCompile(`(?m)^/?` + regexp.QuoteMeta(c) + `$`).Match(ignore) {
			t.Errorf("COPY %s, but .dockerignore excludes it", c)
		}
	}
	if entrypoint != `["/powerjockey", "serve", "--config", "/etc/powerjockey/powerjockey.yaml"]` {
		t.Errorf("ENTRYPOINT %s", entrypoint)
	}
	if !strings.Contains(expose, "9623/tcp") || !strings.Contains(expose, "6230-6299/udp") {
		t.Errorf("EXPOSE %s lacks the default HTTP port or the IPMI range", expose)
	}

	// The build command as written, with the build arguments given.
	if build == "" {
		t.Fatal("no go build in the Dockerfile")
	}
	bin := filepath.Join(t.TempDir(), "powerjockey")
	build = strings.NewReplacer("${VERSION}", "1.2.3+git20261126090000.0123456789ab",
		"${COMMIT}", "0123456789abcdef0123456789abcdef01234567", "${BUILD_DATE}", "2026-11-26T09:00:00Z",
		"/out/powerjockey", bin).Replace(build)
	cmd := exec.Command("sh", "-c", build)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", build, err, out)
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
