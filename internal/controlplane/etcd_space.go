package controlplane

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	units "github.com/docker/go-units"
	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"

	"github.com/fargo-dev/fargo/internal/datadir"
)

// spaceCheckInterval is how often the free space of etcd's filesystem is read: one
// statfs, cheap. Between two reads a disk filling fast can reach zero before the
// reserve is released (a CI run lost etcd so at 250 ms), so the window is short.
var spaceCheckInterval = 50 * time.Millisecond

// reserveFile holds the space set aside for etcd, on etcd's own filesystem.
const reserveFile = "fargo-reserved-space"

// noSpaceAlarm is etcd's NOSPACE alarm: while it is raised etcd refuses every
// write ("mvcc: database space exceeded") but serves reads.
type noSpaceAlarm interface {
	// Raised reports an active alarm that the disk guard may clear: one not raised
	// by etcd itself for a database at its quota.
	Raised() bool
	Raise(ctx context.Context) error
	Clear(ctx context.Context) error
}

// spaceGuard keeps etcd alive on a filling disk. etcd ends the whole process when a
// write to its WAL or database fails, so before the disk is full (below minFree)
// the guard raises NOSPACE, and releases a reserve of preallocated space so that
// what etcd still writes (each refused request passes through its WAL) has room
// even if the disk then fills completely. Once minFree plus the reserve plus a
// margin is free again, the reserve is made again and the alarm cleared. All the
// while, the database file keeps room of its own (dbRoom), which no other writer
// can take.
type spaceGuard struct {
	dir              string // on etcd's filesystem
	minFree, reserve int64
	alarm            noSpaceAlarm
	warn             func(error)
	free             func(dir string) (int64, error)
	db               *dbRoom

	raised  bool
	lastErr string
	stop    context.CancelFunc
	done    sync.WaitGroup
}

func newSpaceGuard(dir string, minFree, reserve int64, alarm noSpaceAlarm, warn func(error)) *spaceGuard {
	return &spaceGuard{dir: dir, minFree: minFree, reserve: reserve, alarm: alarm, free: freeSpace, db: newDBRoom(dir), warn: func(err error) {
		klog.Warning(err.Error())
		if warn != nil {
			warn(err)
		}
	}}
}

// walPrealloc is what a new etcd preallocates for its WAL: the first 64 MiB segment
// and the next one.
const walPrealloc = 2 * 64 << 20

// checkRoom refuses to start etcd with less than minFree plus the reserve free (the
// reserve already made counts), plus the WAL for a new etcd: etcd would refuse the
// writes start-up needs.
func (g *spaceGuard) checkRoom(fresh bool) error {
	free, err := g.free(g.dir)
	if err != nil {
		return err
	}
	need, wal := g.minFree+g.reserve, ""
	if fresh {
		need += walPrealloc
		wal = fmt.Sprintf(" and %s for a new etcd's log", size(walPrealloc))
	}
	if have := free + g.reserveSize(); have < need {
		return fmt.Errorf("etcd's filesystem (%s) has %s free; fargo needs %s there (--etcd-min-free-space %s, --etcd-reserved-space %s%s): free some space or use a --data-dir on a larger disk, then start again",
			g.dir, size(have), size(need), size(g.minFree), size(g.reserve), wal)
	}
	return nil
}

// prepare makes the reserve, unless an earlier run left the alarm raised: that one
// is cleared, and the reserve made, once there is room.
func (g *spaceGuard) prepare() error {
	if g.raised = g.alarm.Raised(); g.raised {
		return nil
	}
	return g.makeReserve()
}

