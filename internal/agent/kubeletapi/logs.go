package kubeletapi

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// containerLogs serves a container's output as kubelet does: previous (the
// attempt before), tailLines, limitBytes, and follow (until the container exits
// or the client goes). The runtime keeps stdout and stderr together, without
// timestamps, so timestamps=true and sinceSeconds change nothing.
func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) {
	ns, pod, container := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
	q := r.URL.Query()
	tail, hasTail, err := intParam(r, "tailLines")
	if err == nil {
		var limit int64
		var hasLimit bool
		if limit, hasLimit, err = intParam(r, "limitBytes"); err == nil {
			err = s.writeLogs(r.Context(), w, nodeOf(r), ns, pod, container, logOptions{
				previous: q.Get("previous") == "true", follow: q.Get("follow") == "true",
				tail: tail, hasTail: hasTail, limit: limit, hasLimit: hasLimit,
			})
		}
	}
	if err != nil {
		httpError(w, err)
	}
}

type logOptions struct {
	previous, follow bool
	tail, limit      int64
	hasTail          bool
	hasLimit         bool
}

func (s *Server) writeLogs(ctx context.Context, w http.ResponseWriter, node net.IP, ns, pod, container string, o logOptions) error {
	sandbox, err := s.pods(ctx, node, ns, pod)
	if err != nil {
		return err
	}
	attempt := s.attempt(ctx, sandbox, container) // follow stops when it is no longer running
	path, err := s.runtime.ContainerLog(ctx, sandbox, container, o.previous)
	if err != nil {
		return fmt.Errorf("logs of container %s in pod %s/%s: %w", container, ns, pod, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("logs of container %s in pod %s/%s: %w", container, ns, pod, err)
	}
	defer f.Close()
	start, err := tailOffset(f, o)
	if err != nil {
		return err
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain")
	var out io.Writer = w
	if o.hasLimit {
		out = &limitWriter{w: w, left: o.limit}
	}
	if _, err := io.Copy(out, f); err != nil || !o.follow || o.previous {
		return nil
	}
	// Follow: copy what is appended until the container is no longer running.
	flusher, _ := w.(http.Flusher)
	for {
		if flusher != nil {
			flusher.Flush()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(250 * time.Millisecond):
		}
		if _, err := io.Copy(out, f); err != nil {
			return nil
		}
		if s.attempt(ctx, sandbox, container) != attempt {
			_, _ = io.Copy(out, f)
			return nil
		}
	}
}

// attempt is the run of the container that is running now; -1 when none is.
func (s *Server) attempt(ctx context.Context, sandbox, container string) int {
	list, err := s.runtime.Containers(ctx, sandbox)
	if err != nil {
		return -1
	}
	for _, c := range list {
		if c.Name == container && c.State == runtime.StateRunning {
			return c.Attempt
		}
	}
	return -1
}

// tailOffset is where the last o.tail lines of f start (0 without tailLines),
// found reading backwards from the end in chunks.
func tailOffset(f *os.File, o logOptions) (int64, error) {
	if !o.hasTail {
		return 0, nil
	}
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil || o.tail == 0 {
		return end, err
	}
	buf := make([]byte, 32<<10)
	newlines := int64(0)
	for pos := end; pos > 0; {
		n := min(int64(len(buf)), pos)
		pos -= n
		if _, err := f.ReadAt(buf[:n], pos); err != nil {
			return 0, err
		}
		for i := n - 1; i >= 0; i-- {
			if buf[i] != '\n' || pos+i == end-1 { // the last line's own newline does not count
				continue
			}
			if newlines++; newlines == o.tail {
				return pos + i + 1, nil
			}
		}
	}
	return 0, nil
}

// limitWriter stops writing after left bytes.
type limitWriter struct {
	w    io.Writer
	left int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, io.EOF
	}
	n := len(p)
	if int64(n) > l.left {
		p = p[:l.left]
	}
	m, err := l.w.Write(p)
	l.left -= int64(m)
	if err == nil && m < n {
		err = io.EOF
	}
	return m, err
}
