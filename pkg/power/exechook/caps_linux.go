package exechook

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"

	"golang.org/x/sys/unix"
)

// startUnprivileged starts c from an OS thread that has cleared its
// ambient and inheritable capability sets, so the hook gets no capability
// from the daemon.
//
// The systemd unit gives the daemon CAP_NET_RAW and CAP_NET_BIND_SERVICE
// as ambient capabilities (the only way a non-root service keeps them with
// NoNewPrivileges=yes), and ambient capabilities pass to every program the
// process executes: an ssh or curl hook would run with them. Capabilities
// belong to threads, and a child inherits the sets of the thread that
// forks it, so clearing them on a thread locked for this one start drops
// them for the hook only: the daemon's other threads keep their
// capabilities (raw Wake-on-LAN frames, ICMP probes, port 623). The thread
// is never unlocked, so the Go runtime ends it with the goroutine rather
// than reuse it. This works whether or not cgo is linked, unlike a
// process-wide change (syscall.AllThreadsSyscall refuses under cgo).
func startUnprivileged(c *exec.Cmd) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := dropChildCapabilities(); err != nil {
			errc <- fmt.Errorf("dropping capabilities before the hook: %w", err)
			return
		}
		errc <- c.Start()
	}()
	return <-errc
}

// dropChildCapabilities clears the calling thread's ambient and
// inheritable sets, keeping its permitted and effective sets. Without an
// ambient or inheritable capability, an executed program without file
// capabilities (and NoNewPrivileges forbids those) starts with none.
func dropChildCapabilities() error {
	// EINVAL: a kernel before 4.3 has no ambient set to clear.
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("prctl(PR_CAP_AMBIENT_CLEAR_ALL): %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	if data[0].Inheritable == 0 && data[1].Inheritable == 0 {
		return nil
	}
	data[0].Inheritable, data[1].Inheritable = 0, 0
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}