// watch checks the free space until Stop.
func (g *spaceGuard) watch(ctx context.Context) {
	ctx, g.stop = context.WithCancel(ctx)
	g.done.Add(1)
	go func() {
		defer g.done.Done()
		t := time.NewTicker(spaceCheckInterval)
		defer t.Stop()
		for {
			g.check(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// Stop ends the watch; it returns once no check is running.
func (g *spaceGuard) Stop() {
	if g.stop != nil {
		g.stop()
		g.done.Wait()
	}
}

// check is one look at the free space, raising or clearing the alarm on crossing.
func (g *spaceGuard) check(ctx context.Context) {
	if err := g.db.keep(); err != nil {
		klog.Warning(err.Error())
	}
	free, err := g.free(g.dir)
	if err != nil {
		if err.Error() != g.lastErr { // once per distinct error, not four times a second
			g.lastErr = err.Error()
			g.warn(err)
		}
		return
	}
	switch {
	case !g.raised && free < g.minFree:
		if err := g.alarm.Raise(ctx); err != nil {
			g.warnOnce(fmt.Errorf("etcd's filesystem (%s) has %s free, below --etcd-min-free-space %s, but raising etcd's NOSPACE alarm failed: %w", g.dir, size(free), size(g.minFree), err))
			return
		}
		g.raised, g.lastErr = true, ""
		released := ""
		if n := g.releaseReserve(); n > 0 {
			released = fmt.Sprintf("; %s of reserved space released for etcd", size(n))
		}
		g.warn(fmt.Errorf("etcd's filesystem (%s) has %s free, below --etcd-min-free-space %s: the cluster refuses writes (\"database space exceeded\") until space returns; reads and running pods go on%s; free space there and writes resume by themselves",
			g.dir, size(free), size(g.minFree), released))
	case g.raised && free >= g.clearAt():
		if err := g.makeReserve(); err != nil {
			g.warnOnce(err)
			return
		}
		if err := g.alarm.Clear(ctx); err != nil {
			g.warnOnce(fmt.Errorf("clearing etcd's NOSPACE alarm: %w", err))
			return
		}
		g.raised, g.lastErr = false, ""
		g.warn(fmt.Errorf("etcd's filesystem (%s) has %s free again: reserved space restored, the cluster accepts writes again", g.dir, size(free-g.reserve)))
	}
}

// clearAt is the free space, reserve not yet made, at which writes are let in
// again: a quarter above minFree once the reserve is taken, so a disk hovering at
// the line does not flap the alarm.
func (g *spaceGuard) clearAt() int64 {
	return g.minFree + g.minFree/4 + g.reserve - g.reserveSize()
}

func (g *spaceGuard) warnOnce(err error) {
	if err.Error() != g.lastErr {
		g.lastErr = err.Error()
		g.warn(err)
	}
}

func (g *spaceGuard) reservePath() string { return filepath.Join(g.dir, reserveFile) }

func (g *spaceGuard) reserveSize() int64 {
	fi, err := os.Stat(g.reservePath())
	if err != nil {
		return 0
	}
	return fi.Size()
}

// makeReserve preallocates the reserve (real blocks, not a sparse file).
func (g *spaceGuard) makeReserve() error {
	if g.reserve == 0 || g.reserveSize() == g.reserve {
		return nil
	}
	f, err := os.OpenFile(g.reservePath(), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("making etcd's reserved space: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("making etcd's reserved space %s: %w", g.reservePath(), err)
	}
	if err := unix.Fallocate(int(f.Fd()), 0, 0, g.reserve); err != nil {
		_ = f.Truncate(0)
		return fmt.Errorf("making etcd's reserved space %s (%s): %w", g.reservePath(), size(g.reserve), err)
	}
	return nil
}

// releaseReserve frees the reserve and says how much it held.
func (g *spaceGuard) releaseReserve() int64 {
	n := g.reserveSize()
	if err := os.Remove(g.reservePath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		klog.Warningf("releasing etcd's reserved space: %v", err)
		return 0
	}
	return n
}

// freeSpace is what df calls available: free blocks unprivileged users may take.
func freeSpace(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("reading the free space of etcd's filesystem (%s): %w", dir, err)
	}
	return int64(st.Bavail) * st.Bsize, nil
}

func size(n int64) string { return units.BytesSize(float64(n)) }

// startGuardedEtcd starts the embedded etcd once its filesystem has room, with the
// disk guard watching it.
func startGuardedEtcd(ctx context.Context, c *Config, cs *certs) (*embeddedEtcd, *spaceGuard, error) {
	if err := datadir.Ensure(c.etcdDir()); err != nil {
		return nil, nil, err
	}
	g := newSpaceGuard(c.etcdDir(), c.EtcdMinFreeSpace, c.EtcdReservedSpace, nil, c.Warn)
	_, err := os.Stat(filepath.Join(c.etcdDir(), "member", "wal"))
	if err := g.checkRoom(errors.Is(err, os.ErrNotExist)); err != nil {
		return nil, nil, err
	}
	e, err := startEmbeddedEtcd(c, cs)
	if err != nil {
		return nil, nil, err
	}
	g.alarm = e
	if err := g.prepare(); err != nil {
		e.Close()
		return nil, nil, err
	}
	g.watch(context.WithoutCancel(ctx))
	return e, g, nil
}
