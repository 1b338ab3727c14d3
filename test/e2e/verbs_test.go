//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fargo-dev/fargo/internal/clusterconfig"
	"github.com/fargo-dev/fargo/test/harness"
	"github.com/fargo-dev/fargo/test/images"
)

// The same kubectl verbs on a Fargate pod and on a pod of the default node
// group (no --config: eksctl's two m5.large nodes): logs (--timestamps,
// --since), run -i (piped and --tty), exec -it through a
// pty, cp both ways, attach (output) and port-forward to a server that listens
// on the pod's loopback only, and top through metrics-server.
func TestKubectlVerbsOnBothKinds(t *testing.T) {
	harness.RequireRoot(t)
	img, err := images.Busybox()
	ref := images.Serve(t, "busybox", img, err)
	dataDir, _ := harness.ClusterDir(t, "fargo-verbs-", "")
	var args []string
	for _, a := range harness.ServerArgs(t, dataDir) {
		if a != "--without-nodegroup" {
			args = append(args, a)
		}
	}
	s := harness.StartServerWith(t, append(args, "--runtime", "containerd", "--host-name", "verbs", "--cpu-overcommit", "4"))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s\nserver output:\n%s", s.Kubectl("get", "pods,nodes", "-A", "-o", "wide"), harness.Tail(s.Output(), 30))
		}
	})
	group := clusterconfig.DefaultNodeGroupName("fargo")
	if out := s.Output(); !strings.Contains(out, "node group "+group) || !strings.Contains(out, "2 × m5.large") {
		t.Errorf("the start-up output does not show the default node group %s of 2 × m5.large:\n%s", group, out)
	}
	s.CreateManifest(`{"apiVersion":"fargo.dev/v1alpha1","kind":"FargateProfile","metadata":{"name":"fg"},"spec":{"selectors":[{"namespace":"fg"}]}}`)
	const script = `mkdir -p /www && echo hello-$(hostname) > /www/index.html && httpd -p 127.0.0.1:8080 -h /www && i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done`
	for _, ns := range []string{"fg", "ec2"} {
		s.Kubectl("create", "namespace", ns)
		harness.Eventually(t, 30*time.Second, "service account", func() bool { _, err := s.TryKubectl("get", "sa", "default", "-n", ns); return err == nil })
		s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"verbs","namespace":"` + ns + `"},
