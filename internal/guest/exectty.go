package guest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/console"
	runc "github.com/containerd/go-runc"

	"github.com/fargo-dev/fargo/internal/guest/api"
)

// execTTY runs args in the container on a new terminal. runc hands a
// terminal's master only to a caller it detaches from (runc exec -d --tty
// --console-socket), over a console socket (go-runc's, as containerd's shim
// does); the process is then fargo-guest's child (PID 1 adopts it), waited for
// by its PID. The stream carries the terminal's output as stdout, and its
// input and size changes back.
func (cs *containers) execTTY(srv api.Guest_ExecServer, first *api.ExecInput) error {
	sock, err := runc.NewTempConsoleSocket()
	if err != nil {
		return fmt.Errorf("exec: making a console socket: %w", err)
	}
	defer sock.Close()
	masters := make(chan console.Console, 1)
	go func() {
		if m, err := sock.ReceiveMaster(); err == nil {
			masters <- m
		}
	}()
	dir, err := os.MkdirTemp(filepath.Join(bundles, first.ContainerId), "exec-")
	if err != nil {
		return fmt.Errorf("exec: %w", err)
	}
	defer os.RemoveAll(dir)
	pidFile := filepath.Join(dir, "pid")
	args := append([]string{"exec", "-d", "--tty", "--console-socket", sock.Path(), "--pid-file", pidFile, first.ContainerId}, first.Args...)
	if err := cs.runc(filepath.Join(dir, "runc.log"), [3]*os.File{}, args...); err != nil {
		return fmt.Errorf("exec in %s: %w", first.ContainerId, err)
	}
	b, err := os.ReadFile(pidFile)
	pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || perr != nil {
		return fmt.Errorf("exec in %s: reading runc's pid file: %v %v", first.ContainerId, err, perr)
	}
	exited := cs.reaper.exit(pid)
	var master console.Console
	select {
	case master = <-masters:
	case <-time.After(10 * time.Second):
		return fmt.Errorf("exec in %s: runc handed over no terminal", first.ContainerId)
	}
	defer master.Close()
	resize := func(in *api.ExecInput) {
		if in.Width > 0 && in.Height > 0 {
			_ = master.Resize(console.WinSize{Width: uint16(in.Width), Height: uint16(in.Height)})
		}
	}
	resize(first)
	go func() {
		for {
			in, err := srv.Recv()
			if err != nil {
				return
			}
			if len(in.Data) > 0 {
				if _, err := master.Write(in.Data); err != nil {
					return
				}
			}
			resize(in)
		}
	}()
	var sendMu sync.Mutex
	send := func(m *api.ExecOutput) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return srv.Send(m)
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		buf := make([]byte, maxChunk)
		for {
			n, err := master.Read(buf)
			if n > 0 && send(&api.ExecOutput{Stdout: append([]byte(nil), buf[:n]...)}) != nil {
				return
			}
			if err != nil {
				return // EIO once no process holds the terminal
			}
		}
	}()
	ws := <-exited
	select {
	case <-drained:
	case <-time.After(time.Second): // a child it left behind still holds the terminal
	}
	return send(&api.ExecOutput{Exited: true, ExitCode: code(ws)})
}
