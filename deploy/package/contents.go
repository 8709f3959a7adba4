package main

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the rpm packager
)

// Package metadata.
const (
	name       = "powerjockey"
	maintainer = "powerjockey developers <powerjockey@users.noreply.github.com>"
	homepage   = "https://github.com/powerjockey/powerjockey"
	summary    = "IPMI and Redfish endpoints for machines without a BMC"
	// description is the long description (deb: lines after the first
	// of Description; rpm: %description).
	description = summary + `
powerjockey gives machines without a baseboard management controller one:
a single daemon answers IPMI v2.0 over LAN and Redfish for every configured
node, so that OpenStack Ironic, MAAS, fencing agents and monitoring drive
them as if they had a real BMC. Power on is a switched PDU outlet (SNMP)
plus a Wake-on-LAN magic packet, power off an SNMP SET, and the power state
comes from what the PDU meters.
.
The package installs the daemon, its systemd unit and system user, and a
sample configuration under /etc/powerjockey whose secrets are placeholders:
the service is not started until they are replaced.`
)

// pkgInput is everything one architecture's packages are made of.
type pkgInput struct {
	root, arch, binary, tmp string
	src                     source
	man                     []byte
}

// etcFile is one file of the sample configuration.
type etcFile struct{ src, dst string }

func (p pkgInput) etcFiles() ([]etcFile, error) {
	base := filepath.Join(p.root, "deploy", "etc", "powerjockey")
	var out []etcFile
	err := filepath.WalkDir(base, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(base, path)
		if rel == "README.md" { // documentation: /usr/share/doc
			return nil
		}
		out = append(out, etcFile{src: path, dst: "/etc/powerjockey/" + filepath.ToSlash(rel)})
		return nil
	})
	slices.SortFunc(out, func(a, b etcFile) int { return strings.Compare(a.dst, b.dst) })
	return out, err
}

// contents are the files of the package in format ("deb" or "rpm").
func (p pkgInput) contents(format string, copyright []byte) (files.Contents, error) {
	doc := "/usr/share/doc/" + name
	// The daemon reads /etc/powerjockey through its group. RPM resolves
	// the group when it installs the payload (%pre creates it); a deb
	// carries root:root, as Debian's packages must (lintian
	// wrong-file-owner-uid-or-gid), and postinst gives the group.
	etcGroup := "root"
	if format == "rpm" {
		etcGroup = name
	}
	file := func(src, dst string, mode os.FileMode) *files.Content {
		return &files.Content{Source: src, Destination: dst,
			FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: mode}}
	}
	c := files.Contents{
		file(p.binary, "/usr/bin/powerjockey", 0o755),
		file(filepath.Join(p.root, "deploy", "powerjockey.service"), "/usr/lib/systemd/system/powerjockey.service", 0o644),
		file(filepath.Join(p.root, "deploy", "sysusers.d", "powerjockey.conf"), "/usr/lib/sysusers.d/powerjockey.conf", 0o644),
		file(p.write1("powerjockey.8.gz", p.man), "/usr/share/man/man8/powerjockey.8.gz", 0o644),
		file(p.write1(format+"-copyright", copyright), doc+"/copyright", 0o644),
		file(filepath.Join(p.root, "README.md"), doc+"/README.md", 0o644),
		file(filepath.Join(p.root, "deploy", "etc", "powerjockey", "README.md"), doc+"/README.etc-powerjockey.md", 0o644),
		file(filepath.Join(p.root, "configs", "powerjockey.example.yaml"), doc+"/examples/powerjockey.example.yaml", 0o644),
	}
	docs, err := filepath.Glob(filepath.Join(p.root, "docs", "*.md"))
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		c = append(c, file(d, doc+"/"+filepath.Base(d), 0o644))
	}
	if format == "deb" {
		c = append(c,
			file(p.write1("changelog.Debian.gz", gzipBest([]byte(p.debChangelog()))), doc+"/changelog.Debian.gz", 0o644),
			file(filepath.Join(p.root, "deploy", "package", "lintian-overrides"), "/usr/share/lintian/overrides/"+name, 0o644))
	}
	for _, d := range []string{"/etc/powerjockey", "/etc/powerjockey/nodes", "/etc/powerjockey/pdus"} {
		c = append(c, &files.Content{Type: files.TypeDir, Destination: d,
			FileInfo: &files.ContentFileInfo{Owner: "root", Group: etcGroup, Mode: 0o750}})
	}
	etc, err := p.etcFiles()
	if err != nil {
		return nil, err
	}
	for _, f := range etc {
		// config|noreplace: an edited file stays on upgrade (deb: a
		// conffile; rpm: %config(noreplace), the new one as .rpmnew).
		c = append(c, &files.Content{Type: files.TypeConfigNoReplace, Source: f.src, Destination: f.dst,
			FileInfo: &files.ContentFileInfo{Owner: "root", Group: etcGroup, Mode: 0o640}})
	}
	return c, nil
}

