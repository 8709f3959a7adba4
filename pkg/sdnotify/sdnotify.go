// Package sdnotify tells systemd about service state (sd_notify(3)) for
// Type=notify units. It is a no-op when NOTIFY_SOCKET is unset.
package sdnotify

import (
	"net"
	"os"
)

// Notify sends state (e.g. "READY=1") to the service manager. It reports
// whether a message was sent.
func Notify(state string) (bool, error) {
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
