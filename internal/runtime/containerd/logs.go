package containerd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"k8s.io/klog/v2"
)

// A container's output reaches its log file through fifos this process reads
// (as containerd's CRI plugin does), written in the CRI log format kubelet reads:
// `<RFC3339Nano time> <stdout|stderr> <F|P> <text>`, one record per line, so
// kubectl logs --timestamps, --since and --since-time work as on any node. The
// shim keeps each fifo open, so a container's output waits in the pipe while
// the agent restarts, and New attaches to running containers again.

// maxLogLine is the longest record; a longer line is split into partial (P)
// records, as containerd's CRI logger does at 16 KiB.
const maxLogLine = 16 << 10

// containerLog is one container run's log file; stdout and stderr write to it
// line by line, never mixed within a record.
type containerLog struct {
	mu sync.Mutex
	f  *os.File
}

func openContainerLog(path string) (*containerLog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating log directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("opening container log: %w", err)
	}
	return &containerLog{f: f}, nil
}

func (l *containerLog) record(stream, tag string, text []byte) {
	rec := make([]byte, 0, len(text)+64)
	rec = time.Now().UTC().AppendFormat(rec, time.RFC3339Nano)
	rec = append(rec, ' ')
	rec = append(rec, stream...)
	rec = append(rec, ' ')
	rec = append(rec, tag...)
	rec = append(rec, ' ')
	rec = append(rec, text...)
	rec = append(rec, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.f.Write(rec); err != nil {
		klog.Errorf("writing container log %s: %v", l.f.Name(), err)
	}
}

func (l *containerLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.f.Close()
}

// logStream turns one stream's writes into records, and passes them raw to
// the clients attached meanwhile.
type logStream struct {
	log  *containerLog
	name string
	buf  []byte

	mu   sync.Mutex
	subs map[*io.Writer]struct{}
}

func (s *logStream) Write(p []byte) (int, error) {
	s.forward(p)
	s.buf = append(s.buf, p...)
	for {
		i := bytes.IndexByte(s.buf, '\n')
		switch {
		case i >= 0 && i <= maxLogLine:
			s.log.record(s.name, "F", s.buf[:i])
			s.buf = s.buf[i+1:]
		case len(s.buf) > maxLogLine:
			s.log.record(s.name, "P", s.buf[:maxLogLine])
			s.buf = s.buf[maxLogLine:]
		default:
			s.buf = append(make([]byte, 0, len(s.buf)), s.buf...) // let the consumed prefix go
			return len(p), nil
		}
	}
}

// forward writes p to each attached client; one that fails is dropped. A slow
// client slows the container's output, as on containerd's CRI.
func (s *logStream) forward(p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for w := range s.subs {
		if _, err := (*w).Write(p); err != nil {
			delete(s.subs, w)
		}
	}
}

// subscribe passes the stream's output to w until the returned func is called.
func (s *logStream) subscribe(w io.Writer) func() {
	if w == nil {
		return func() {}
	}
	key := &w
	s.mu.Lock()
	if s.subs == nil {
		s.subs = map[*io.Writer]struct{}{}
	}
	s.subs[key] = struct{}{}
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.subs, key)
		s.mu.Unlock()
	}
}

// flush writes what is left of an unfinished line, as a partial record.
func (s *logStream) flush() {
	if len(s.buf) > 0 {
		s.log.record(s.name, "P", s.buf)
		s.buf = nil
	}
}

// logIO is the input and output of one running task: the log it writes, the
// fifos, and its stdin, fed by Attach.
type logIO struct {
	log            *containerLog
	stdout, stderr *logStream
	io             cio.IO
	stdio          stdio
	exited         chan struct{} // closed once its output is drained

	stdinMu sync.Mutex
	stdin   *io.PipeWriter // nil: no stdin, or closed
	stdinR  *io.PipeReader
}

// stdio is how a container's standard streams are set up.
type stdio struct{ stdin, stdinOnce, tty bool }

// attached are the tasks whose output a runtime of this process reads, by
// containerd socket and container id: one reader per fifo, or lines would be
// split between readers.
var attached sync.Map

func (r *Runtime) newLogIO(sandboxID, name string, attempt int, std stdio) (*logIO, error) {
	log, err := openContainerLog(r.logPath(sandboxID, name, attempt))
	if err != nil {
		return nil, err
	}
	l := &logIO{log: log, stdout: &logStream{log: log, name: "stdout"}, stderr: &logStream{log: log, name: "stderr"},
		stdio: std, exited: make(chan struct{})}
	if std.stdin {
		l.stdinR, l.stdin = io.Pipe()
	}
	return l, nil
}

// fifos are where a task's output goes: fixed paths under
// DATA/containerd/fifo/<sandbox>, so that a later runtime finds them, removed
// with the container. Without a close function: closing the IO (at Close) must
// leave them for the next runtime.
func (r *Runtime) fifos(sandboxID, containerID string, std stdio) *cio.FIFOSet {
	dir := r.fifoDir(sandboxID)
	cfg := cio.Config{Stdout: filepath.Join(dir, containerID+"-stdout"), Terminal: std.tty}
	if !std.tty { // a terminal has one output
		cfg.Stderr = filepath.Join(dir, containerID+"-stderr")
	}
	if std.stdin {
		cfg.Stdin = filepath.Join(dir, containerID+"-stdin")
	}
	return cio.NewFIFOSet(cfg, nil)
}