// write1 writes generated content into the temporary directory for nfpm.
func (p pkgInput) write1(base string, data []byte) string {
	path := filepath.Join(p.tmp, p.arch+"-"+base)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		panic(err) // the temporary directory is ours
	}
	return path
}

// debChangelog is the one-entry changelog Debian requires of a package.
func (p pkgInput) debChangelog() string {
	return fmt.Sprintf(`%s (%s-1) unstable; urgency=medium

  * Built from commit %s.

 -- %s  %s
`, name, p.src.Version, p.src.Commit, maintainer, p.src.Epoch.Format(time.RFC1123Z))
}

func (p pkgInput) script(file string) (string, error) {
	b, err := scripts.ReadFile("scripts/" + file)
	if err != nil {
		return "", err
	}
	s := string(b)
	if strings.Contains(s, "@SYSUSERS@") {
		u, err := os.ReadFile(filepath.Join(p.root, "deploy", "sysusers.d", "powerjockey.conf"))
		if err != nil {
			return "", err
		}
		var entries []string
		for _, l := range strings.Split(string(u), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				if strings.Contains(l, "'") {
					return "", fmt.Errorf("sysusers entry %q: a quote would break the %%pre script", l)
				}
				entries = append(entries, l)
			}
		}
		s = strings.ReplaceAll(s, "@SYSUSERS@", strings.Join(entries, "\n"))
	}
	path := filepath.Join(p.tmp, p.arch+"-"+file)
	return path, os.WriteFile(path, []byte(s), 0o755)
}

// write builds the package in format into dir and returns its path.
func (p pkgInput) write(format, dir string) (string, error) {
	copyright, err := copyrightFile(context.Background(), p.root, p.binary, format)
	if err != nil {
		return "", err
	}
	c, err := p.contents(format, copyright)
	if err != nil {
		return "", err
	}
	info := &nfpm.Info{
		Name:     name,
		Arch:     p.arch,
		Platform: "linux",
		// The version is already what dpkg and rpm should compare
		// (see source.Version): no semver reinterpretation.
		Version:       p.src.Version,
		VersionSchema: "none",
		Release:       "1",
		Section:       "admin",
		Priority:      "optional",
		Maintainer:    maintainer,
		Vendor:        "powerjockey",
		Homepage:      homepage,
		Description:   description,
		MTime:         p.src.Epoch,
		Overridables: nfpm.Overridables{
			Contents: c,
			Umask:    0o022,
		},
	}
	switch format {
	case "deb":
		if info.Scripts.PostInstall, err = p.script("deb-postinst"); err != nil {
			return "", err
		}
		if info.Scripts.PreRemove, err = p.script("deb-prerm"); err != nil {
			return "", err
		}
		if info.Scripts.PostRemove, err = p.script("deb-postrm"); err != nil {
			return "", err
		}
		// The maintainer scripts call deb-systemd-invoke and
		// deb-systemd-helper; systemd-sysusers comes with systemd
		// (init-system-helpers, which has them, is essential: no Depends.)
		info.Recommends = []string{"systemd"}
		info.Suggests = []string{"ipmitool"}
		info.Deb.Compression = "xz"
	case "rpm":
		if info.Scripts.PreInstall, err = p.script("rpm-pre"); err != nil {
			return "", err
		}
		if info.Scripts.PostInstall, err = p.script("rpm-post"); err != nil {
			return "", err
		}
		if info.Scripts.PreRemove, err = p.script("rpm-preun"); err != nil {
			return "", err
		}
		if info.Scripts.PostRemove, err = p.script("rpm-postun"); err != nil {
			return "", err
		}
		info.Depends = []string{"/bin/sh"} // the scriptlets
		info.RPM.Summary = summary
		// RPM's %description has no synopsis line and no "." paragraphs.
		info.Description = strings.ReplaceAll(strings.TrimPrefix(description, summary+"\n"), "\n.\n", "\n\n")
		info.RPM.Group = "System Environment/Daemons"
		// The build host is in the header: a fixed one keeps the
		// package reproducible.
		info.RPM.BuildHost = "reproducible"
		info.RPM.Compression = "xz"
		info.License = "see /usr/share/doc/powerjockey/copyright"
	}
	info = nfpm.WithDefaults(info)
	pkger, err := nfpm.Get(format)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, pkger.ConventionalFileName(info))
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	info.Target = path
	if err := pkger.Package(info, f); err != nil {
		f.Close()
		os.Remove(path)
		return "", err
	}
	return path, f.Close()
}

