// Package conformance is the test suite every runtime backend passes: the same
// behaviour asked of the fake and of containerd, so the agent can rely on it.
// A backend's test calls Run with a Fixture saying how to express, in that
// backend, a container that keeps running and one that exits with a code.
package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// Fixture adapts the suite to one backend.
type Fixture struct {
	// New returns a fresh runtime; the suite closes it.
	New func(t *testing.T) runtime.Runtime
	// Image is an image the backend can pull (from a loopback registry for real ones).
	Image string
	// Sleep runs until stopped; Exit(n) exits at once with code n; OOM allocates
	// past the sandbox's memory limit.
	Sleep []string
	Exit  func(code int) []string
	OOM   []string
	// Cat copies its stdin to its stdout (run with Exec).
	Cat []string
	// IP is the sandbox address to use; the suite uses IP, IP+1, ….
	IP net.IP
	// Network prepares sandbox id's network at ip, for backends with
	// Capabilities.HostNetwork (as the agent does), and returns the netns path;
	// it cleans up after the test.
	Network func(t *testing.T, id string, ip net.IP) string
	// Echo prints its argument and exits 0; ReadFile prints a file and exits 0;
	// Listen serves TCP on a port and keeps running.
	Echo     func(s string) []string
	ReadFile func(path string) []string
	Listen   func(port int) []string
	// Ticks prints "tick <n>" on stdout and "tock <n>" on stderr, n = 0, 1, …,
	// every 100 ms, and keeps running.
	Ticks []string
	// ListenLocal serves HTTP on 127.0.0.1:port only and keeps running.
	ListenLocal func(port int) []string
	// Limits reads the sandbox's CPU quota (millicores) and memory limit (MiB)
	// from where the backend enforces them.
	Limits func(t *testing.T, id string) (milliCPU, memoryMiB int64)
	// ContainerLimits reads a container's own cgroup settings from where the
	// backend enforces them ("no limit" as 0); nil for backends without them.
	ContainerLimits func(t *testing.T, sandboxID string, st runtime.ContainerStatus) runtime.Resources
	// HalfMade leaves behind what starting container name of the sandbox leaves
	// when a crash cuts it off midway (for containerd: the snapshot, not the
	// container), so the suite can check that the next start gets past it.
	HalfMade func(t *testing.T, ctx context.Context, sandboxID, name string, attempt int)
	// ComputeGone, when set, reports whether nothing of the sandbox's compute
	// is left on the host (no cgroup, so no process), after StopSandbox.
	ComputeGone func(t *testing.T, sandboxID string) bool
	// LogsOutliveRuntime: the containers' logs are written by something that
	// outlives a runtime instance (a VM's guest), not by the runtime, so the
	// suite does not check that output waits for a new one.
	LogsOutliveRuntime bool
	// Unsupported names the tests that do not apply to the backend, with why.
	Unsupported map[string]string
}

// Run runs every conformance test against the fixture's backend.
func Run(t *testing.T, f Fixture) {
	tests := []struct {
		name string
		fn   func(*testing.T, Fixture)
	}{
		{"SandboxLifecycle", sandboxLifecycle},
		{"ImageCache", imageCache},
		{"ContainerRunsAndStops", containerRunsAndStops},
		{"ExitCodes", exitCodes},
		{"RestartAttempt", restartAttempt},
		{"OOMKilled", oomKilled},
		{"Exec", execInContainer},
		{"ExecTTY", execTTY},
		{"Attach", attach},
		{"Stats", stats},
		{"Adoption", adoption},
		{"Logs", logs},
		{"LogsAcrossRestart", logsAcrossRestart},
		{"Mounts", mountsAndFiles},
		{"Network", network},
		{"PortForward", portForward},
		{"Limits", limits},
		{"ContainerResources", containerResources},
		{"StartAfterCrash", startAfterCrash},
		{"StopSandbox", stopSandbox},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if why, ok := f.Unsupported[tc.name]; ok {
				t.Skipf("not supported by this backend: %s", why)
			}
			tc.fn(t, f)
		})
	}
}

