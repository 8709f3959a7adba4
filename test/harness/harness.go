// Package harness is what the process-driving test packages (test/e2e,
// test/ironic, test/clients, test/perf) share: building the real binary,
// rendering a configuration and running the daemon on it beside the
// simulated rack, and running processes with their output captured for
// the failure message. The helpers every test package shares (tool
// checks, ports, polling, log capture) are in test/testkit.
//
// It is imported by tests only; nothing under cmd/ or pkg/ uses it.
package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/powerjockey/powerjockey/pkg/sim"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// Build compiles cmd/powerjockey into dir and returns the binary's path.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "powerjockey")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/powerjockey/powerjockey/cmd/powerjockey")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build powerjockey: %w", err)
	}
	return bin, nil
}

// RequireVMs skips (or, under CI, fails) unless machines can run as QEMU
// VMs (sim.CheckVMTools names what is missing); uefi asks for OVMF too.
func RequireVMs(t testing.TB, uefi bool) {
	t.Helper()
	testkit.Missing(t, sim.CheckVMTools(sim.VMConfig{UEFI: uefi}))
}

// RunMain is the TestMain of a package that drives the binary: it builds
// it into a temporary directory, sets *binary, runs the tests, cleans up
// and exits with their status.
func RunMain(m *testing.M, name string, binary *string) {
	dir, err := os.MkdirTemp("", "powerjockey-"+name+"-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*binary, err = Build(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
