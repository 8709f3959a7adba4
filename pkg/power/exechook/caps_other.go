//go:build !linux

package exechook

import "os/exec"

// startUnprivileged starts c; only Linux has ambient capabilities to drop.
func startUnprivileged(c *exec.Cmd) error { return c.Start() }
