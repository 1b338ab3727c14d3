package controlplane

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// Port is a listen port fargo opens, with the flag that sets it, so a clash can be
// reported in terms the user can act on.
type Port struct {
	Flag string
	Host string
	Port int
}

// CheckPorts fails with a message naming the flag when a port is already taken.
func CheckPorts(ports []Port) error {
	for _, p := range ports {
		if p.Port == 0 {
			continue
		}
		addr := net.JoinHostPort(p.Host, strconv.Itoa(p.Port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return fmt.Errorf("port %d on %s (%s) is already in use: stop the process using it or choose another port with %s", p.Port, p.Host, p.Flag, p.Flag)
			}
			return fmt.Errorf("cannot listen on %s (%s): %w", addr, p.Flag, err)
		}
		l.Close()
	}
	return nil
}
