package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// requireTool skips (or, under CI, fails) when a tool is missing, as the
// main module's tests do.
func requireTool(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is required under CI but missing: %v", name, err)
			}
			t.Skipf("%s not installed", name)
		}
	}
}

func command(t *testing.T, ctx context.Context, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// buildInto runs the packager on root into a new directory and returns
// the .deb and .rpm it made.
func buildInto(t *testing.T, ctx context.Context, root string) (deb, rpm string) {
	t.Helper()
	out := t.TempDir()
	if err := run(ctx, []string{"-root", root, "-out", out}); err != nil {
		t.Fatal(err)
	}
	debs, _ := filepath.Glob(filepath.Join(out, "*.deb"))
	rpms, _ := filepath.Glob(filepath.Join(out, "*.rpm"))
	if len(debs) != 1 || len(rpms) != 1 {
		t.Fatalf("packages made: %v %v", debs, rpms)
	}
	return debs[0], rpms[0]
}

// TestPackages builds the .deb and .rpm twice, the second time from a
// fresh clone in another directory, and checks them with the distributions'
// own tools: byte for byte the same, dpkg-deb's view of the control data,
// contents and conffiles, lintian with no error, rpm's view of the header,
// files and config files, the unit verified by systemd-analyze from the
// package's own files, and the packaged binary's version.
func TestPackages(t *testing.T) {
	requireTool(t, "git", "dpkg-deb", "lintian", "rpm", "systemd-analyze")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	root := command(t, ctx, "git", "rev-parse", "--show-toplevel")
	root = strings.TrimSpace(root)

	start := time.Now()
	deb, rpm := buildInto(t, ctx, root)
	t.Logf("packages built in %v: %s, %s", time.Since(start).Round(time.Millisecond), filepath.Base(deb), filepath.Base(rpm))

	t.Run("reproducible", func(t *testing.T) {
		// A clone elsewhere (another path, other file times) must give
		// the same bytes; a work tree with uncommitted changes can only
		// be compared with itself.
		again := root
		if st := command(t, ctx, "git", "-C", root, "status", "--porcelain"); st == "" {
			again = filepath.Join(t.TempDir(), "clone")
			command(t, ctx, "git", "clone", "--quiet", "--no-hardlinks", root, again)
			command(t, ctx, "git", "-C", again, "checkout", "--quiet", strings.TrimSpace(command(t, ctx, "git", "-C", root, "rev-parse", "HEAD")))
		} else {
			t.Log("the work tree has uncommitted changes: building it twice in place")
		}
		deb2, rpm2 := buildInto(t, ctx, again)
		for _, pair := range [][2]string{{deb, deb2}, {rpm, rpm2}} {
			a, _ := os.ReadFile(pair[0])
			b, _ := os.ReadFile(pair[1])
			if filepath.Base(pair[0]) != filepath.Base(pair[1]) || !bytes.Equal(a, b) {
				t.Errorf("%s (%d bytes) and %s (%d bytes) differ", pair[0], len(a), pair[1], len(b))
			}
		}
	})

	t.Run("dpkg-deb", func(t *testing.T) {
		info := command(t, ctx, "dpkg-deb", "--info", deb)
		for _, want := range []string{"Package: powerjockey", "Architecture: amd64", "Section: admin",
			"Description: IPMI and Redfish endpoints for machines without a BMC", " postinst ", " prerm ", " postrm ", " conffiles "} {
			if !strings.Contains(info, want) {
				t.Errorf("dpkg-deb --info lacks %q:\n%s", want, info)
			}
		}
		conffiles := strings.Fields(command(t, ctx, "dpkg-deb", "--info", deb, "conffiles"))
		etc, _ := filepath.Glob(filepath.Join(root, "deploy", "etc", "powerjockey", "*", "*"))
		want := []string{"/etc/powerjockey/powerjockey.yaml"}
		for _, f := range etc {
			rel, _ := filepath.Rel(filepath.Join(root, "deploy", "etc"), f)
			want = append(want, "/etc/"+rel)
		}
		slices.Sort(want)
		slices.Sort(conffiles)
		if !slices.Equal(conffiles, want) {
			t.Errorf("conffiles %v, want every file of deploy/etc/powerjockey but README.md: %v", conffiles, want)
		}
		contents := command(t, ctx, "dpkg-deb", "--contents", deb)
		for _, re := range []string{
			`-rwxr-xr-x root/root +\d+ \S+ \S+ \./usr/bin/powerjockey\n`,
			`-rw-r--r-- root/root +\d+ \S+ \S+ \./usr/lib/systemd/system/powerjockey.service\n`,
			`-rw-r--r-- root/root +\d+ \S+ \S+ \./usr/lib/sysusers.d/powerjockey.conf\n`,
			`-rw-r--r-- root/root +\d+ \S+ \S+ \./usr/share/man/man8/powerjockey.8.gz\n`,
			`-rw-r--r-- root/root +\d+ \S+ \S+ \./usr/share/doc/powerjockey/copyright\n`,
			`-rw-r--r-- root/root +\d+ \S+ \S+ \./usr/share/doc/powerjockey/changelog.Debian.gz\n`,
			`drwxr-x--- root/root +0 \S+ \S+ \./etc/powerjockey/\n`,
			`-rw-r----- root/root +\d+ \S+ \S+ \./etc/powerjockey/powerjockey.yaml\n`,
			`-rw-r----- root/root +\d+ \S+ \S+ \./etc/powerjockey/nodes/compute-0.pw\n`,
		} {
			if !regexp.MustCompile(re).MatchString(contents) {
				t.Errorf("dpkg-deb --contents lacks %s:\n%s", re, contents)
			}
		}
		// Every time in the package is the commit's (SOURCE_DATE_EPOCH).
		ct := strings.TrimSpace(command(t, ctx, "git", "-C", root, "log", "-1", "--format=%cd", "--date=format-local:%Y-%m-%d %H:%M"))
		for _, line := range strings.Split(strings.TrimSpace(contents), "\n") {
			if !strings.Contains(line, " "+ct+" ") && os.Getenv("SOURCE_DATE_EPOCH") == "" {
				t.Errorf("not the commit's time (%s): %s", ct, line)
			}
		}
	})

	t.Run("lintian", func(t *testing.T) {
		// No error; warnings are logged. Overrides are in
		// deploy/package/lintian-overrides, each with its reason.
		cmd := exec.CommandContext(ctx, "lintian", "--no-cfg", "--fail-on", "error", "--display-info", deb)
		out, err := cmd.CombinedOutput()
		t.Logf("lintian:\n%s", out)
		if err != nil || regexp.MustCompile(`(?m)^E: `).Match(out) {
			t.Errorf("lintian reports errors: %v", err)
		}
	})

	t.Run("rpm", func(t *testing.T) {
		out := command(t, ctx, "rpm", "-qpil", rpm)
		for _, want := range []string{"Name        : powerjockey\n", "Architecture: x86_64\n", "Build Host  : reproducible\n",
			"\n/usr/bin/powerjockey\n", "\n/usr/lib/systemd/system/powerjockey.service\n", "\n/usr/lib/sysusers.d/powerjockey.conf\n",
			"\n/usr/share/man/man8/powerjockey.8.gz\n", "\n/etc/powerjockey/powerjockey.yaml\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("rpm -qpil lacks %q:\n%s", want, out)
			}
		}
		// The sample configuration is %config(noreplace), readable by
		// the daemon's group only.
		flags := command(t, ctx, "rpm", "-qp", "--qf", `[%{FILEFLAGS:fflags} %{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]`, rpm)
		for _, want := range []string{"cn -rw-r----- root:powerjockey /etc/powerjockey/powerjockey.yaml\n",
			"cn -rw-r----- root:powerjockey /etc/powerjockey/nodes/compute-0.pw\n", " drwxr-x--- root:powerjockey /etc/powerjockey\n",
			" -rwxr-xr-x root:root /usr/bin/powerjockey\n"} {
			if !strings.Contains(flags, want) {
				t.Errorf("rpm file flags lack %q:\n%s", want, flags)
			}
		}
		scripts := command(t, ctx, "rpm", "-qp", "--scripts", rpm)
		for _, want := range []string{"preinstall scriptlet", "systemd-sysusers --replace=/usr/lib/sysusers.d/powerjockey.conf",
			"u powerjockey - ", "preuninstall scriptlet", "postuninstall scriptlet"} {
			if !strings.Contains(scripts, want) {
				t.Errorf("rpm scripts lack %q:\n%s", want, scripts)
			}
		}
	})

	t.Run("contents", func(t *testing.T) {
		dir := t.TempDir()
		command(t, ctx, "dpkg-deb", "-x", deb, dir)
		// The unit as the package installs it, verified against the
		// package's own binary.
		unit := filepath.Join(dir, "usr", "lib", "systemd", "system", "powerjockey.service")
		mustSame(t, unit, filepath.Join(root, "deploy", "powerjockey.service"))
		mustSame(t, filepath.Join(dir, "usr", "lib", "sysusers.d", "powerjockey.conf"), filepath.Join(root, "deploy", "sysusers.d", "powerjockey.conf"))
		// ExecStart names /usr/bin/powerjockey, which systemd-analyze
		// checks is executable: point it at the package's binary.
		bin := filepath.Join(dir, "usr", "bin", "powerjockey")
		text, _ := os.ReadFile(unit)
		verify := filepath.Join(t.TempDir(), "powerjockey.service")
		if err := os.WriteFile(verify, bytes.ReplaceAll(text, []byte("/usr/bin/powerjockey"), []byte(bin)), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.CommandContext(ctx, "systemd-analyze", "verify", "--man=no", verify).CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
		// The binary is static and says which build it is.
		if file, err := exec.Command("file", bin).Output(); err == nil && !strings.Contains(string(file), "statically linked") {
			t.Errorf("not a static binary: %s", file)
		}
		commit := strings.TrimSpace(command(t, ctx, "git", "-C", root, "rev-parse", "HEAD"))
		version := command(t, ctx, bin, "--version")
		if !strings.Contains(version, "(commit "+commit[:12]) || !strings.Contains(filepath.Base(deb), "_"+strings.Fields(version)[1]+"-1_") {
			t.Errorf("--version %q does not match commit %s and package %s", version, commit, filepath.Base(deb))
		}
		// The man page is the binary's own.
		man := command(t, ctx, "sh", "-c", "gzip -dc "+filepath.Join(dir, "usr", "share", "man", "man8", "powerjockey.8.gz"))
		if !strings.HasPrefix(man, ".TH POWERJOCKEY 8") || man != command(t, ctx, bin, "man") {
			t.Errorf("man page %.100q is not the binary's", man)
		}
		// The sample configuration will not start: check names every
		// placeholder secret by file, line and key.
		etc := filepath.Join(dir, "etc", "powerjockey")
		cmd := exec.CommandContext(ctx, bin, "check", "--config", filepath.Join(etc, "powerjockey.yaml"))
		out, err = cmd.CombinedOutput()
		if err == nil || !regexp.MustCompile(`powerjockey\.yaml:\d+:\d+: nodes\[0\]\.ipmi\.password_file: secret file \S+ holds a placeholder \(CHANGE-ME\)`).Match(out) {
			t.Errorf("check accepts the packaged sample: %v\n%s", err, out)
		}
	})
}

func mustSame(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, y) {
		t.Errorf("%s differs from %s", a, b)
	}
}

// TestVersionScheme checks the versions dpkg and rpm compare.
func TestVersionScheme(t *testing.T) {
	requireTool(t, "dpkg")
	for _, pair := range [][2]string{
		{"0.0.0+git20261126090000.0123456789ab", "0.0.0+git20261127090000.fedcba987654"}, // later commit
		{"1.2.0", "1.2.0+git20261126090000.0123456789ab"},                                // after a release
		{"1.2.0+git20261126090000.0123456789ab", "1.2.1"},                                // before the next
	} {
		if err := exec.Command("dpkg", "--compare-versions", pair[0]+"-1", "lt", pair[1]+"-1").Run(); err != nil {
			t.Errorf("dpkg: %s is not before %s", pair[0], pair[1])
		}
	}
}