// copyrightFile says what the binary is made of and under which licenses:
// the Go modules it links (read from the binary's own build information)
// and the Go standard library, each with its license files' text from the
// module cache. A module without a license file fails the build: nothing
// ships whose terms are unknown.
//
// For a deb, the full text of the Apache License 2.0 is replaced by a
// reference to Debian's copy, as Debian policy 12.5 asks (lintian
// copyright-file-contains-full-apache-2-license); an RPM carries every text.
func copyrightFile(ctx context.Context, root, bin, format string) ([]byte, error) {
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	type mod struct{ Path, Version, Dir string }
	var want []string
	for _, d := range bi.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		want = append(want, d.Path+"@"+d.Version)
	}
	var mods []mod
	if len(want) > 0 {
		cmd := exec.CommandContext(ctx, "go", append([]string{"mod", "download", "-json"}, want...)...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOFLAGS=")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("go mod download: %w\n%s", err, stderr.String())
		}
		dec := json.NewDecoder(bytes.NewReader(out))
		for {
			var m mod
			if err := dec.Decode(&m); err == io.EOF {
				break
			} else if err != nil {
				return nil, err
			}
			mods = append(mods, m)
		}
	}
	goroot, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
	if err != nil {
		return nil, err
	}
	mods = append(mods, mod{Path: "the Go standard library and runtime", Version: bi.GoVersion, Dir: strings.TrimSpace(string(goroot))})
	slices.SortStableFunc(mods[:len(mods)-1], func(a, b mod) int { return strings.Compare(a.Path, b.Path) })

	var b strings.Builder
	fmt.Fprintf(&b, `powerjockey

Source: %s

Copyright: the powerjockey authors.
The powerjockey source tree carries no license file of its own yet; its
authors hold the copyright of its code.

/usr/bin/powerjockey is a statically linked Go program. Besides
powerjockey's own code it contains the following, each under the license
whose text follows below:

`, homepage)
	type lic struct{ head, text string }
	var texts []lic
	for _, m := range mods {
		fmt.Fprintf(&b, "  %s %s\n", m.Path, m.Version)
		entries, err := os.ReadDir(m.Dir)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Path, err)
		}
		found := false
		for _, e := range entries {
			up := strings.ToUpper(e.Name())
			if e.IsDir() || !(strings.HasPrefix(up, "LICENSE") || strings.HasPrefix(up, "LICENCE") ||
				strings.HasPrefix(up, "COPYING") || strings.HasPrefix(up, "NOTICE") || up == "PATENTS") {
				continue
			}
			t, err := os.ReadFile(filepath.Join(m.Dir, e.Name()))
			if err != nil {
				return nil, err
			}
			found = true
			if format == "deb" && isFullApache2(string(t)) {
				t = []byte(debianApache2)
			}
			texts = append(texts, lic{head: fmt.Sprintf("%s %s: %s", m.Path, m.Version, e.Name()), text: string(t)})
		}
		if !found {
			return nil, fmt.Errorf("%s %s: %w in %s", m.Path, m.Version, errNoLicense, m.Dir)
		}
	}
	for _, t := range texts {
		fmt.Fprintf(&b, "\n%s\n%s\n\n", strings.Repeat("-", 72), t.head)
		for _, l := range strings.Split(strings.TrimRight(t.text, "\n"), "\n") {
			b.WriteString(strings.TrimRight(l, " \t\r") + "\n")
		}
	}
	return []byte(b.String()), nil
}

// debianApache2 stands for the full Apache License 2.0 in a deb's copyright.
const debianApache2 = `Licensed under the Apache License, Version 2.0.
On Debian systems, the complete text of the Apache License, Version 2.0
can be found in "/usr/share/common-licenses/Apache-2.0".
`

// isFullApache2 reports whether a license file is the whole Apache License
// 2.0 (its terms, not just a notice that refers to it).
func isFullApache2(t string) bool {
	return strings.Contains(t, "Apache License") && strings.Contains(t, "Version 2.0, January 2004") &&
		strings.Contains(t, "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION") &&
		strings.Contains(t, "END OF TERMS AND CONDITIONS")
}