func setup(t *testing.T, f Fixture, n int) (context.Context, runtime.Runtime, runtime.Sandbox) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	rt := f.New(t)
	ip := slices.Clone(f.IP.To4())
	ip[3] += byte(n)
	sb := runtime.Sandbox{ID: "ip-conformance-" + fmt.Sprint(n), Namespace: "conformance", Pod: t.Name(), PodUID: fmt.Sprint("uid-", n),
		Hostname: "conformance", IP: ip, MilliCPU: 250, MemoryMiB: 512,
		Files: runtime.PodFiles{Hosts: "127.0.0.1\tlocalhost\n", Hostname: "conformance\n", ResolvConf: "nameserver 10.100.0.10\n"}}
	if f.Network != nil {
		sb.NetnsPath = f.Network(t, sb.ID, ip)
	}
	if err := rt.CreateSandbox(ctx, sb); err != nil {
		t.Fatalf("CreateSandbox: %v", err)
	}
	t.Cleanup(func() {
		if err := rt.RemoveSandbox(context.Background(), sb.ID); err != nil {
			t.Errorf("RemoveSandbox: %v", err)
		}
		if err := rt.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if _, err := rt.PullImage(ctx, f.Image, runtime.PullIfNotPresent, nil); err != nil {
		t.Fatalf("PullImage(%s): %v", f.Image, err)
	}
	return ctx, rt, sb
}

func status(t *testing.T, ctx context.Context, rt runtime.Runtime, sandboxID, name string) runtime.ContainerStatus {
	t.Helper()
	all, err := rt.Containers(ctx, sandboxID)
	if err != nil {
		t.Fatalf("Containers: %v", err)
	}
	for _, st := range all {
		if st.Name == name {
			return st
		}
	}
	t.Fatalf("container %s not listed in %+v", name, all)
	return runtime.ContainerStatus{}
}

// waitExited polls until the container has exited.
func waitExited(t *testing.T, ctx context.Context, rt runtime.Runtime, sandboxID, name string) runtime.ContainerStatus {
	t.Helper()
	for {
		st := status(t, ctx, rt, sandboxID, name)
		if st.State == runtime.StateExited {
			return st
		}
		select {
		case <-ctx.Done():
			t.Fatalf("container %s still %s", name, st.State)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func sandboxLifecycle(t *testing.T, f Fixture) {
	ctx, rt, sb := setup(t, f, 1)
	if err := rt.CreateSandbox(ctx, sb); err != nil {
		t.Errorf("second CreateSandbox (must be idempotent): %v", err)
	}
	ids, err := rt.Sandboxes(ctx)
	if err != nil || !slices.Contains(ids, sb.ID) {
		t.Errorf("Sandboxes = %v, %v; want it to list %s", ids, err, sb.ID)
	}
	if err := rt.RemoveSandbox(ctx, sb.ID); err != nil {
		t.Fatalf("RemoveSandbox: %v", err)
	}
	if err := rt.RemoveSandbox(ctx, sb.ID); err != nil {
		t.Errorf("second RemoveSandbox (must be idempotent): %v", err)
	}
	if ids, _ := rt.Sandboxes(ctx); slices.Contains(ids, sb.ID) {
		t.Errorf("Sandboxes still lists %s after removal", sb.ID)
	}
	if _, err := rt.Containers(ctx, sb.ID); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Containers of a removed sandbox: %v, want ErrNotFound", err)
	}
}

func imageCache(t *testing.T, f Fixture) {
	ctx, rt, _ := setup(t, f, 2)
	img, err := rt.PullImage(ctx, f.Image, runtime.PullIfNotPresent, nil)
	if err != nil || img.Pulled || img.ID == "" {
		t.Errorf("second PullImage IfNotPresent = %+v, %v; want served from the host's store with an ID", img, err)
	}
	if img, err := rt.PullImage(ctx, f.Image, runtime.PullNever, nil); err != nil || img.Pulled {
		t.Errorf("PullImage Never of a present image = %+v, %v", img, err)
	}
	if _, err := rt.PullImage(ctx, f.Image+"-missing", runtime.PullNever, nil); err == nil {
		t.Error("PullImage Never of an absent image succeeded")
	}
}

func containerRunsAndStops(t *testing.T, f Fixture) {
	ctx, rt, sb := setup(t, f, 3)
	c := runtime.Container{Name: "main", Image: f.Image, Command: f.Sleep}
	st, err := rt.StartContainer(ctx, sb.ID, c)
	if err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	if st.ID == "" || st.ImageID == "" {
		t.Errorf("started container has no ID or image ID: %+v", st)
	}
	// StartContainer's own answer is complete (the pod's first Running status
	// needs no second write for its startedAt).
	if st.State != runtime.StateRunning || st.Started.IsZero() {
		t.Errorf("StartContainer = %+v, want Running with a start time", st)
	}
	if again, err := rt.StartContainer(ctx, sb.ID, c); err != nil || again.ID != st.ID {
		t.Errorf("StartContainer again (same attempt) = %+v, %v; want the running one %s", again, err, st.ID)
	}
	if got := status(t, ctx, rt, sb.ID, "main"); got.State != runtime.StateRunning || got.Started.IsZero() {
		t.Errorf("status = %+v, want Running with a start time", got)
	}
	if err := rt.StopContainer(ctx, sb.ID, "main", 2*time.Second); err != nil {
		t.Fatalf("StopContainer: %v", err)
	}
	if got := waitExited(t, ctx, rt, sb.ID, "main"); got.Finished.IsZero() {
		t.Errorf("stopped container has no finish time: %+v", got)
	}
	if err := rt.StopContainer(ctx, sb.ID, "main", time.Second); err != nil {
		t.Errorf("StopContainer of an exited container: %v", err)
	}
}

func exitCodes(t *testing.T, f Fixture) {
	ctx, rt, sb := setup(t, f, 4)
	for _, tc := range []struct {
		code   int
		reason string
	}{{0, runtime.ReasonCompleted}, {3, runtime.ReasonError}} {
		name := fmt.Sprint("exit", tc.code)
		if _, err := rt.StartContainer(ctx, sb.ID, runtime.Container{Name: name, Image: f.Image, Command: f.Exit(tc.code)}); err != nil {
			t.Fatalf("StartContainer %s: %v", name, err)
		}
		if got := waitExited(t, ctx, rt, sb.ID, name); got.ExitCode != int32(tc.code) || got.Reason != tc.reason {
			t.Errorf("%s: exit %d reason %q, want %d %q", name, got.ExitCode, got.Reason, tc.code, tc.reason)
		}
	}
	// The longest name a container may have (a DNS label of 63 characters),
	// with a double dash, which containerd's identifiers may not have.
	long := "busybox-readonly-false--" + strings.Repeat("x", 39)
	if _, err := rt.StartContainer(ctx, sb.ID, runtime.Container{Name: long, Image: f.Image, Command: f.Exit(0)}); err != nil {
		t.Fatalf("StartContainer with a 63-character name: %v", err)
	}
	if got := waitExited(t, ctx, rt, sb.ID, long); got.ExitCode != 0 || got.Reason != runtime.ReasonCompleted {
		t.Errorf("%s: exit %d reason %q, want 0 %q", long, got.ExitCode, got.Reason, runtime.ReasonCompleted)
	}
}

func restartAttempt(t *testing.T, f Fixture) {
	ctx, rt, sb := setup(t, f, 5)
	first, err := rt.StartContainer(ctx, sb.ID, runtime.Container{Name: "c", Image: f.Image, Command: f.Exit(1)})
	if err != nil {
		t.Fatal(err)
	}
	waitExited(t, ctx, rt, sb.ID, "c")
	second, err := rt.StartContainer(ctx, sb.ID, runtime.Container{Name: "c", Image: f.Image, Command: f.Sleep, Attempt: 1})
	if err != nil {
		t.Fatalf("restart (attempt 1): %v", err)
	}
	if second.ID == first.ID || second.Attempt != 1 {
		t.Errorf("restart reused %s / attempt %d", second.ID, second.Attempt)
	}
	if got := status(t, ctx, rt, sb.ID, "c"); got.State != runtime.StateRunning || got.Attempt != 1 {
		t.Errorf("after restart: %+v", got)
	}
}

func oomKilled(t *testing.T, f Fixture) {
	ctx, rt, sb := setup(t, f, 6)
	if _, err := rt.StartContainer(ctx, sb.ID, runtime.Container{Name: "hog", Image: f.Image, Command: f.OOM}); err != nil {
		t.Fatal(err)
	}
	if got := waitExited(t, ctx, rt, sb.ID, "hog"); got.Reason != runtime.ReasonOOMKilled || got.ExitCode != 137 {
		t.Errorf("memory hog: exit %d reason %q, want 137 OOMKilled", got.ExitCode, got.Reason)
	}
}

func execInContainer(t *testing.T, f Fixture) {
	ctx, rt, sb := setup(t, f, 7)
	if _, err := rt.StartContainer(ctx, sb.ID, runtime.Container{Name: "main", Image: f.Image, Command: f.Sleep}); err != nil {
		t.Fatal(err)
	}
	for _, code := range []int{0, 2} {
		res, err := runtime.ExecOutput(ctx, rt, sb.ID, "main", f.Exit(code), 5*time.Second)
		if err != nil || res.ExitCode != code {
			t.Errorf("Exec %v = %+v, %v; want exit %d", f.Exit(code), res, err, code)
		}
	}
	var out bytes.Buffer
	code, err := rt.Exec(ctx, sb.ID, "main", f.Cat, runtime.Streams{Stdin: strings.NewReader("through stdin\n"), Stdout: &out})
	if err != nil || code != 0 || out.String() != "through stdin\n" {
		t.Errorf("Exec %v with stdin = %d, %v, printed %q; want the input back", f.Cat, code, err, out.String())
	}
	if _, err := rt.Exec(ctx, sb.ID, "missing", f.Cat, runtime.Streams{}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Exec in a missing container: %v, want ErrNotFound", err)
	}
}

// execTTY: an exec with a terminal (kubectl exec -t) gets one: its output
// comes through the terminal (a newline becomes CR LF), and typed input is
// read from it, ^D ending it.
func execTTY(t *testing.T, f Fixture) {
	ctx, rt, sb := setup(t, f, 20)
	if _, err := rt.StartContainer(ctx, sb.ID, runtime.Container{Name: "main", Image: f.Image, Command: f.Sleep}); err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	resize := make(chan runtime.TerminalSize, 1)
	resize <- runtime.TerminalSize{Width: 100, Height: 30}
	code, err := rt.Exec(ctx, sb.ID, "main", f.Echo("on a terminal"), runtime.Streams{Stdout: &out, TTY: true, Resize: resize})
	if err != nil || code != 0 || !strings.Contains(out.String(), "on a terminal\r\n") {
		t.Errorf("Exec %v with a TTY = %d, %v, printed %q; want the line with CR LF", f.Echo("on a terminal"), code, err, out.String())
	}
	var typed syncBuffer
	code, err = rt.Exec(ctx, sb.ID, "main", f.Cat, runtime.Streams{Stdin: strings.NewReader("typed\n\x04"), Stdout: &typed, TTY: true})
	if err != nil || code != 0 || !strings.Contains(typed.String(), "typed") {
		t.Errorf("Exec %v with a TTY and input = %d, %v, printed %q; want the input back and an exit at ^D", f.Cat, code, err, typed.String())
	}
}

// stopSandbox: a finished pod's sandbox is stopped, not removed: whatever ran
// is killed, the compute goes, and the containers' statuses and logs stay.
func stopSandbox(t *testing.T, f Fixture) {
	ctx, rt, sb := setup(t, f, 18)
	if _, err := rt.StartContainer(ctx, sb.ID, runtime.Container{Name: "done", Image: f.Image, Command: f.Echo("all done")}); err != nil {
		t.Fatal(err)
	}
	waitExited(t, ctx, rt, sb.ID, "done")
	if _, err := rt.StartContainer(ctx, sb.ID, runtime.Container{Name: "sleeper", Image: f.Image, Command: f.Sleep}); err != nil {
		t.Fatal(err)
	}
	if err := rt.StopSandbox(ctx, sb.ID); err != nil {
		t.Fatalf("StopSandbox: %v", err)
	}
	if err := rt.StopSandbox(ctx, sb.ID); err != nil {
		t.Errorf("second StopSandbox (must be idempotent): %v", err)
	}
	if got := status(t, ctx, rt, sb.ID, "done"); got.State != runtime.StateExited || got.ExitCode != 0 || got.Reason != runtime.ReasonCompleted || got.Finished.IsZero() {
		t.Errorf("done after StopSandbox: %+v, want exited 0 Completed with its finish time", got)
	}
	if got := status(t, ctx, rt, sb.ID, "sleeper"); got.State != runtime.StateExited || got.ExitCode == 0 {
		t.Errorf("sleeper after StopSandbox: %+v, want killed", got)
	}
	path, err := rt.ContainerLog(ctx, sb.ID, "done", false)
	if err != nil {
		t.Fatalf("ContainerLog after StopSandbox: %v", err)
	}
	if recs := readLog(t, path); len(recs) == 0 || recs[0].text != "all done" {
		t.Errorf("log after StopSandbox: %+v, want the line written", recs)
	}
	if f.ComputeGone != nil && !f.ComputeGone(t, sb.ID) {
		t.Errorf("the sandbox's compute (cgroup, processes) is still there after StopSandbox")
	}
	// Adopted by a new instance (an agent restart): the same statuses.
	again := f.New(t)
	t.Cleanup(func() { _ = again.Close() })
	if got := status(t, ctx, again, sb.ID, "done"); got.State != runtime.StateExited || got.ExitCode != 0 {
		t.Errorf("done, read by a new runtime instance: %+v, want exited 0", got)
	}
}
