package microvm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/fargo-dev/fargo/internal/guest/api"
	"github.com/fargo-dev/fargo/internal/runtime"
)

// chunk is the most one stream message carries.
const chunk = 64 * 1024

// Exec implements runtime.Runtime over the guest's Exec stream; with a TTY
// the guest gives the process a terminal, whose output comes as stdout.
func (r *Runtime) Exec(ctx context.Context, sandboxID, name string, cmd []string, s runtime.Streams) (int, error) {
	g, c, err := r.running(ctx, sandboxID, name)
	if err != nil {
		return -1, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := g.GuestClient.Exec(ctx)
	if err != nil {
		return -1, fmt.Errorf("exec in %s: %w", name, err)
	}
	var sendMu sync.Mutex // stdin and resizes send at once
	send := func(in *api.ExecInput) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return stream.Send(in)
	}
	if err := send(&api.ExecInput{ContainerId: guestID(c), Args: cmd, Stdin: s.Stdin != nil, Tty: s.TTY}); err != nil {
		return -1, fmt.Errorf("exec in %s: %w", name, err)
	}
	if s.TTY && s.Resize != nil {
		go func() {
			for {
				select {
				case size, ok := <-s.Resize:
					if !ok || send(&api.ExecInput{Width: uint32(size.Width), Height: uint32(size.Height)}) != nil {
						return
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	if s.Stdin != nil {
		go func() {
			buf := make([]byte, chunk)
			for {
				n, err := s.Stdin.Read(buf)
				if n > 0 && send(&api.ExecInput{Data: append([]byte(nil), buf[:n]...)}) != nil {
					return
				}
				if err != nil {
					_ = send(&api.ExecInput{CloseStdin: true})
					return
				}
			}
		}()
	} else if !s.TTY || s.Resize == nil {
		_ = stream.CloseSend()
	}
	for {
		out, err := stream.Recv()
		if err != nil {
			return -1, fmt.Errorf("exec in %s: %w", name, err)
		}
		if len(out.Stdout) > 0 && s.Stdout != nil {
			_, _ = s.Stdout.Write(out.Stdout)
		}
		if len(out.Stderr) > 0 && s.Stderr != nil {
			_, _ = s.Stderr.Write(out.Stderr)
		}
		if out.Exited {
			return int(out.ExitCode), nil
		}
	}
}

// Attach implements runtime.Runtime: not yet for VMs.
func (r *Runtime) Attach(context.Context, string, string, runtime.Streams) error {
	return errors.New("attach is not supported by the microvm runtime yet")
}

// PortForward implements runtime.Runtime over the guest's Dial stream: the
// port is on the guest's loopback.
func (r *Runtime) PortForward(ctx context.Context, sandboxID string, port int32, conn io.ReadWriteCloser) error {
	defer conn.Close()
	g, err := r.guest(ctx, sandboxID)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := g.Dial(ctx)
	if err != nil {
		return fmt.Errorf("port-forward to %d: %w", port, err)
	}
	if err := stream.Send(&api.Chunk{Port: port}); err != nil {
		return fmt.Errorf("port-forward to %d: %w", port, err)
	}
	go func() {
		buf := make([]byte, chunk)
		for {
			n, err := conn.Read(buf)
			if n > 0 && stream.Send(&api.Chunk{Data: append([]byte(nil), buf[:n]...)}) != nil {
				return
			}
			if err != nil {
				_ = stream.Send(&api.Chunk{Eof: true})
				return
			}
		}
	}()
	for {
		in, err := stream.Recv()
		if err != nil {
			return fmt.Errorf("port-forward to %d: %w", port, err)
		}
		if len(in.Data) > 0 {
			if _, err := conn.Write(in.Data); err != nil {
				return err
			}
		}
		if in.Eof {
			return nil
		}
	}
}

// Stats implements runtime.Runtime from the guest's cgroups.
func (r *Runtime) Stats(ctx context.Context, id string) (runtime.Stats, error) {
	if _, err := r.loadSandbox(id); err != nil {
		return runtime.Stats{}, err
	}
	g, err := r.guest(ctx, id)
	if err != nil {
		return runtime.Stats{}, err
	}
	resp, err := g.GuestClient.Stats(ctx, &api.Empty{})
	if err != nil {
		return runtime.Stats{}, fmt.Errorf("reading usage of sandbox %s: %w", id, err)
	}
	list, err := r.guestContainers(ctx, g)
	if err != nil {
		return runtime.Stats{}, err
	}
	names := map[string]string{}
	for _, c := range list {
		names[guestID(c)] = c.Name
	}
	p := resp.Pod
	st := runtime.Stats{CPU: usec(p.CpuUsec), MemoryBytes: p.MemoryBytes, MemoryMaxBytes: p.MemoryPeakBytes, WorkingSetBytes: p.WorkingSetBytes}
	for _, c := range resp.Containers {
		st.Containers = append(st.Containers, runtime.ContainerStats{Name: names[c.Id], CPU: usec(c.CpuUsec), MemoryBytes: c.MemoryBytes, WorkingSetBytes: c.WorkingSetBytes})
	}
	return st, nil
}

// PodLimits reads the limits the guest set on the pod's cgroup: millicores
// (from cpu.max) and MiB (memory.max).
func (r *Runtime) PodLimits(ctx context.Context, id string) (milliCPU, memoryMiB int64, err error) {
	g, err := r.guest(ctx, id)
	if err != nil {
		return 0, 0, err
	}
	resp, err := g.GuestClient.Stats(ctx, &api.Empty{})
	if err != nil {
		return 0, 0, err
	}
	var quota, period, mem int64
	if _, err := fmt.Sscanf(resp.PodCpuMax, "%d %d", &quota, &period); err != nil || period == 0 {
		return 0, 0, fmt.Errorf("pod cpu.max %q: %v", resp.PodCpuMax, err)
	}
	if _, err := fmt.Sscanf(resp.PodMemoryMax, "%d", &mem); err != nil {
		return 0, 0, fmt.Errorf("pod memory.max %q: %v", resp.PodMemoryMax, err)
	}
	return quota * 1000 / period, mem >> 20, nil
}
