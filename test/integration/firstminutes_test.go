//go:build integration

package integration

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fargo-dev/fargo/test/harness"
)

// fargo create fargateprofile run the moment the kubeconfig appears, while the
// server is still starting, waits for it (saying so) instead of failing on
// the cluster info it has not published yet; the server then prints the next
// three commands.
func TestCLIWaitsForAStartingServer(t *testing.T) {
	s := harness.Launch(t, harness.ServerArgs(t, t.TempDir()))
	harness.Eventually(t, 60*time.Second, "the kubeconfig written", func() bool {
		_, err := os.Stat(s.Kubeconfig())
		return err == nil
	})
	out, err := fargoCLI(t, s, "create", "fargateprofile", "--cluster", "fargo", "--name", "apps", "--namespace", "apps", "--timeout", "2m")
	if err != nil || !strings.Contains(out, `created Fargate profile "apps"`) {
		t.Fatalf("create while the server starts: %v\n%s", err, out)
	}
	if err := s.WaitReady(90 * time.Second); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.Output(), "\n  export KUBECONFIG="+s.Kubeconfig()+"\n  fargo create fargateprofile --cluster fargo") {
		t.Errorf("the server does not print the next commands:\n%s", s.Output())
	}
	s.Stop()
	// Stopped: a short --timeout ends the wait, saying what is wrong.
	out, err = fargoCLI(t, s, "get", "fargateprofile", "--cluster", "fargo", "--timeout", "2s")
	if err == nil || !strings.Contains(out, "is not ready (still starting, or stopped") {
		t.Errorf("get against a stopped server: %v\n%s", err, out)
	}
}

// Under systemd (Type=notify) the server says READY=1 once it is ready and
// STOPPING=1 when it stops, on $NOTIFY_SOCKET; nothing it embeds (etcd) or
// starts says anything there first.
func TestServerNotifiesSystemd(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	s := harness.Launch(t, harness.ServerArgs(t, t.TempDir()))
	read := func(want string) {
		t.Helper()
		buf := make([]byte, 256)
		_ = conn.SetReadDeadline(time.Now().Add(90 * time.Second))
		n, err := conn.Read(buf)
		if err != nil || strings.TrimSpace(string(buf[:n])) != want {
			t.Fatalf("notify socket: %q, %v; want %q", buf[:n], err, want)
		}
	}
	read("READY=1")
	if err := s.WaitReady(2 * time.Second); err != nil {
		t.Errorf("READY=1 came before the server was ready: %v", err)
	}
	if err := s.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	read("STOPPING=1")
	// It stops on that one signal (the harness's cleanup would send a second,
	// which exits at once).
	if err := s.WaitExit(30 * time.Second); err != nil {
		t.Errorf("after STOPPING=1 the server did not stop cleanly: %v", err)
	}
}

// make install's script (into a prefix of the test's, without starting
// anything): fargo on PATH beside coredns, a unit systemd accepts, and its
// remove mode takes it all away again.
func TestInstallScript(t *testing.T) {
	dir := t.TempDir()
	env := append(os.Environ(), "PREFIX="+dir+"/usr", "SYSTEMD_DIR="+dir+"/systemd", "DEFAULTS_FILE="+dir+"/default/fargo", "INSTALL_FARGO_SKIP_START=true")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(harness.Root(), "hack", "install.sh"), args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("hack/install.sh %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	t.Log(run())
	if out, err := exec.Command(dir+"/usr/bin/fargo", "version").CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "fargo ") {
		t.Errorf("the installed fargo: %v %s", err, out)
	}
	if _, err := os.Stat(dir + "/usr/lib/fargo/coredns"); err != nil {
		t.Errorf("coredns is not beside the installed fargo: %v", err)
	}
	unit, err := os.ReadFile(dir + "/systemd/fargo.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Type=notify", "KillMode=process", "ExecStart=" + dir + "/usr/bin/fargo server $FARGO_SERVER_ARGS", "EnvironmentFile=-" + dir + "/default/fargo"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("the unit lacks %q:\n%s", want, unit)
		}
	}
	if _, err := exec.LookPath("systemd-analyze"); err == nil {
		if out, err := exec.Command("systemd-analyze", "verify", dir+"/systemd/fargo.service").CombinedOutput(); err != nil {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	}
	t.Log(run("remove"))
	for _, p := range []string{"/usr/bin/fargo", "/usr/lib/fargo", "/systemd/fargo.service"} {
		if _, err := os.Lstat(dir + p); !os.IsNotExist(err) {
			t.Errorf("%s is still there after remove: %v", p, err)
		}
	}
}
