package guest

import (
	"os"
	"os/signal"
	"sync"

	"golang.org/x/sys/unix"
)

// reaper is PID 1's one wait4(-1) loop: it reaps every child (runc, and the
// containers' processes once runc leaves them to init) and hands each exit to
// whoever waits for that PID. Commands are started, never exec.Cmd.Wait-ed,
// since a second waiter would race it (containerd's sys/reaper does the same).
type reaper struct {
	mu        sync.Mutex
	waiters   map[int]chan unix.WaitStatus
	unclaimed map[int]unix.WaitStatus
}

func newReaper() *reaper {
	r := &reaper{waiters: map[int]chan unix.WaitStatus{}, unclaimed: map[int]unix.WaitStatus{}}
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs, unix.SIGCHLD)
	go func() {
		for range sigs {
			r.reap()
		}
	}()
	return r
}

// maxUnclaimed bounds exits nobody waits for (orphans of containers).
const maxUnclaimed = 4096

func (r *reaper) reap() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
		r.mu.Lock()
		if ch, ok := r.waiters[pid]; ok {
			ch <- ws
			delete(r.waiters, pid)
		} else {
			if len(r.unclaimed) >= maxUnclaimed {
				clear(r.unclaimed)
			}
			r.unclaimed[pid] = ws
		}
		r.mu.Unlock()
	}
}

// exit returns a channel that gets pid's wait status once it exits.
func (r *reaper) exit(pid int) <-chan unix.WaitStatus {
	ch := make(chan unix.WaitStatus, 1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if ws, ok := r.unclaimed[pid]; ok {
		delete(r.unclaimed, pid)
		ch <- ws
		return ch
	}
	r.waiters[pid] = ch
	return ch
}

// code is a wait status as a shell reports it: the exit code, or 128+signal.
func code(ws unix.WaitStatus) int32 {
	if ws.Signaled() {
		return 128 + int32(ws.Signal())
	}
	return int32(ws.ExitStatus())
}
