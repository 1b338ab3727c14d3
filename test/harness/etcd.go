package harness

import (
	"context"
	"net/http"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// Etcd is an external etcd started from bin/etcd on loopback ports.
type Etcd struct {
	ClientURL string
	Pid       int
}

// StartEtcd starts a one-member etcd in a temp dir and waits until it is healthy;
// it is stopped when the test ends.
func StartEtcd(t testing.TB) *Etcd {
	t.Helper()
	client := "http://127.0.0.1:" + strconv.Itoa(FreePort(t))
	peer := "http://127.0.0.1:" + strconv.Itoa(FreePort(t))
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, Bin(t, "etcd"),
		"--name", "test", "--data-dir", t.TempDir(),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "test="+peer, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting etcd: %v", err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(client + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return &Etcd{ClientURL: client, Pid: cmd.Process.Pid}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd not healthy after 30s: %v\n%s", err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
