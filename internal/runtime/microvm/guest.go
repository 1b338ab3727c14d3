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
	done   chan struct{} // closed when the connection ends
}

func (c *guestConn) closed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// connect dials the VM's agent socket (QEMU's end of the virtio-serial port)
// until the guest answers Hello, the VM is gone (alive says) or ctx ends, and
// checks the guest's protocol.
func connect(ctx context.Context, socket string, alive func() bool) (*guestConn, error) {
	var last error
	for {
		c, err := tryConnect(ctx, socket)
		if err == nil {
			return c, nil
		}
		last = err
		if !alive() {
			return nil, fmt.Errorf("connecting to the guest: the VM stopped (last: %v)", last)
		}
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
	done := make(chan struct{})
	client := ttrpc.NewClient(conn, ttrpc.WithOnClose(func() { close(done) }))
	c := &guestConn{GuestClient: api.NewGuestClient(client), client: client, done: done}
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
