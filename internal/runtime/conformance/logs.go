package conformance

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// logRecord is one line of a container log in the CRI log format kubelet reads.
type logRecord struct {
	time         time.Time
	stream, text string
	partial      bool
}

var criRecord = regexp.MustCompile(`^(\S+) (stdout|stderr) ([FP]) (.*)$`)

// readLog parses a container log, failing the test on any line not in the
// CRI format.
func readLog(t *testing.T, path string) []logRecord {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []logRecord
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line == "" {
			continue
		}
		m := criRecord.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("log line %q is not in the CRI log format", line)
		}
		ts, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, logRecord{ts, m[2], m[4], m[3] == "P"})
	}
	return out
}

func logs(t *testing.T, f Fixture) {
	ctx, rt, sb := setup(t, f, 10)
	before := time.Now()
	for attempt, word := range []string{"first-run", "second-run"} {
		if _, err := rt.StartContainer(ctx, sb.ID, runtime.Container{Name: "say", Image: f.Image, Command: f.Echo(word), Attempt: attempt}); err != nil {
			t.Fatal(err)
		}
		waitExited(t, ctx, rt, sb.ID, "say")
	}
	for _, tc := range []struct {
		previous bool
		want     string
	}{{false, "second-run"}, {true, "first-run"}} {
		path, err := rt.ContainerLog(ctx, sb.ID, "say", tc.previous)
		if err != nil {
			t.Fatalf("ContainerLog(previous=%v): %v", tc.previous, err)
		}
		recs := readLog(t, path)
		if len(recs) != 1 || recs[0].stream != "stdout" || recs[0].partial || recs[0].text != tc.want {
			t.Fatalf("log (previous=%v) = %+v; want one full stdout record %q", tc.previous, recs, tc.want)
		}
		if recs[0].time.Before(before.Add(-time.Second)) || recs[0].time.After(time.Now().Add(time.Second)) {
			t.Errorf("record time %s is not when it was written (between %s and now)", recs[0].time, before)
		}
	}
	// Once a container shows as exited, all it wrote is in its log: what reads
	// the log on the exit (a FallbackToLogsOnError message) sees the end.
	// 96 KiB: partial records, in one argument (the kernel takes up to 128 KiB).
	long := strings.Repeat("0123456789abcdef", 6<<10)
	if _, err := rt.StartContainer(ctx, sb.ID, runtime.Container{Name: "long", Image: f.Image, Command: f.Echo(long)}); err != nil {
		t.Fatal(err)
	}
	waitExited(t, ctx, rt, sb.ID, "long")
	path, err := rt.ContainerLog(ctx, sb.ID, "long", false)
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for _, r := range readLog(t, path) {
		got.WriteString(r.text)
	}
	if got.Len() != len(long) {
		t.Errorf("log of an exited container holds %d of the %d bytes it wrote", got.Len(), len(long))
	}
}

// logsAcrossRestart: output written while no runtime reads it (the agent
// restarting) reaches the log once a new runtime is connected, nothing lost,
// stdout and stderr told apart.
func logsAcrossRestart(t *testing.T, f Fixture) {
	ctx, rt, sb := setup(t, f, 16)
	first := f.New(t)
	if _, err := first.StartContainer(ctx, sb.ID, runtime.Container{Name: "tick", Image: f.Image, Command: f.Ticks}); err != nil {
		t.Fatal(err)
	}
	path, err := rt.ContainerLog(ctx, sb.ID, "tick", false)
	if err != nil {
		t.Fatal(err)
	}
	waitTicks := func(n int) []logRecord {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			recs := readLog(t, path)
			if len(recs) >= n {
				return recs
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d records after 20 s, want %d: %+v", len(recs), n, recs)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitTicks(4)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	closed := len(readLog(t, path))
	time.Sleep(time.Second) // the container writes on, nobody reads
	if n := len(readLog(t, path)); n > closed+2 && !f.LogsOutliveRuntime {
		t.Fatalf("%d records were written after Close, with no runtime connected", n-closed)
	}
	again := f.New(t)
	defer again.Close()
	recs := waitTicks(closed + 14) // the second's worth that waited, and more
	want := map[string]int{"stdout": 0, "stderr": 0}
	for _, r := range recs {
		word := map[string]string{"stdout": "tick", "stderr": "tock"}[r.stream]
		if r.text != fmt.Sprintf("%s %d", word, want[r.stream]) {
			t.Fatalf("record %+v, want %q: output lost or mixed across the restart; log %+v", r, word+" "+strconv.Itoa(want[r.stream]), recs)
		}
		want[r.stream]++
	}
}
