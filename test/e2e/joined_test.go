//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fargo-dev/fargo/test/harness"
	"github.com/fargo-dev/fargo/test/images"
)

// `fargo agent` on a second data dir of the same machine serves what the
// server's built-in agent does: a pod placed on it runs under its own containerd,
// and kubectl logs and exec reach it through the apiserver (the egress proxy
// routes by node to the agent's kubelet API, whose serving certificate came
// through the CSR API). The two agents do not fight over host-wide state: the
// netns and cgroup carry the host's name, and one service proxy runs.
func TestJoinedAgent(t *testing.T) {
	harness.RequireRoot(t)
	img, err := images.Busybox()
	ref := images.Serve(t, "busybox", img, err)
	dataDir, err := os.MkdirTemp("", "fargo-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { harness.CleanupSandboxes(t, dataDir); os.RemoveAll(dataDir) })
	s := harness.StartServerWith(t, append(harness.ServerArgs(t, dataDir), "--runtime", "containerd", "--host-name", "e2e"))

	agentDir, err := os.MkdirTemp("", "fargo-j-") // short: containerd's socket path has a limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { harness.CleanupSandboxes(t, agentDir); os.RemoveAll(agentDir) })
	out := &strings.Builder{}
	agent := exec.Command(harness.Bin(t, "fargo"), "agent", "--kubeconfig", s.Kubeconfig(), "--data-dir", agentDir,
		"--host-name", "joined", "--runtime", "containerd")
	agent.Stdout, agent.Stderr = out, out
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- agent.Wait() }()
	stopAgent := func() {
		_ = agent.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = agent.Process.Kill()
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("fargo agent output:\n%s", out.String())
			t.Logf("fargo server output:\n%s", s.Output())
			if log, err := exec.Command("grep", "-i", "host", filepath.Join(dataDir, "logs", "fargo.log")).Output(); err == nil {
				t.Logf("server log:\n%s", log)
			}
			t.Log(s.Kubectl("get", "pods,nodes,sandboxes,hosts", "-A", "-o", "wide"))
			t.Log(s.Kubectl("get", "events", "-n", "apps"))
		}
		stopAgent()
	})
	harness.Eventually(t, 60*time.Second, "both hosts registered", func() bool {
		return hostEndpoint(s, "joined") != "" && hostEndpoint(s, "e2e") != ""
	})
	// Only the joined host takes new sandboxes.
	s.Kubectl("patch", "host", "e2e", "--type", "merge", "-p", `{"spec":{"unschedulable":true}}`)

	s.CreateManifest(`{"apiVersion":"fargo.dev/v1alpha1","kind":"FargateProfile","metadata":{"name":"apps"},"spec":{"selectors":[{"namespace":"apps"}]}}`)
	s.Kubectl("create", "namespace", "apps")
	harness.Eventually(t, 30*time.Second, "service account", func() bool { _, err := s.TryKubectl("get", "sa", "default", "-n", "apps"); return err == nil })
	s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"there","namespace":"apps"},"spec":{"containers":[{"name":"c","image":"` + ref +
		`","command":["sh","-c","echo hello from the joined host; exec sleep 3600"]}]}}`)
	harness.Eventually(t, 90*time.Second, "pod Running on the joined host", func() bool {
		return jsonpath(s, "{.status.phase}", "get", "pod", "-n", "apps", "there") == "Running"
	})
	sandbox := jsonpath(s, `{.items[?(@.spec.pod.name=="there")].metadata.name}`, "get", "sandboxes")
	if host := jsonpath(s, "{.spec.host}", "get", "sandbox", sandbox); host != "joined" {
		t.Fatalf("sandbox %s is on host %q, want joined", sandbox, host)
	}
	checkLogsAndExec(t, s, "there", "hello from the joined host")

	// Host-wide state is the joined host's own.
	netns := filepath.Join("/run/netns", "fargo-joined_"+sandbox)
	if _, err := os.Stat(netns); err != nil {
		t.Errorf("netns of the joined host's sandbox: %v, want %s", err, netns)
	}
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/memory/fargo/joined", sandbox)); err != nil {
		t.Errorf("cgroup of the joined host's sandbox: %v", err)
	}
	if !strings.Contains(out.String(), "run by another fargo agent on this machine") {
		t.Errorf("the joined agent started a second service proxy:\n%s", out.String())
	}
	if !strings.Contains(jsonpath(s, "{.items[*].spec.signerName}", "get", "csr"), "kubernetes.io/kubelet-serving") {
		t.Errorf("no kubelet-serving CSR: the joined agent's serving certificate did not come from the CSR API")
	}

	s.Kubectl("delete", "pod", "-n", "apps", "there", "--grace-period=1")
	harness.Eventually(t, 60*time.Second, "sandbox released", func() bool {
		_, err := os.Stat(netns)
		return os.IsNotExist(err) && jsonpath(s, "{.items[*].metadata.name}", "get", "sandboxes") == ""
	})
}

func hostEndpoint(s *harness.Server, name string) string {
	out, err := s.TryKubectl("get", "host", name, "-o", "jsonpath={.status.kubeletEndpoint}")
	if err != nil {
		return ""
	}
	return out
}
