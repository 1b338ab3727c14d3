package microvm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/moby/sys/mountinfo"
	"google.golang.org/protobuf/proto"

	"github.com/fargo-dev/fargo/internal/guest/api"
	"github.com/fargo-dev/fargo/internal/runtime"
)

// bootTimeout bounds a VM's boot to the guest's first answer (TCG boots take
// seconds on 2 loaded cores).
const bootTimeout = 90 * time.Second

// CreateSandbox implements runtime.Runtime: it boots the VM in the sandbox's
// netns and has the guest take the pod's network and size.
func (r *Runtime) CreateSandbox(ctx context.Context, sb runtime.Sandbox) error {
	if sb.ID == "" {
		return errors.New("creating sandbox: empty ID")
	}
	if sb.NetnsPath == "" {
		return fmt.Errorf("creating sandbox %s: no network namespace (the agent prepares one)", sb.ID)
	}
	defer r.lock(sb.ID)()
	v := r.vm(sb.ID)
	if v.pid() != 0 {
		// Booted already (a create cut off after the boot): set up again; one
		// cut off before its setup was saved boots again.
		if _, err := os.Stat(v.path("setup.pb")); err == nil {
			return r.setup(ctx, v, sb.ID)
		}
		if err := v.kill(); err != nil {
			return fmt.Errorf("creating sandbox %s: %w", sb.ID, err)
		}
	}
	if stopped(v) {
		return nil // a stopped sandbox does not start again
	}
	for _, d := range []string{v.share("files"), v.share("logs"), v.share("rootfs"), v.share("mounts")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("creating sandbox %s: %w", sb.ID, err)
		}
	}
	if err := writeFiles(v, sb.Files); err != nil {
		return fmt.Errorf("creating sandbox %s: %w", sb.ID, err)
	}
	b, err := json.Marshal(sb)
	if err != nil {
		return err
	}
	if err := os.WriteFile(v.path("sandbox.json"), b, 0o600); err != nil {
		return fmt.Errorf("creating sandbox %s: %w", sb.ID, err)
	}
	for try := 1; try <= bootTries; try++ {
		var c bootClock
		if c, err = r.boot(ctx, v, sb); err == nil {
			return c.record(v, r.machine.accel, try)
		}
		// Nothing half-booted stays: the next try, or CreateSandbox, starts afresh.
		r.dropGuest(sb.ID)
		_ = v.kill()
		if !errors.Is(err, errBootHung) {
			break
		}
	}
	return fmt.Errorf("creating sandbox %s: %w", sb.ID, err)
}

// bootTries bounds the boots of one VM: a kernel that says nothing in
// kernelDeadline is killed and booted again. Under TCG here, boots hang at
// random in the kernel's LAPIC timer calibration, waiting for PIT ticks that
// never come (docs/microvm.md).
const bootTries = 5

// boot starts the VM on the sandbox's network and sets the guest up.
func (r *Runtime) boot(ctx context.Context, v vm, sb runtime.Sandbox) (bootClock, error) {
	c := bootClock{start: time.Now()}
	n, err := attachTap(sb.NetnsPath)
	if err != nil {
		return c, err
	}
	_ = os.Remove(v.path("console.log"))
	_ = os.Remove(v.path("setup.pb"))
	err = r.machine.boot(ctx, v, n.tap, sb.ID, n.setup.Mac, sb.MilliCPU, sb.MemoryMiB)
	n.tap.Close() // QEMU holds it
	if err != nil {
		return c, err
	}
	c.qemu = time.Now()
	if err := v.awaitKernel(ctx); err != nil {
		return c, err
	}
	c.console = time.Now()
	n.setup.Hostname, n.setup.MilliCpu, n.setup.MemoryBytes = sb.Hostname, sb.MilliCPU, sb.MemoryMiB<<20
	b, err := proto.Marshal(n.setup)
	if err != nil {
		return c, err
	}
	if err := os.WriteFile(v.path("setup.pb"), b, 0o600); err != nil {
		return c, err
	}
	return c, r.setup(ctx, v, sb.ID)
}

// setup has the guest take the pod's network and size (setup.pb, read from
// the sandbox's netns at boot); Setup is idempotent.
func (r *Runtime) setup(ctx context.Context, v vm, id string) error {
	b, err := os.ReadFile(v.path("setup.pb"))
	if err != nil {
		return fmt.Errorf("reading the guest's setup: %w", err)
	}
	var req api.SetupRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		return fmt.Errorf("reading the guest's setup: %w", err)
	}
	g, err := r.guest(ctx, id)
	if err != nil {
		return err
	}
	if _, err := g.Setup(ctx, &req); err != nil {
		return fmt.Errorf("setting the guest up: %w", err)
	}
	return nil
}

