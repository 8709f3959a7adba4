package console

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// baudRates are the speeds a serial device may be set to.
var baudRates = map[int]uint32{
	1200: unix.B1200, 2400: unix.B2400, 4800: unix.B4800, 9600: unix.B9600,
	19200: unix.B19200, 38400: unix.B38400, 57600: unix.B57600,
	115200: unix.B115200, 230400: unix.B230400,
}

// serialLink is a serial device in raw mode, 8N1, without flow control:
// what a server's console port speaks.
type serialLink struct{ *os.File }

func openSerial(path string, baud int) (link, error) {
	speed, ok := baudRates[baud]
	if !ok {
		return nil, fmt.Errorf("unsupported speed %d", baud)
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("%s is not a terminal: %w", path, err)
	}
	// cfmakeraw, 8N1, receiver on, modem lines ignored.
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CSTOPB | unix.CRTSCTS | unix.CBAUD
	t.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL | speed
	t.Ispeed, t.Ospeed = speed, speed
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("configure %s: %w", path, err)
	}
	// A non-blocking descriptor joins Go's poller: reads wait without a
	// thread and Close interrupts them.
	return serialLink{os.NewFile(uintptr(fd), path)}, nil
}

func (l serialLink) setWriteDeadline(t time.Time) error { return l.SetWriteDeadline(t) }

// sendBreak holds the line low for 0.25-0.5 s (tcsendbreak(fd, 0)).
func (l serialLink) sendBreak() error {
	rc, err := l.SyscallConn()
	if err != nil {
		return err
	}
	var ioErr error
	if err := rc.Control(func(fd uintptr) { ioErr = unix.IoctlSetInt(int(fd), unix.TCSBRK, 0) }); err != nil {
		return err
	}
	return ioErr
}
