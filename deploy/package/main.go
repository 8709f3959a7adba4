// Command package builds powerjockey's .deb and .rpm from the source tree,
// reproducibly: the same commit gives byte-identical packages, whoever
// builds them and whenever.
//
//	deploy/package.sh                     # dist/powerjockey_VERSION-1_amd64.deb and powerjockey-VERSION-1.x86_64.rpm
//	deploy/package.sh -arch amd64,arm64   # both architectures
//	deploy/package.sh -print-build-args   # docker build --build-arg ... for the Dockerfile
//
// It is a module of its own so that the packaging library (nfpm) and its
// dependencies stay out of the daemon's module: the binary that ships
// links none of them.
//
// Reproducibility: every time in the packages (file modification times,
// the archives' headers, RPM's build time) and the binary's build date are
// SOURCE_DATE_EPOCH, which defaults to the commit's time; the binary is
// built with -trimpath and without VCS stamping (the version, commit and
// date go in by -ldflags), the man page is gzipped without a name or a
// time, and RPM's build host is fixed.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

//go:embed scripts
var scripts embed.FS

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "package:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("package", flag.ContinueOnError)
	root := fs.String("root", "", "the source tree (default: the git work tree around the current directory)")
	out := fs.String("out", "", "where the packages go (default ROOT/dist)")
	arches := fs.String("arch", "amd64", "GOARCH values to package, comma-separated (amd64, arm64)")
	printArgs := fs.Bool("print-build-args", false, "print the Dockerfile's --build-arg flags for this tree and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *root == "" {
		top, err := git(ctx, ".", "rev-parse", "--show-toplevel")
		if err != nil {
			return fmt.Errorf("-root not given and not in a git work tree: %w", err)
		}
		*root = top
	}
	src, err := describe(ctx, *root)
	if err != nil {
		return err
	}
	if *printArgs {
		fmt.Printf("--build-arg VERSION=%s --build-arg COMMIT=%s --build-arg BUILD_DATE=%s\n", src.Version, src.Commit, src.DateRFC3339())
		return nil
	}
	if *out == "" {
		*out = filepath.Join(*root, "dist")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "powerjockey-package-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// The man page comes from the binary itself; run on this machine.
	hostBin := filepath.Join(tmp, "powerjockey-host")
	if err := buildBinary(ctx, *root, src, runtime.GOARCH, hostBin); err != nil {
		return err
	}
	man, err := manPage(ctx, hostBin)
	if err != nil {
		return err
	}
	for _, arch := range strings.Split(*arches, ",") {
		arch = strings.TrimSpace(arch)
		bin := hostBin
		if arch != runtime.GOARCH {
			bin = filepath.Join(tmp, "powerjockey-"+arch)
			if err := buildBinary(ctx, *root, src, arch, bin); err != nil {
				return err
			}
		}
		p := pkgInput{root: *root, src: src, arch: arch, binary: bin, man: man, tmp: tmp}
		for _, format := range []string{"deb", "rpm"} {
			path, err := p.write(format, *out)
			if err != nil {
				return fmt.Errorf("%s %s: %w", format, arch, err)
			}
			fmt.Println(path)
		}
	}
	return nil
}

// source is what the packages say about the tree they were built from.
type source struct {
	// Version is the package and binary version: X.Y.Z on a release tag
	// vX.Y.Z, else the last tag's (or 0.0.0) with +gitYYYYMMDDhhmmss.COMMIT12
	// (sorting after that release in dpkg and rpm alike), and .dirty
	// for a tree with uncommitted changes or untracked files.
	Version string
	Commit  string
	// Epoch is SOURCE_DATE_EPOCH, else the commit's time.
	Epoch time.Time
	Dirty bool
}

// DateRFC3339 is the build date the binary reports.
func (s source) DateRFC3339() string { return s.Epoch.UTC().Format(time.RFC3339) }

func describe(ctx context.Context, root string) (source, error) {
	var s source
	var err error
	if s.Commit, err = git(ctx, root, "rev-parse", "HEAD"); err != nil {
		return s, err
	}
	ct, err := git(ctx, root, "log", "-1", "--format=%ct", "HEAD")
	if err != nil {
		return s, err
	}
	if e := os.Getenv("SOURCE_DATE_EPOCH"); e != "" {
		ct = e
	}
	var secs int64
	if _, err := fmt.Sscan(ct, &secs); err != nil {
		return s, fmt.Errorf("SOURCE_DATE_EPOCH/commit time %q: %w", ct, err)
	}
	s.Epoch = time.Unix(secs, 0).UTC()
	// Untracked files count: a new source file changes the binary.
	status, err := git(ctx, root, "status", "--porcelain")
	if err != nil {
		return s, err
	}
	s.Dirty = status != ""
	if tag, err := git(ctx, root, "describe", "--tags", "--exact-match", "--match", "v[0-9]*", "HEAD"); err == nil && !s.Dirty {
		s.Version = strings.TrimPrefix(tag, "v")
		return s, nil
	}
	base := "0.0.0"
	if tag, err := git(ctx, root, "describe", "--tags", "--abbrev=0", "--match", "v[0-9]*", "HEAD"); err == nil {
		base = strings.TrimPrefix(tag, "v")
	}
	commitTime, err := git(ctx, root, "log", "-1", "--format=%cd", "--date=format-local:%Y%m%d%H%M%S", "HEAD")
	if err != nil {
		return s, err
	}
	s.Version = fmt.Sprintf("%s+git%s.%s", base, commitTime, s.Commit[:12])
	if s.Dirty {
		s.Version += ".dirty"
	}
	return s, nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// ldflagsPackage is where the version, commit and date go.
const ldflagsPackage = "github.com/powerjockey/powerjockey/pkg/buildinfo"

// buildBinary builds the static daemon for linux/arch.
func buildBinary(ctx context.Context, root string, src source, arch, out string) error {
	ld := fmt.Sprintf("-s -w -buildid= -X %[1]s.version=%[2]s -X %[1]s.commit=%[3]s -X %[1]s.date=%[4]s",
		ldflagsPackage, src.Version, src.Commit, src.DateRFC3339())
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags", ld, "-o", out, "./cmd/powerjockey")
	cmd.Dir = root
	// GOFLAGS from the environment (-race, -cover, ...) would change the
	// binary: the packages' is built from the tree and these flags alone.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOFLAGS=")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build (%s): %w\n%s", arch, err, stderr.String())
	}
	return nil
}

// manPage runs the binary's man command and gzips the page the way Debian
// wants it (maximum compression) and reproducibly (no name, no time).
func manPage(ctx context.Context, bin string) ([]byte, error) {
	roff, err := exec.CommandContext(ctx, bin, "man").Output()
	if err != nil {
		return nil, fmt.Errorf("%s man: %w", bin, err)
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(roff); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// gzipBest compresses b as manPage does.
func gzipBest(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

var errNoLicense = errors.New("no license file")
