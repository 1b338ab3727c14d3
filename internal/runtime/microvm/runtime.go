package microvm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/fargo-dev/fargo/internal/runtime"
	"github.com/fargo-dev/fargo/internal/runtime/containerd"
)

func init() {
	runtime.Register(runtime.Backend{Name: "microvm", Help: "a QEMU micro-VM per sandbox, its own kernel (make guest)",
		New: func(ctx context.Context, cfg runtime.Config) (runtime.Runtime, error) { return Start(ctx, cfg) }})
}

// Runtime is the microvm backend.
type Runtime struct {
	dir     string // DATA/microvm
	machine machine
	images  *containerd.Runtime
	// owned is whether Close stops images (Start started it).
	owned bool

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// guests are the open guest connections of this process, by agent socket: a
// VM's port takes one connection, so instances of the backend over the same
// directory share it (connected on first use).
var guests = struct {
	sync.Mutex
	bySocket map[string]*guestSlot
}{bySocket: map[string]*guestSlot{}}

// guestSlot holds one VM's connection; its lock is held while connecting.
type guestSlot struct {
	sync.Mutex
	conn *guestConn
}

// Options locate what the backend runs.
type Options struct {
	// Guest is the directory holding vmlinuz and initrd.img (make guest).
	Guest string
	// QEMU is qemu-system-x86_64.
	QEMU string
	// Accel is "kvm" or "tcg"; empty probes KVM and falls back to TCG.
	Accel string
}

// GuestDir is where the guest is looked for: $FARGO_GUEST_DIR, else
// microvm/ beside the fargo binary (bin/microvm after make guest), else
// /usr/local/lib/fargo/microvm.
func GuestDir() string {
	if d := os.Getenv("FARGO_GUEST_DIR"); d != "" {
		return d
	}
	if exe, err := os.Executable(); err == nil {
		d := filepath.Join(filepath.Dir(exe), "microvm")
		if _, err := os.Stat(filepath.Join(d, "initrd.img")); err == nil {
			return d
		}
	}
	return "/usr/local/lib/fargo/microvm"
}

// Start starts the backend with images from a containerd backend among
// cfg.Peers, else from fargo's containerd, started (in DATA/containerd beside
// cfg.Dir) and stopped with it.
func Start(ctx context.Context, cfg runtime.Config) (*Runtime, error) {
	var images *containerd.Runtime
	for _, p := range cfg.Peers {
		if c, ok := p.(*containerd.Runtime); ok {
			images = c
		}
	}
	owned := images == nil
	if owned {
		var err error
		images, err = containerd.Start(ctx, runtime.Config{Dir: filepath.Join(filepath.Dir(cfg.Dir), "containerd"),
			LogFile: filepath.Join(filepath.Dir(cfg.LogFile), "containerd.log"), Host: cfg.Host,
			InsecureRegistries: cfg.InsecureRegistries, Warn: cfg.Warn})
		if err != nil {
			return nil, err
		}
	}
	r, err := New(cfg.Dir, images, Options{Guest: GuestDir()})
	if err != nil {
		if owned {
			images.Close()
		}
		return nil, err
	}
	r.owned = owned
	if cfg.Warn != nil && r.machine.accel == "tcg" {
		cfg.Warn(fmt.Errorf("microvm: %s; VMs run under TCG (emulated CPUs: boots take seconds)", kvmUnavailable()))
	}
	return r, nil
}

// New is the backend over dir, taking images from the containerd backend.
func New(dir string, images *containerd.Runtime, o Options) (*Runtime, error) {
	if o.QEMU == "" {
		o.QEMU = "qemu-system-x86_64"
	}
	qemu, err := exec.LookPath(o.QEMU)
	if err != nil {
		return nil, fmt.Errorf("finding QEMU: %w (install Debian's qemu-system-x86)", err)
	}
	m := machine{qemu: qemu, kernel: filepath.Join(o.Guest, "vmlinuz"), initrd: filepath.Join(o.Guest, "initrd.img"), accel: o.Accel}
	for _, f := range []string{m.kernel, m.initrd} {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("the micro-VM guest: %w (build it with make guest, or set FARGO_GUEST_DIR)", err)
		}
	}
	if m.accel == "" {
		m.accel = "tcg"
		if kvmUnavailable() == "" {
			m.accel = "kvm"
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &Runtime{dir: dir, machine: m, images: images, locks: map[string]*sync.Mutex{}}, nil
}

// Accel says how VMs run: "kvm" or "tcg".
func (r *Runtime) Accel() string { return r.machine.accel }

// Name implements runtime.Runtime.
func (r *Runtime) Name() string { return "microvm" }

// Capabilities implements runtime.Runtime.
func (r *Runtime) Capabilities() runtime.Capabilities {
	return runtime.Capabilities{HostNetwork: true, Processes: true, Isolation: runtime.IsolationMicroVM}
}

// Version implements runtime.Runtime: QEMU's and the guest kernel's.
func (r *Runtime) Version(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, r.machine.qemu, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("asking QEMU its version: %w", err)
	}
	// "QEMU emulator version 7.2.19 (Debian 1:7.2+dfsg-7+deb12u18)"
	f := strings.Fields(strings.SplitN(string(out), "\n", 2)[0])
	v := "unknown"
	if len(f) >= 4 {
		v = f[3]
	}
	return "microvm://qemu-" + v + "-" + r.machine.accel, nil
}

// PullImage implements runtime.Runtime: images live in fargo's containerd.
func (r *Runtime) PullImage(ctx context.Context, ref string, policy runtime.PullPolicy, auth []runtime.Auth) (runtime.Image, error) {
	return r.images.PullImage(ctx, ref, policy, auth)
}

func (r *Runtime) vm(id string) vm { return vm{dir: filepath.Join(r.dir, id)} }

// lock serialises the calls on one sandbox.
func (r *Runtime) lock(id string) func() {
	r.mu.Lock()
	l, ok := r.locks[id]
	if !ok {
		l = &sync.Mutex{}
		r.locks[id] = l
	}
	r.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// Sandboxes implements runtime.Runtime.
func (r *Runtime) Sandboxes(context.Context) ([]string, error) {
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, fmt.Errorf("listing sandboxes: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(r.dir, e.Name(), "sandbox.json")); err == nil {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// loadSandbox reads the sandbox's record.
func (r *Runtime) loadSandbox(id string) (runtime.Sandbox, error) {
	var sb runtime.Sandbox
	b, err := os.ReadFile(r.vm(id).path("sandbox.json"))
	if errors.Is(err, os.ErrNotExist) {
		return sb, fmt.Errorf("sandbox %s: %w", id, runtime.ErrNotFound)
	}
	if err != nil {
		return sb, err
	}
	return sb, json.Unmarshal(b, &sb)
}

// Close implements runtime.Runtime; VMs keep running.
func (r *Runtime) Close() error {
	guests.Lock()
	for socket, slot := range guests.bySocket {
		if strings.HasPrefix(socket, r.dir+"/") {
			slot.Lock()
			if slot.conn != nil {
				_ = slot.conn.Close() // another instance connects again on its next call
				slot.conn = nil
			}
			slot.Unlock()
		}
	}
	guests.Unlock()
	if r.owned {
		return r.images.Close()
	}
	return nil
}