// writeFiles puts the pod's /etc files in the share, bound into containers.
func writeFiles(v vm, f runtime.PodFiles) error {
	for name, content := range map[string]string{"hosts": f.Hosts, "hostname": f.Hostname, "resolv.conf": f.ResolvConf} {
		if err := os.WriteFile(v.share("files", name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// guest is the sandbox's guest connection, made on first use (after a boot
// or an agent restart) and made again when the last one broke.
func (r *Runtime) guest(ctx context.Context, id string) (*guestConn, error) {
	v := r.vm(id)
	socket := v.path("guest.sock")
	slot := slotOf(socket)
	slot.Lock()
	defer slot.Unlock()
	if slot.conn != nil && !slot.conn.closed() {
		return slot.conn, nil
	}
	if v.pid() == 0 {
		if _, err := r.loadSandbox(id); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("the VM of sandbox %s is not running: %s", id, v.consoleTail())
	}
	cctx, cancel := context.WithTimeout(ctx, bootTimeout)
	defer cancel()
	g, err := connect(cctx, socket, func() bool { return v.pid() != 0 })
	if err != nil {
		return nil, fmt.Errorf("%w; console: %s", err, v.consoleTail())
	}
	if slot.conn != nil {
		_ = slot.conn.Close()
	}
	slot.conn = g
	return g, nil
}

func (r *Runtime) dropGuest(id string) {
	socket := r.vm(id).path("guest.sock")
	guests.Lock()
	slot := guests.bySocket[socket]
	delete(guests.bySocket, socket)
	guests.Unlock()
	if slot != nil {
		slot.Lock()
		if slot.conn != nil {
			_ = slot.conn.Close()
		}
		slot.Unlock()
	}
}

// StopSandbox implements runtime.Runtime: the containers are killed, their
// statuses kept on the host, and the VM stopped.
func (r *Runtime) StopSandbox(ctx context.Context, id string) error {
	defer r.lock(id)()
	v := r.vm(id)
	if _, err := r.loadSandbox(id); errors.Is(err, runtime.ErrNotFound) {
		return nil
	}
	if v.pid() != 0 {
		if err := r.stopContainers(ctx, id); err != nil {
			return fmt.Errorf("stopping sandbox %s: %w", id, err)
		}
	}
	r.dropGuest(id)
	if err := v.kill(); err != nil {
		return fmt.Errorf("stopping sandbox %s: %w", id, err)
	}
	return unmountUnder(v.share())
}

// stopContainers kills every container and records their statuses.
func (r *Runtime) stopContainers(ctx context.Context, id string) error {
	g, err := r.guest(ctx, id)
	if err != nil {
		return err
	}
	list, err := r.guestContainers(ctx, g)
	if err != nil {
		return err
	}
	for _, c := range list {
		if c.State == runtime.StateRunning {
			if err := r.stopIn(ctx, g, guestID(c), 0); err != nil {
				return err
			}
		}
	}
	list, err = r.guestContainers(ctx, g)
	if err != nil {
		return err
	}
	if err := writeStatuses(r.vm(id), list); err != nil {
		return err
	}
	return os.WriteFile(r.vm(id).path("stopped"), nil, 0o600)
}

// RemoveSandbox implements runtime.Runtime.
func (r *Runtime) RemoveSandbox(ctx context.Context, id string) error {
	defer r.lock(id)()
	v := r.vm(id)
	if _, err := os.Stat(v.dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	r.dropGuest(id)
	if err := v.kill(); err != nil {
		return fmt.Errorf("removing sandbox %s: %w", id, err)
	}
	if err := unmountUnder(v.share()); err != nil {
		return fmt.Errorf("removing sandbox %s: %w", id, err)
	}
	if err := r.images.RemoveRootfsOf(ctx, id); err != nil {
		return fmt.Errorf("removing sandbox %s: %w", id, err)
	}
	// Nothing may stay mounted: RemoveAll would delete through a bound volume.
	if left, err := mountsUnder(v.dir); err != nil || len(left) > 0 {
		return fmt.Errorf("removing sandbox %s: %d mounts left under %s (%v)", id, len(left), v.dir, err)
	}
	if err := os.RemoveAll(v.dir); err != nil {
		return fmt.Errorf("removing sandbox %s: %w", id, err)
	}
	r.mu.Lock()
	delete(r.locks, id)
	r.mu.Unlock()
	return nil
}

// unmountUnder unmounts everything mounted below dir (root filesystems and
// volumes in a share), deepest first.
func unmountUnder(dir string) error {
	mounts, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i].Mountpoint) > len(mounts[j].Mountpoint) })
	for _, m := range mounts {
		if err := syscall.Unmount(m.Mountpoint, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			return fmt.Errorf("unmounting %s: %w", m.Mountpoint, err)
		}
	}
	return nil
}

// mountsUnder lists the mounts at dir or below it.
func mountsUnder(dir string) ([]*mountinfo.Info, error) {
	dir = filepath.Clean(dir)
	mounts, err := mountinfo.GetMounts(func(m *mountinfo.Info) (skip, stop bool) {
		return m.Mountpoint != dir && !strings.HasPrefix(m.Mountpoint, dir+"/"), false
	})
	if err != nil {
		return nil, fmt.Errorf("listing mounts: %w", err)
	}
	return mounts, nil
}

// slotOf is the connection slot of a VM's agent socket.
func slotOf(socket string) *guestSlot {
	guests.Lock()
	defer guests.Unlock()
	slot := guests.bySocket[socket]
	if slot == nil {
		slot = &guestSlot{}
		guests.bySocket[socket] = slot
	}
	return slot
}
