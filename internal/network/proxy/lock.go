package proxy

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// lockPath is the machine-wide lock of the nftables table kube-proxy programs
// (`ip kube-proxy`): one proxier per machine, whichever agent started first.
var lockPath = "/run/fargo-kube-proxy.lock"

// ErrTaken is returned when another process on this machine runs the proxier.
var ErrTaken = errors.New("another fargo agent on this machine programs the service proxy's nftables table")

// lock takes the machine-wide proxier lock for as long as the process lives.
func lock() (*os.File, error) {
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("service proxy: opening %s: %w", lockPath, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, ErrTaken
		}
		return nil, fmt.Errorf("service proxy: locking %s: %w", lockPath, err)
	}
	return f, nil
}
