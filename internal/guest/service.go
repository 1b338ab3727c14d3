package guest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/ttrpc"
	"golang.org/x/sys/unix"

	"github.com/fargo-dev/fargo/internal/guest/api"
)

// Protocol is the protocol's package name, its version.
const Protocol = "fargo.guest.v1"

// Version is fargo-guest's own version (set by the build).
var Version = "dev"

// service implements api.GuestService.
type service struct {
	cs   *containers
	boot time.Time
}

// Serve answers the host on the virtio-serial port until it fails.
func Serve(ctx context.Context) error {
	l, err := listenPort(PortName)
	if err != nil {
		return err
	}
	// Each call is logged on the guest's console (the host's console.log).
	srv, err := ttrpc.NewServer(ttrpc.WithUnaryServerInterceptor(func(ctx context.Context, u ttrpc.Unmarshaler, info *ttrpc.UnaryServerInfo, m ttrpc.Method) (interface{}, error) {
		start := time.Now()
		resp, err := m(ctx, u)
		logf("%s: %s, %v", info.FullMethod, time.Since(start).Round(time.Millisecond), err)
		return resp, err
	}))
	if err != nil {
		return fmt.Errorf("creating the ttrpc server: %w", err)
	}
	api.RegisterGuestService(srv, &service{cs: &containers{reaper: newReaper(), byID: map[string]*container{}}, boot: time.Now()})
	logf("serving %s on %s", Protocol, l.path)
	return srv.Serve(ctx, l)
}

func (s *service) Hello(_ context.Context, req *api.HelloRequest) (*api.HelloResponse, error) {
	if req.HostUnixNano != 0 {
		host := time.Unix(0, req.HostUnixNano)
		if d := time.Since(host); d > time.Second || d < -time.Second {
			tv := unix.NsecToTimeval(host.UnixNano())
			_ = unix.Settimeofday(&tv)
		}
	}
	var u unix.Utsname
	_ = unix.Uname(&u)
	return &api.HelloResponse{Protocol: Protocol, GuestVersion: Version, Kernel: unix.ByteSliceToString(u.Release[:]), BootUnixNano: s.boot.UnixNano()}, nil
}

func (s *service) Setup(_ context.Context, req *api.SetupRequest) (*api.Empty, error) {
	return &api.Empty{}, setup(req)
}

func (s *service) Create(_ context.Context, req *api.CreateRequest) (*api.Container, error) {
	c, err := s.cs.create(req)
	if err != nil {
		return nil, err
	}
	return c.status(), nil
}

func (s *service) Kill(_ context.Context, req *api.KillRequest) (*api.Empty, error) {
	return &api.Empty{}, s.cs.kill(req.Id, unix.Signal(req.Signal), req.All)
}

func (s *service) Remove(_ context.Context, req *api.RemoveRequest) (*api.Empty, error) {
	return &api.Empty{}, s.cs.remove(req.Id)
}

func (s *service) List(context.Context, *api.Empty) (*api.ListResponse, error) {
	return &api.ListResponse{Containers: s.cs.list()}, nil
}

func (s *service) Update(_ context.Context, req *api.UpdateRequest) (*api.Empty, error) {
	return &api.Empty{}, s.cs.update(req.Id, req.Resources, req.Labels)
}

func (s *service) Stats(context.Context, *api.Empty) (*api.StatsResponse, error) {
	pod, err := usage("", CgroupRoot)
	if err != nil {
		return nil, fmt.Errorf("reading the pod's usage: %w", err)
	}
	out := &api.StatsResponse{Pod: pod, PodCpuMax: readTrim(filepath.Join(CgroupRoot, "cpu.max")), PodMemoryMax: readTrim(filepath.Join(CgroupRoot, "memory.max"))}
	for _, c := range s.cs.list() {
		if !c.Running {
			continue
		}
		s.cs.mu.Lock()
		ctr := s.cs.byID[c.Id]
		s.cs.mu.Unlock()
		if ctr == nil {
			continue
		}
		if u, err := usage(c.Id, filepath.Join("/sys/fs/cgroup", ctr.cgroup)); err == nil {
			out.Containers = append(out.Containers, u)
		}
	}
	return out, nil
}

func (s *service) Exec(_ context.Context, srv api.Guest_ExecServer) error { return s.cs.exec(srv) }

func (s *service) Dial(_ context.Context, srv api.Guest_DialServer) error { return dial(srv) }

// Main is fargo-guest's main: boot, then serve the host; PID 1 never returns,
// so a failure powers the VM off after saying why on the console.
func Main() {
	if err := Boot(); err != nil {
		fatal(err)
	}
	if err := Serve(context.Background()); err != nil {
		fatal(err)
	}
}

// logf writes to the guest's console (the host's console.log).
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "fargo-guest: "+format+"\n", args...)
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "fargo-guest: %v\n", err)
	if os.Getpid() == 1 {
		unix.Sync()
		_ = unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	}
	os.Exit(1)
}