"spec":{"terminationGracePeriodSeconds":1,"containers":[{"name":"main","image":"` + ref + `","command":["sh","-c",` + strconv.Quote(script) + `]}]}}`)
	}
	for _, ns := range []string{"fg", "ec2"} {
		harness.Eventually(t, 2*time.Minute, ns+"/verbs Running", func() bool {
			return jsonpath(s, "{.status.phase}", "get", "pod", "-n", ns, "verbs") == "Running"
		})
	}
	if node := jsonpath(s, "{.spec.nodeName}", "get", "pod", "-n", "fg", "verbs"); !strings.HasPrefix(node, "fargate-ip-") {
		t.Errorf("fg/verbs is on %s, want a Fargate node", node)
	}
	if node := jsonpath(s, "{.spec.nodeName}", "get", "pod", "-n", "ec2", "verbs"); !strings.HasPrefix(node, "ip-") {
		t.Errorf("ec2/verbs is on %s, want a node of %s", node, group)
	}
	// metrics-server, as its project deploys it, on the node group: kubectl top
	// reads what it scrapes from every node's kubelet API at the node's address.
	ms, err := images.MetricsServer(filepath.Join(harness.Root(), "bin", "metrics-server"))
	msRef := images.Serve(t, "metrics-server", ms, err)
	manifest, err := os.ReadFile("testdata/metrics-server.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s.CreateManifest(strings.ReplaceAll(string(manifest), "IMAGE", msRef))
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := s.TryKubectl("logs", "-n", "kube-system", "deploy/metrics-server", "--tail=40")
			t.Logf("metrics-server's log:\n%s", out)
		}
	})
	for _, ns := range []string{"fg", "ec2"} {
		t.Run(ns, func(t *testing.T) { checkVerbs(t, s, ns) })
	}
}

// checkTop waits for kubectl top's figures of the pod and of its node.
func checkTop(t *testing.T, s *harness.Server, ns, node string) {
	for _, args := range [][]string{{"pod", "-n", ns, "verbs"}, {"node", node}} {
		var out string
		for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
			var err error
			out, err = s.TryKubectl(append(append([]string{"top"}, args...), "--no-headers")...)
			// NAME CPU(cores) [CPU(%)] MEMORY(bytes) [MEMORY(%)]
			if f := strings.Fields(out); err == nil && len(f) >= 3 && f[0] == args[len(args)-1] && strings.HasSuffix(f[1], "m") && slices.ContainsFunc(f[2:], func(v string) bool { return strings.HasSuffix(v, "Mi") }) {
				out = ""
				break
			}
		}
		if out != "" {
			t.Errorf("kubectl top %s: %q after 2 min, want CPU and memory figures", strings.Join(args, " "), out)
		}
	}
}

func checkVerbs(t *testing.T, s *harness.Server, ns string) {
	harness.Eventually(t, 30*time.Second, "8 ticks in the log", func() bool {
		out, _ := s.TryKubectl("logs", "-n", ns, "verbs")
		return strings.Count(out, "tick ") >= 8
	})
	// logs --timestamps: each line stamped when it was written; --since keeps
	// only the recent ones.
	for _, line := range strings.Split(strings.TrimSpace(s.Kubectl("logs", "-n", ns, "verbs", "--timestamps", "--tail=3")), "\n") {
		stamp, text, _ := strings.Cut(line, " ")
		at, err := time.Parse(time.RFC3339Nano, stamp)
		if err != nil || time.Since(at) > time.Minute || time.Since(at) < -time.Second || !strings.HasPrefix(text, "tick ") {
			t.Errorf("kubectl logs --timestamps line %q: want a recent RFC 3339 time, then a tick", line)
		}
	}
	all := strings.Count(s.Kubectl("logs", "-n", ns, "verbs"), "tick ")
	if recent := strings.Count(s.Kubectl("logs", "-n", ns, "verbs", "--since=3s"), "tick "); recent < 1 || recent > 5 || recent >= all {
		t.Errorf("kubectl logs --since=3s: %d ticks of %d, want the last 2 to 4", recent, all)
	}
	// exec -it: kubectl sees a terminal (script(1) gives it a pty), so the
	// shell in the container has one too.
	kubectl := harness.Bin(t, "kubectl")
	cmd := exec.Command("script", "-qec", kubectl+" --kubeconfig "+s.Kubeconfig()+" exec -it -n "+ns+" verbs -- sh", "/dev/null")
	cmd.Stdin = strings.NewReader("tty; echo the-end\nexit\n")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "/dev/pts/") || !strings.Contains(string(out), "the-end") {
		t.Errorf("kubectl exec -it: %v\n%s\nwant the shell's tty, a /dev/pts", err, out)
	}
	// run -i: a new pod whose stdin is the client's (stdinOnce), as plain
	// pipes, then with a terminal (--tty, through a pty again).
	in := "piped-through-attach\n"
	image := jsonpath(s, "{.spec.containers[0].image}", "get", "pod", "-n", ns, "verbs")
	if out, err := s.KubectlStdin(in, "run", "-n", ns, "cat", "--image", image,
		"--restart=Never", "-i", "--rm", "--command", "--", "cat"); err != nil || !strings.Contains(out, "piped-through-attach") {
		t.Errorf("kubectl run -i ... cat: %v\n%s\nwant the input echoed", err, out)
	}
	cmd = exec.Command("script", "-qec", kubectl+" --kubeconfig "+s.Kubeconfig()+" run -n "+ns+" tty --image "+image+" --restart=Never -i --tty --rm --command -- sh", "/dev/null")
	cmd.Stdin = strings.NewReader("tty; echo run-tty-end\nexit\n")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "/dev/pts/") || !strings.Contains(string(out), "run-tty-end") {
		t.Errorf("kubectl run -i --tty ... sh: %v\n%s\nwant the shell's tty, a /dev/pts", err, out)
	}
	// cp out of the pod and into it (tar through exec, as kubectl does).
	local := filepath.Join(t.TempDir(), "index.html")
	if out, err := s.TryKubectl("cp", ns+"/verbs:/www/index.html", local); err != nil {
		t.Errorf("kubectl cp from the pod: %v\n%s", err, out)
	} else if data, _ := os.ReadFile(local); string(data) != "hello-verbs\n" {
		t.Errorf("copied %q, want hello-verbs", data)
	}
	if err := os.WriteFile(local, []byte("from-the-host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := s.TryKubectl("cp", local, ns+"/verbs:/www/up.html"); err != nil {
		t.Errorf("kubectl cp into the pod: %v\n%s", err, out)
	} else if out, _ := s.TryKubectl("exec", "-n", ns, "verbs", "--", "cat", "/www/up.html"); out != "from-the-host\n" {
		t.Errorf("the file copied in reads %q", out)
	}
	// attach: the container's output from now on.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	out, _ := exec.CommandContext(ctx, kubectl, "--kubeconfig", s.Kubeconfig(), "attach", "-n", ns, "verbs").CombinedOutput()
	cancel()
	if !strings.Contains(string(out), "tick ") {
		t.Errorf("kubectl attach: %q, want the ticks", out)
	}
	// The Summary API and /metrics/resource of the pod's node, through the
	// apiserver's node proxy (as metrics-server reads them).
	node := jsonpath(s, "{.spec.nodeName}", "get", "pod", "-n", ns, "verbs")
	raw, err := s.TryKubectl("get", "--raw", "/api/v1/nodes/"+node+"/proxy/stats/summary")
	var sum struct {
		Node struct{ NodeName string }
		Pods []struct {
			PodRef     struct{ Name, Namespace string }
			Containers []struct {
				Name string
				CPU  struct{ UsageCoreNanoSeconds uint64 }
			}
		}
	}
	if err != nil || json.Unmarshal([]byte(raw), &sum) != nil || sum.Node.NodeName != node {
		t.Errorf("stats/summary of %s: %v\n%.500s", node, err, raw)
	}
	found := false
	for _, p := range sum.Pods {
		for _, c := range p.Containers {
			found = found || (p.PodRef.Namespace == ns && p.PodRef.Name == "verbs" && c.Name == "main" && c.CPU.UsageCoreNanoSeconds > 0)
		}
	}
	if !found {
		t.Errorf("stats/summary of %s has no CPU time for container main of %s/verbs:\n%.800s", node, ns, raw)
	}
	if raw, err := s.TryKubectl("get", "--raw", "/api/v1/nodes/"+node+"/proxy/metrics/resource"); err != nil ||
		!strings.Contains(raw, `container_cpu_usage_seconds_total{container="main",namespace="`+ns+`",pod="verbs"}`) {
		t.Errorf("metrics/resource of %s: %v\n%.800s", node, err, raw)
	}
	checkTop(t, s, ns, node)
	// port-forward to the loopback-only server.
	port := harness.FreePort(t)
	pf := exec.Command(kubectl, "--kubeconfig", s.Kubeconfig(), "port-forward", "-n", ns, "pod/verbs", fmt.Sprintf("%d:8080", port))
	var pfOut bytes.Buffer
	pf.Stdout, pf.Stderr = &pfOut, &pfOut
	if err := pf.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pf.Process.Kill(); _ = pf.Wait() }()
	var body string
	harness.Eventually(t, 20*time.Second, "a GET through port-forward", func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err != nil {
			return false
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(data)
		return resp.StatusCode == 200
	})
	if body != "hello-verbs\n" {
		t.Errorf("GET through port-forward = %q, want hello-verbs (kubectl: %s)", body, pfOut.String())
	}
}