func (r *Runtime) fifoDir(sandboxID string) string { return filepath.Join(r.dir, "fifo", sandboxID) }

// creator gives a new task its fifos, read into l.
func (r *Runtime) creator(sandboxID string, l *logIO) cio.Creator {
	return func(id string) (cio.IO, error) {
		if err := os.MkdirAll(r.fifoDir(sandboxID), 0o700); err != nil {
			return nil, fmt.Errorf("creating fifo directory: %w", err)
		}
		return l.open(r.fifos(sandboxID, id, l.stdio))
	}
}

func (l *logIO) open(fifos *cio.FIFOSet) (cio.IO, error) {
	var stdin io.Reader // untyped nil without stdin: cio copies from any non-nil reader
	if l.stdinR != nil {
		stdin = l.stdinR
	}
	opts := []cio.Opt{cio.WithStreams(stdin, l.stdout, l.stderr)}
	if fifos.Terminal {
		opts = append(opts, cio.WithTerminal)
	}
	pio, err := cio.NewAttach(opts...)(fifos)
	l.io = pio
	return pio, err
}

// closeStdin ends the container's input (stdinOnce, or the container gone).
func (l *logIO) closeStdin() {
	l.stdinMu.Lock()
	defer l.stdinMu.Unlock()
	if l.stdin != nil {
		_ = l.stdin.Close()
		l.stdin = nil
	}
}

// removeFifos removes a deleted container's fifos.
func (r *Runtime) removeFifos(sandboxID, containerID string) {
	f := r.fifos(sandboxID, containerID, stdio{stdin: true})
	for _, path := range []string{f.Stdin, f.Stdout, f.Stderr} {
		_ = os.Remove(path)
	}
}

// logKey is container id's key in attached.
func (r *Runtime) logKey(containerID string) string { return r.socket + "|" + containerID }

// follow records that task's output is read here, and closes its log once the
// task has exited and its output is drained.
func (r *Runtime) follow(containerID string, l *logIO) {
	key := r.logKey(containerID)
	attached.Store(key, l)
	go func() {
		l.io.Wait()
		l.stdout.flush()
		l.stderr.flush()
		l.log.close()
		l.closeStdin()
		close(l.exited)
		attached.CompareAndDelete(key, l)
	}()
}

// logDrain is how long an exited container's status waits for the rest of its
// output to reach its log: a process it left behind may hold the fifo open.
const logDrain = 2 * time.Second

// awaitLog returns once the output of the exited container id is all in its log
// (or logDrain has passed), so that what reads the log on its exit, such as a
// FallbackToLogsOnError termination message, finds its last lines, as
// containerd's CRI waits for a container's IO before reporting its exit.
func (r *Runtime) awaitLog(ctx context.Context, id string) {
	v, ok := attached.Load(r.logKey(id))
	if !ok {
		return
	}
	t := time.NewTimer(logDrain)
	defer t.Stop()
	select {
	case <-v.(*logIO).exited:
	case <-t.C:
	case <-ctx.Done():
	}
}

// attachLogs reads again the output of every running task nobody in this
// process reads: after the agent restarted, fifos still hold what the
// containers wrote meanwhile.
func (r *Runtime) attachLogs(ctx context.Context) error {
	ctx = r.ctx(ctx)
	list, err := r.client.Containers(ctx)
	if err != nil {
		return fmt.Errorf("listing containers: %w", err)
	}
	for _, c := range list {
		if _, ok := attached.Load(r.logKey(c.ID())); ok {
			continue
		}
		if err := r.attachLog(ctx, c); err != nil {
			klog.Warningf("following the output of container %s again: %v", c.ID(), err)
		}
	}
	return nil
}

func (r *Runtime) attachLog(ctx context.Context, c containerd.Container) error {
	labels, err := c.Labels(ctx)
	if err != nil {
		return err
	}
	sandbox, name := labels[labelSandbox], labels[labelContainer]
	attempt, err := strconv.Atoi(labels[labelAttempt])
	if sandbox == "" || name == "" || err != nil {
		return nil // not one of ours
	}
	task, err := c.Task(ctx, nil)
	if err != nil {
		return nil // no task: nothing writes
	}
	if st, err := task.Status(ctx); err != nil || (st.Status != containerd.Running && st.Status != containerd.Created) {
		return nil
	}
	// Output only: the container's stdin ended with the agent that fed it.
	l, err := r.newLogIO(sandbox, name, attempt, stdio{})
	if err != nil {
		return err
	}
	if _, err := c.Task(ctx, func(fifos *cio.FIFOSet) (cio.IO, error) {
		if fifos == nil || fifos.Stdout != r.fifos(sandbox, c.ID(), stdio{}).Stdout {
			return nil, fmt.Errorf("its output does not go through fargo's fifos (started by an older fargo?)")
		}
		fifos.Stdin = ""
		return l.open(fifos)
	}); err != nil {
		l.log.close()
		return err
	}
	r.follow(c.ID(), l)
	return nil
}

// detachLogs stops reading the output of this runtime's tasks (at Close): the
// fifos stay, so the next runtime attaches again.
func (r *Runtime) detachLogs() {
	prefix := r.logKey("")
	attached.Range(func(k, v any) bool {
		if key := k.(string); len(key) > len(prefix) && key[:len(prefix)] == prefix {
			l := v.(*logIO)
			attached.Delete(k)
			_ = l.io.Close() // the fifos stay: they have no close function
		}
		return true
	})
}
