package microvm

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/containerd/ttrpc"

	"github.com/fargo-dev/fargo/internal/guest"
	"github.com/fargo-dev/fargo/internal/guest/api"
	"github.com/fargo-dev/fargo/internal/version"
)

// guestConn is a connection to one VM's fargo-guest.
type guestConn struct {
	api.GuestClient
	client *ttrpc.Client
	hello  *api.HelloResponse
}

// connect dials the VM's agent socket (QEMU's end of the virtio-serial port)
// until the guest answers Hello or ctx ends, and checks its protocol.
func connect(ctx context.Context, socket string) (*guestConn, error) {
	var last error
	for {
		c, err := tryConnect(ctx, socket)
		if err == nil {
			return c, nil
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connecting to the guest at %s: %w (last: %v)", socket, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func tryConnect(ctx context.Context, socket string) (*guestConn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, err
	}
	client := ttrpc.NewClient(conn)
	c := &guestConn{GuestClient: api.NewGuestClient(client), client: client}
	hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c.hello, err = c.Hello(hctx, &api.HelloRequest{HostVersion: version.Version, HostUnixNano: time.Now().UnixNano()})
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("hello: %w", err)
	}
	if c.hello.Protocol != guest.Protocol {
		client.Close()
		return nil, fmt.Errorf("the guest speaks %s, this fargo %s: rebuild the guest (make guest)", c.hello.Protocol, guest.Protocol)
	}
	return c, nil
}

func (c *guestConn) Close() error { return c.client.Close() }
