package main

import (
	"log/slog"
	"net"
	"os"
)

// The daemon tells systemd about its state (sd_notify(3)) for Type=notify
// units; without NOTIFY_SOCKET (not under systemd) nothing is sent.

func notifyReady(log *slog.Logger) {
	if _, err := sdNotify("READY=1"); err != nil {
		log.Warn("cannot notify systemd", "err", err)
	}
}

func notifyStopping() { _, _ = sdNotify("STOPPING=1") }

// sdNotify sends state (e.g. "READY=1") to the service manager. It reports
// whether a message was sent.
func sdNotify(state string) (bool, error) {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return false, nil
	}
	if addr[0] == '@' { // abstract socket
		addr = "\x00" + addr[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return false, err
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return false, err
	}
	return true, nil
}
