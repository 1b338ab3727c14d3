package containerd

import (
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"

	"github.com/vishvananda/netns"
)

// PortForward implements runtime.Runtime: the connection is made from inside
// the sandbox's network namespace to its loopback, as containerd's CRI does.
func (r *Runtime) PortForward(ctx context.Context, sandboxID string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	sb, err := r.loadSandbox(sandboxID)
	if err != nil {
		return err
	}
	c, err := dialIn(ctx, sb.NetnsPath, net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	if err != nil {
		return fmt.Errorf("port-forward to port %d of sandbox %s: %w", port, sandboxID, err)
	}
	defer c.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(c, stream); _ = c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	go func() { _, _ = io.Copy(stream, c); done <- struct{}{} }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return nil
}

// dialIn dials addr from the network namespace at path. A socket belongs to
// the namespace of the thread that creates it, so the dial runs on a locked
// thread switched into it; the thread is switched back before it is released
// (or, if that fails, never reused: it ends with the goroutine).
func dialIn(ctx context.Context, path, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			ch <- result{err: fmt.Errorf("reading this thread's network namespace: %w", err)}
			return
		}
		defer orig.Close()
		target, err := netns.GetFromPath(path)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("opening network namespace %s: %w", path, err)}
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("entering network namespace %s: %w", path, err)}
			return
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}
