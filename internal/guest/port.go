package guest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// portPath finds the device of the virtio-serial port called name (there is
// no udev in the guest to make /dev/virtio-ports/<name>).
func portPath(name string) (string, error) {
	entries, _ := filepath.Glob("/sys/class/virtio-ports/*/name")
	for _, e := range entries {
		if b, err := os.ReadFile(e); err == nil && strings.TrimSpace(string(b)) == name {
			return "/dev/" + filepath.Base(filepath.Dir(e)), nil
		}
	}
	return "", fmt.Errorf("no virtio-serial port named %s (found %d ports)", name, len(entries))
}

// portListener hands out the port as one connection at a time: a virtio port
// has one opener, and a host that went away (read gives EOF) comes back as a
// new connection once it connects again.
type portListener struct {
	path string
	free chan struct{} // holds a token while no connection is open
	done chan struct{}
}

func listenPort(name string) (*portListener, error) {
	path, err := portPath(name)
	if err != nil {
		return nil, err
	}
	l := &portListener{path: path, free: make(chan struct{}, 1), done: make(chan struct{})}
	l.free <- struct{}{}
	return l, nil
}

// Accept waits for the last connection to close and for the host to connect.
func (l *portListener) Accept() (net.Conn, error) {
	select {
	case <-l.free:
	case <-l.done:
		return nil, net.ErrClosed
	}
	for {
		f, err := os.OpenFile(l.path, os.O_RDWR, 0)
		if err != nil {
			l.free <- struct{}{}
			return nil, fmt.Errorf("opening %s: %w", l.path, err)
		}
		// POLLHUP stays set while no host is connected.
		fds := []unix.PollFd{{Fd: int32(f.Fd()), Events: unix.POLLOUT}}
		for {
			n, err := unix.Poll(fds, 1000)
			if err != nil && !errors.Is(err, unix.EINTR) {
				break
			}
			if n > 0 && fds[0].Revents&unix.POLLHUP == 0 && fds[0].Revents&unix.POLLOUT != 0 {
				return &portConn{File: f, release: func() { l.free <- struct{}{} }}, nil
			}
			time.Sleep(50 * time.Millisecond)
		}
		_ = f.Close()
	}
}

func (l *portListener) Close() error {
	close(l.done)
	return nil
}

func (l *portListener) Addr() net.Addr { return portAddr(l.path) }

type portAddr string

func (a portAddr) Network() string { return "virtio-serial" }
func (a portAddr) String() string  { return string(a) }

// portConn is the open port as a net.Conn for ttrpc.
type portConn struct {
	*os.File
	release func()
	once    sync.Once
}

func (c *portConn) Close() error {
	var err error
	c.once.Do(func() {
		err = c.File.Close()
		c.release()
	})
	return err
}

func (c *portConn) LocalAddr() net.Addr  { return portAddr(c.Name()) }
func (c *portConn) RemoteAddr() net.Addr { return portAddr("host") }
