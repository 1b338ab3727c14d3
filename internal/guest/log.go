package guest

import (
	"bytes"
	"io"
	"os"
	"sync"
	"time"
)

// criLog writes a container's output in the CRI log format kubelet reads:
// "<RFC3339Nano> <stream> <F|P> <text>", one record per line (P for a part of
// a line longer than maxLine, or cut by the stream's end).
type criLog struct {
	mu sync.Mutex
	f  *os.File
}

const maxLine = 16 * 1024

func openLog(path string) (*criLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	return &criLog{f: f}, nil
}

func (l *criLog) record(stream, tag string, text []byte) {
	var b bytes.Buffer
	b.WriteString(time.Now().UTC().Format(time.RFC3339Nano))
	b.WriteString(" " + stream + " " + tag + " ")
	b.Write(text)
	b.WriteByte('\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.f.Write(b.Bytes())
}

// copy records r's lines as stream until r ends.
func (l *criLog) copy(stream string, r io.Reader) {
	buf := make([]byte, 0, maxLine)
	chunk := make([]byte, 32*1024)
	for {
		n, err := r.Read(chunk)
		buf = append(buf, chunk[:n]...)
	lines:
		for {
			switch i := bytes.IndexByte(buf, '\n'); {
			case i >= 0 && i <= maxLine:
				l.record(stream, "F", buf[:i])
				buf = buf[i+1:]
			case len(buf) >= maxLine:
				l.record(stream, "P", buf[:maxLine])
				buf = buf[maxLine:]
			default:
				break lines
			}
		}
		buf = append(make([]byte, 0, maxLine), buf...)
		if err != nil {
			if len(buf) > 0 {
				l.record(stream, "P", buf)
			}
			return
		}
	}
}

func (l *criLog) close() { _ = l.f.Close() }
