package guest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/fargo-dev/fargo/internal/guest/api"
)

// maxChunk is the most output one stream message carries (ttrpc's limit is 4 MiB).
const maxChunk = 64 * 1024

// exec runs args in the container with runc exec (the container's user,
// environment and working directory) and streams its output and exit.
func (cs *containers) exec(srv api.Guest_ExecServer) error {
	first, err := srv.Recv()
	if err != nil {
		return err
	}
	if _, err := cs.get(first.ContainerId); err != nil {
		return err
	}
	if len(first.Args) == 0 {
		return errors.New("exec: no command")
	}
	if first.Tty {
		return cs.execTTY(srv, first)
	}
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return err
	}
	logFile := filepath.Join(bundles, first.ContainerId, "exec.log")
	args := append([]string{"--root", runcRoot, "--log", logFile, "--log-format", "json", "exec", first.ContainerId}, first.Args...)
	cmd := exec.Command("runc", args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdinR, outW, errW
	startErr := cmd.Start()
	_ = stdinR.Close()
	_ = outW.Close()
	_ = errW.Close()
	if startErr != nil {
		_ = stdinW.Close()
		return fmt.Errorf("runc exec: %w", startErr)
	}
	exited := cs.reaper.exit(cmd.Process.Pid)
	var sendMu sync.Mutex
	send := func(m *api.ExecOutput) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return srv.Send(m)
	}
	if !first.Stdin {
		_ = stdinW.Close()
	} else {
		go func() {
			defer stdinW.Close()
			for {
				in, err := srv.Recv()
				if err != nil {
					return
				}
				if len(in.Data) > 0 {
					if _, err := stdinW.Write(in.Data); err != nil {
						return
					}
				}
				if in.CloseStdin {
					return
				}
			}
		}()
	}
	var wg sync.WaitGroup
	pump := func(r io.ReadCloser, stderr bool) {
		defer wg.Done()
		defer r.Close()
		buf := make([]byte, maxChunk)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				m := &api.ExecOutput{}
				if stderr {
					m.Stderr = append([]byte(nil), buf[:n]...)
				} else {
					m.Stdout = append([]byte(nil), buf[:n]...)
				}
				if send(m) != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	wg.Add(2)
	go pump(outR, false)
	go pump(errR, true)
	ws := <-exited
	_ = cmd.Process.Release()
	wg.Wait()
	c := code(ws)
	if c == 255 {
		// runc's own failure (no such container, no such binary): say why.
		if msg := lastRuncError(logFile); msg != "no error logged" && msg != "no log" {
			_ = os.Remove(logFile)
			return fmt.Errorf("exec in %s: %s", first.ContainerId, msg)
		}
	}
	_ = os.Remove(logFile)
	return send(&api.ExecOutput{Exited: true, ExitCode: c})
}

// dial connects the stream to a TCP port on the guest's loopback.
func dial(srv api.Guest_DialServer) error {
	first, err := srv.Recv()
	if err != nil {
		return err
	}
	conn, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(first.Port))))
	if err != nil {
		return fmt.Errorf("connecting to port %d: %w", first.Port, err)
	}
	defer conn.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if len(first.Data) > 0 {
			if _, err := conn.Write(first.Data); err != nil {
				return
			}
		}
		for {
			in, err := srv.Recv()
			if err != nil || in.Eof {
				_ = conn.(*net.TCPConn).CloseWrite()
				return
			}
			if _, err := conn.Write(in.Data); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, maxChunk)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			if err := srv.Send(&api.Chunk{Data: append([]byte(nil), buf[:n]...)}); err != nil {
				return err
			}
		}
		if err != nil {
			break
		}
	}
	<-done
	return srv.Send(&api.Chunk{Eof: true})
}
