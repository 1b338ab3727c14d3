package containerd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	containerd "github.com/containerd/containerd/v2/client"
	"k8s.io/klog/v2"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// errNoStdin refuses stdin to a container that was not started to take it.
var errNoStdin = errors.New("the container's stdin is not open: it was not started with stdin: true, its stdinOnce attach has ended, or the agent restarted since")

// Attach implements runtime.Runtime: s joins the clients of the container's
// output, its stdin feeds the container's, until the container exits or ctx
// ends. With stdinOnce, the container's stdin closes when this client's does.
func (r *Runtime) Attach(ctx context.Context, sandboxID, name string, s runtime.Streams) error {
	ctx = r.ctx(ctx)
	task, _, err := r.runningTask(ctx, sandboxID, name)
	if err != nil {
		return err
	}
	v, ok := attached.Load(r.logKey(task.ID()))
	if !ok {
		return fmt.Errorf("attach to container %s: its output is not read by this agent", name)
	}
	l := v.(*logIO)
	if s.Stdin != nil {
		l.stdinMu.Lock()
		in := l.stdin
		l.stdinMu.Unlock()
		if in == nil {
			return fmt.Errorf("attach to container %s: %w", name, errNoStdin)
		}
		go func() {
			_, _ = io.Copy(in, s.Stdin)
			if l.stdio.stdinOnce {
				// The shim keeps the fifo open: the process's stdin is closed by RPC.
				l.closeStdin()
				if err := task.CloseIO(r.ctx(context.Background()), containerd.WithStdinCloser); err != nil {
					klog.Warningf("closing the stdin of container %s: %v", task.ID(), err)
				}
			}
		}()
	}
	gone := make(chan struct{})
	var once sync.Once
	defer l.stdout.subscribe(noticing(s.Stdout, func() { once.Do(func() { close(gone) }) }))()
	defer l.stderr.subscribe(noticing(s.Stderr, func() { once.Do(func() { close(gone) }) }))()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if s.Resize != nil {
		go func() {
			for {
				select {
				case size, ok := <-s.Resize:
					if !ok {
						return
					}
					_ = task.Resize(ctx, uint32(size.Width), uint32(size.Height))
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	select {
	case <-l.exited:
	case <-ctx.Done():
	case <-gone:
	}
	return nil
}

// noticing is w, calling failed when a write to it fails (the client went).
func noticing(w io.Writer, failed func()) io.Writer {
	if w == nil {
		return nil
	}
	return failingWriter{w, failed}
}

type failingWriter struct {
	w      io.Writer
	failed func()
}

func (f failingWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err != nil {
		f.failed()
	}
	return n, err
}
