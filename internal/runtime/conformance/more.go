package conformance

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fargo-dev/fargo/internal/runtime"
)

func stats(t *testing.T, f Fixture) {
	ctx, rt, sb := setup(t, f, 8)
	if _, err := rt.StartContainer(ctx, sb.ID, runtime.Container{Name: "main", Image: f.Image, Command: f.Sleep}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := rt.Stats(ctx, sb.ID)
		if err != nil {
			t.Fatalf("Stats: %v", err)
		}
		if st.CPU > 0 && len(st.Containers) == 1 && st.Containers[0].Name == "main" && st.Containers[0].CPU > 0 && st.Containers[0].CPU <= st.CPU {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Stats = %+v after 10 s of a running container, want some CPU time, main's among it", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := rt.Stats(ctx, "ip-no-such-sandbox"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Stats of a missing sandbox: %v, want ErrNotFound", err)
	}
}

// adoption: a second connection to the backend (an agent restarted) finds the
// sandbox and its running container as they were.
func adoption(t *testing.T, f Fixture) {
	ctx, rt, sb := setup(t, f, 9)
	st, err := rt.StartContainer(ctx, sb.ID, runtime.Container{Name: "main", Image: f.Image, Command: f.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	again := f.New(t)
	defer again.Close()
	if ids, err := again.Sandboxes(ctx); err != nil || !slices.Contains(ids, sb.ID) {
		t.Fatalf("after reconnecting, Sandboxes = %v, %v; want %s", ids, err, sb.ID)
	}
	got := status(t, ctx, again, sb.ID, "main")
	if got.ID != st.ID || got.State != runtime.StateRunning {
		t.Errorf("after reconnecting: %+v, want %s Running", got, st.ID)
	}
}

// mountsAndFiles: a host path mounted read-only is visible, and the sandbox's
// hosts, hostname and resolv.conf are what it was given, unless a container
// mounts its own.
func mountsAndFiles(t *testing.T, f Fixture) {
	ctx, rt, sb := setup(t, f, 11)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "greeting"), []byte("hello from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	own := filepath.Join(dir, "own-resolv.conf")
	if err := os.WriteFile(own, []byte("nameserver 10.9.9.9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := runtime.Container{Name: "main", Image: f.Image, Command: f.Sleep, Mounts: []runtime.Mount{
		{HostPath: dir, ContainerPath: "/data", ReadOnly: true},
		{HostPath: own, ContainerPath: "/etc/resolv.conf", ReadOnly: true},
	}, Sysctls: map[string]string{"kernel.shm_rmid_forced": "1"}}
	if _, err := rt.StartContainer(ctx, sb.ID, c); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/data/greeting":   "hello from the host",
		"/etc/hosts":       "localhost",
		"/etc/hostname":    "conformance",
		"/etc/resolv.conf": "nameserver 10.9.9.9",
		// The pod's sysctls, set in its namespaces (here the IPC one).
		"/proc/sys/kernel/shm_rmid_forced": "1",
	} {
		res, err := runtime.ExecOutput(ctx, rt, sb.ID, "main", f.ReadFile(path), 5*time.Second)
		if err != nil || res.ExitCode != 0 || !strings.Contains(string(res.Output), want) {
			t.Errorf("%s in the container = %q (exit %d, %v); want %q", path, res.Output, res.ExitCode, err, want)
		}
	}
	if res, _ := runtime.ExecOutput(ctx, rt, sb.ID, "main", f.Exit(0), 5*time.Second); res.ExitCode != 0 {
		t.Errorf("exec after mounts: exit %d", res.ExitCode)
	}
}

// network: the host reaches a server in the sandbox at the sandbox's IP.
func network(t *testing.T, f Fixture) {
	ctx, rt, sb := setup(t, f, 12)
	const port = 8080
	if _, err := rt.StartContainer(ctx, sb.ID, runtime.Container{Name: "server", Image: f.Image, Command: f.Listen(port)}); err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort(sb.IP.String(), fmt.Sprint(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("dialling %s from the host: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// portForward reaches a server that listens on the sandbox's loopback only, as
// kubectl port-forward does, one connection per stream.
func portForward(t *testing.T, f Fixture) {
	ctx, rt, sb := setup(t, f, 15)
	const port = 8081
	if _, err := rt.StartContainer(ctx, sb.ID, runtime.Container{Name: "local", Image: f.Image, Command: f.ListenLocal(port)}); err != nil {
		t.Fatal(err)
	}
	get := func() (string, error) {
		ours, theirs := net.Pipe()
		errc := make(chan error, 1)
		go func() { errc <- rt.PortForward(ctx, sb.ID, port, theirs) }()
		_ = ours.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(ours, "GET / HTTP/1.0\r\n\r\n"); err != nil {
			return "", fmt.Errorf("writing: %w (PortForward: %v)", err, <-errc)
		}
		data, _ := io.ReadAll(ours)
		ours.Close()
		return string(data), <-errc
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := get()
		if err == nil && strings.HasPrefix(out, "HTTP/1.") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("port-forward to 127.0.0.1:%d of the sandbox: %q, %v", port, out, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The server is on the sandbox's loopback only: not reachable at its IP.
	if c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", net.JoinHostPort(sb.IP.String(), fmt.Sprint(port))); err == nil {
		c.Close()
		t.Errorf("the loopback-only server answers at the sandbox's IP: the test proves nothing")
	}
	ours, theirs := net.Pipe()
	defer ours.Close()
	if err := rt.PortForward(ctx, sb.ID, 9, theirs); err == nil {
		t.Error("port-forward to a port nothing listens on: no error")
	}
	if err := rt.PortForward(ctx, "ip-no-such-sandbox", port, nopCloser{}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("port-forward to a missing sandbox: %v; want ErrNotFound", err)
	}
}

type nopCloser struct{ io.ReadWriter }

func (nopCloser) Close() error { return nil }

func limits(t *testing.T, f Fixture) {
	_, _, sb := setup(t, f, 13)
	cpu, mem := f.Limits(t, sb.ID)
	if cpu != sb.MilliCPU || mem != sb.MemoryMiB {
		t.Errorf("limits = %d mCPU, %d MiB; want the provisioned %d mCPU, %d MiB", cpu, mem, sb.MilliCPU, sb.MemoryMiB)
	}
}

// startAfterCrash: a start cut off midway by a crash does not block the next one.
func startAfterCrash(t *testing.T, f Fixture) {
	ctx, rt, sb := setup(t, f, 14)
	f.HalfMade(t, ctx, sb.ID, "main", 0)
	st, err := rt.StartContainer(ctx, sb.ID, runtime.Container{Name: "main", Image: f.Image, Command: f.Sleep})
	if err != nil {
		t.Fatalf("StartContainer after a half-made start: %v", err)
	}
	if st.State != runtime.StateRunning {
		t.Errorf("state after a half-made start = %s, want running", st.State)
	}
}
