package conformance

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// syncBuffer is a bytes.Buffer safe to write from the runtime while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// attach: a container started with stdin (stdinOnce) takes an attached
// client's input and gives it its output, raw, and its stdin closes when that
// client's does; one without stdin refuses input; a terminal is a terminal.
func attach(t *testing.T, f Fixture) {
	ctx, rt, sb := setup(t, f, 17)
	if _, err := rt.StartContainer(ctx, sb.ID, runtime.Container{Name: "cat", Image: f.Image, Command: f.Cat, Stdin: true, StdinOnce: true}); err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- rt.Attach(ctx, sb.ID, "cat", runtime.Streams{Stdin: strings.NewReader("hello through stdin\n"), Stdout: &out, Stderr: &out})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Attach: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("Attach still attached 30 s after its stdin ended (stdinOnce); output %q", out.String())
	}
	if got := out.String(); got != "hello through stdin\n" {
		t.Errorf("attached output %q, want cat's echo of the input", got)
	}
	if st := waitExited(t, ctx, rt, sb.ID, "cat"); st.ExitCode != 0 {
		t.Errorf("cat exited %d after its stdin closed, want 0", st.ExitCode)
	}

	if _, err := rt.StartContainer(ctx, sb.ID, runtime.Container{Name: "sleep", Image: f.Image, Command: f.Sleep}); err != nil {
		t.Fatal(err)
	}
	if err := rt.Attach(ctx, sb.ID, "sleep", runtime.Streams{Stdin: strings.NewReader("x"), Stdout: &out}); err == nil {
		t.Error("stdin attached to a container started without stdin")
	}

	// With a terminal: the line discipline echoes input and ends lines with \r\n.
	if _, err := rt.StartContainer(ctx, sb.ID, runtime.Container{Name: "tty", Image: f.Image, Command: f.Cat, Stdin: true, TTY: true}); err != nil {
		t.Fatal(err)
	}
	var term syncBuffer
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_ = rt.Attach(actx, sb.ID, "tty", runtime.Streams{Stdin: strings.NewReader("typed\n"), Stdout: &term, TTY: true})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(term.String(), "typed\r\n") {
		if time.Now().After(deadline) {
			t.Fatalf("terminal output %q, want the input echoed with \\r\\n", term.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
