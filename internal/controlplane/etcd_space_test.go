package controlplane

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeAlarm records what the guard asked of etcd.
type fakeAlarm struct {
	raised   bool
	calls    []string
	failNext error
}

func (a *fakeAlarm) Raised() bool { return a.raised }

func (a *fakeAlarm) Raise(context.Context) error { return a.set(true, "raise") }

func (a *fakeAlarm) Clear(context.Context) error { return a.set(false, "clear") }

func (a *fakeAlarm) set(on bool, call string) error {
	a.calls = append(a.calls, call)
	if err := a.failNext; err != nil {
		a.failNext = nil
		return err
	}
	a.raised = on
	return nil
}

const mib = 1 << 20

// guardOn is a guard over a temporary directory whose free space the test sets.
func guardOn(t *testing.T, alarm *fakeAlarm) (*spaceGuard, *int64, *[]string) {
	t.Helper()
	free := int64(1024 * mib)
	var warnings []string
	g := newSpaceGuard(t.TempDir(), 256*mib, 8*mib, alarm, func(err error) { warnings = append(warnings, err.Error()) })
	g.free = func(string) (int64, error) { return free, nil }
	return g, &free, &warnings
}

func TestSpaceGuardRaisesBeforeTheDiskIsFullAndClearsWhenSpaceReturns(t *testing.T) {
	alarm := &fakeAlarm{}
	g, free, warnings := guardOn(t, alarm)
	if err := g.prepare(); err != nil {
		t.Fatal(err)
	}
	if got := g.reserveSize(); got != 8*mib {
		t.Fatalf("reserve = %d bytes, want %d", got, 8*mib)
	}
	ctx := context.Background()

	g.check(ctx)
	if len(alarm.calls) != 0 || len(*warnings) != 0 {
		t.Fatalf("with room: calls %v, warnings %v; want none", alarm.calls, *warnings)
	}

	*free = 255 * mib
	g.check(ctx)
	if !alarm.raised || g.reserveSize() != 0 {
		t.Fatalf("below the minimum: alarm raised %v, reserve %d bytes; want raised, released", alarm.raised, g.reserveSize())
	}
	if len(*warnings) != 1 || !strings.Contains((*warnings)[0], "refuses writes") || !strings.Contains((*warnings)[0], "8MiB of reserved space released") {
		t.Fatalf("warnings %q; want one saying writes are refused and the reserve released", *warnings)
	}
	g.check(ctx) // still low: nothing more
	if len(alarm.calls) != 1 || len(*warnings) != 1 {
		t.Fatalf("a second low check: calls %v, warnings %d; want one raise, one warning", alarm.calls, len(*warnings))
	}

	// Just above minimum plus reserve is not enough: the alarm would flap.
	*free = 256*mib + 8*mib + mib
	g.check(ctx)
	if !alarm.raised {
		t.Fatal("cleared at the line; want a margin above it")
	}
	*free = 256*mib + 64*mib + 8*mib
	g.check(ctx)
	if alarm.raised || g.reserveSize() != 8*mib {
		t.Fatalf("with room again: alarm raised %v, reserve %d bytes; want cleared, restored", alarm.raised, g.reserveSize())
	}
	if len(*warnings) != 2 || !strings.Contains((*warnings)[1], "accepts writes again") {
		t.Fatalf("warnings %q; want the second saying writes are accepted again", *warnings)
	}
}

func TestSpaceGuardRetriesAFailedRaiseAndWarnsOnce(t *testing.T) {
	alarm := &fakeAlarm{failNext: errors.New("etcdserver: request timed out")}
	g, free, warnings := guardOn(t, alarm)
	*free = 10 * mib
	g.check(context.Background())
	g.check(context.Background())
	if !alarm.raised || len(alarm.calls) != 2 {
		t.Fatalf("calls %v, raised %v; want a failed raise retried", alarm.calls, alarm.raised)
	}
	if len(*warnings) != 2 || !strings.Contains((*warnings)[0], "request timed out") {
		t.Fatalf("warnings %q; want the failure, then the alarm", *warnings)
	}
}

func TestSpaceGuardClearsAnAlarmLeftByAnEarlierRun(t *testing.T) {
	alarm := &fakeAlarm{raised: true}
	g, _, _ := guardOn(t, alarm)
	if err := g.prepare(); err != nil {
		t.Fatal(err)
	}
	if g.reserveSize() != 0 {
		t.Fatal("reserve made while the alarm is raised")
	}
	g.check(context.Background())
	if alarm.raised || g.reserveSize() != 8*mib {
		t.Fatalf("with room: alarm raised %v, reserve %d; want cleared and reserve made", alarm.raised, g.reserveSize())
	}
}

func TestSpaceGuardRefusesToStartWithoutRoom(t *testing.T) {
	g, free, _ := guardOn(t, &fakeAlarm{})
	*free = 300 * mib
	if err := g.checkRoom(false); err != nil {
		t.Fatalf("300MiB free for 256MiB + 8MiB: %v", err)
	}
	err := g.checkRoom(true)
	if err == nil || !strings.Contains(err.Error(), "--etcd-min-free-space") || !strings.Contains(err.Error(), "new etcd's log") {
		t.Fatalf("a new etcd in 300MiB: %v; want a refusal naming the flags and the log's share", err)
	}
	*free = 250 * mib
	if err := g.checkRoom(false); err == nil {
		t.Fatal("250MiB free for 256MiB + 8MiB: started")
	}
}

// TestSpaceGuardKeepsRoomForTheDatabase: the database file's holes and dbTail past
// its end are allocated, its size unchanged, and again after it grows.
func TestSpaceGuardKeepsRoomForTheDatabase(t *testing.T) {
	g, _, _ := guardOn(t, &fakeAlarm{})
	g.check(context.Background()) // no database yet: nothing to do, no error
	db := filepath.Join(g.dir, "member", "snap", "db")
	if err := os.MkdirAll(filepath.Dir(db), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(db, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, sz := range []int64{mib, 20 * mib} {
		if err := os.Truncate(db, sz); err != nil { // sparse, as bbolt grows it
			t.Fatal(err)
		}
		g.check(context.Background())
		var st unix.Stat_t
		if err := unix.Stat(db, &st); err != nil {
			t.Fatal(err)
		}
		if st.Size != sz || st.Blocks*512 < sz+dbTail {
			t.Fatalf("database of %d bytes: size %d, %d bytes allocated; want size kept, at least %d allocated", sz, st.Size, st.Blocks*512, sz+dbTail)
		}
	}
}
