package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testFile is the name every inline document is parsed under.
const testFile = "x.yaml"

// minimal is the smallest valid configuration: one node with credentials.
// Line 4 is the listen key, line 6 the password key.
const minimal = `nodes:
- name: n1
  ipmi:
    listen: 127.0.0.1:6230
    username: admin
    password: secret
`

// parseOK parses src and fails the test on any error.
func parseOK(t *testing.T, src string) *Config {
	t.Helper()
	cfg, err := Parse(testFile, []byte(src))
	if err != nil {
		t.Fatalf("Parse:\n%s\nunexpected error:\n%v", src, err)
	}
	return cfg
}

// parseErrs parses src and returns its errors, failing the test when it
// parses cleanly or returns something other than Errors.
func parseErrs(t *testing.T, src string) Errors {
	t.Helper()
	cfg, err := Parse(testFile, []byte(src))
	if err == nil {
		t.Fatalf("Parse:\n%s\nwant an error, got none", src)
	}
	if cfg != nil {
		t.Errorf("Parse returned a config together with an error")
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Parse error is %T, want config.Errors: %v", err, err)
	}
	for _, e := range errs {
		if e.File != testFile {
			t.Errorf("error %q names file %q, want %q", e, e.File, testFile)
		}
	}
	return errs
}

// errStrings renders every error as the operator sees it.
func errStrings(errs Errors) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	return out
}

// wantExactly checks that src fails with exactly the errors want, in order.
func wantExactly(t *testing.T, src string, want ...string) {
	t.Helper()
	got := errStrings(parseErrs(t, src))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Parse:\n%s\ngot errors:\n  %s\nwant:\n  %s", src, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// writeFile writes a file with an explicit mode (umask-proof) and returns its path.
func writeFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}
