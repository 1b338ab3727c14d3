//go:build integration

package integration

import (
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fargo-dev/fargo/test/harness"
)

// agentServer starts a server whose built-in agent uses the fake runtime, with a
// profile for namespace "apps".
func agentServer(t *testing.T, extra ...string) *harness.Server {
	s := harness.StartServer(t, append([]string{"--runtime", "fake", "--host-name", "h1"}, extra...)...)
	createJSON(t, s, profileJSON("apps", `{"selectors":[{"namespace":"apps"}]}`))
	waitProfile(t, s, "apps", "ACTIVE")
	s.Kubectl("create", "namespace", "apps")
	waitFor(t, "service account", func() bool { _, err := s.TryKubectl("get", "sa", "default", "-n", "apps"); return err == nil })
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(s.Kubectl("get", "pods,nodes,sandboxes,hosts", "-A", "-o", "wide"))
			t.Log(s.Kubectl("get", "events", "-n", "apps"))
		}
	})
	return s
}

func jsonpath(s *harness.Server, path string, args ...string) string {
	out, _ := s.TryKubectl(append(args, "-o", "jsonpath="+path)...)
	return out
}

// The seed's test2-fargate Deployment: two pods, each Running on its own Fargate
// node whose InternalIP is the pod IP; deleting it removes both nodes.
func TestAgentRunsPodsOnOwnNodes(t *testing.T) {
	s := agentServer(t)
	if hb := jsonpath(s, "{.status.heartbeatTime}", "get", "host", "h1"); hb == "" {
		t.Errorf("host h1 has no heartbeat")
	}
	// kubectl get hosts shows the machine and what it offers: by default its
	// CPUs × 4 and its memory as it is.
	machineCPU, _ := strconv.Atoi(jsonpath(s, "{.spec.machine.milliCPU}", "get", "host", "h1"))
	if want := runtime.NumCPU() * 1000; machineCPU != want {
		t.Errorf("host h1's machine has %dm CPU, want %dm", machineCPU, want)
	}
	out := s.Kubectl("get", "hosts")
	if lines := strings.Split(out, "\n"); len(lines) < 2 || !strings.Contains(lines[0], "MACHINE-MCPU") ||
		!strings.Contains(lines[1], strconv.Itoa(machineCPU*4)+" ") || !strings.Contains(lines[1], " "+strconv.Itoa(machineCPU)+" ") {
		t.Errorf("kubectl get hosts does not show %dm offered on %dm of the machine:\n%s", machineCPU*4, machineCPU, out)
	}
	if mem, machine := jsonpath(s, "{.spec.capacity.memoryMiB}", "get", "host", "h1"), jsonpath(s, "{.spec.machine.memoryMiB}", "get", "host", "h1"); mem != machine || mem == "" {
		t.Errorf("host h1 offers %s MiB of the machine's %s: memory is not overcommitted by default", mem, machine)
	}
	s.Kubectl("create", "deployment", "test2-fargate", "-n", "apps", "--image=nginx", "--replicas=2")
	harness.Eventually(t, 60*time.Second, "2/2 ready", func() bool {
		return jsonpath(s, "{.status.readyReplicas}", "get", "deployment", "-n", "apps", "test2-fargate") == "2"
	})
	pods := strings.Fields(jsonpath(s, "{.items[*].metadata.name}", "get", "pods", "-n", "apps"))
	nodes := map[string]bool{}
	for _, p := range pods {
		node := jsonpath(s, "{.spec.nodeName}", "get", "pod", "-n", "apps", p)
		nodes[node] = true
		podIP := jsonpath(s, "{.status.podIP}", "get", "pod", "-n", "apps", p)
		nodeIP := jsonpath(s, `{.status.addresses[?(@.type=="InternalIP")].address}`, "get", "node", node)
		if !strings.HasPrefix(node, "fargate-ip-") || podIP == "" || podIP != nodeIP {
			t.Errorf("pod %s on %s: pod IP %q, node InternalIP %q", p, node, podIP, nodeIP)
		}
		for path, want := range map[string]string{
			`{.metadata.labels.eks\.amazonaws\.com/compute-type}`:                      "fargate",
			`{.metadata.labels.kubernetes\.io/hostname}`:                               strings.TrimPrefix(node, "fargate-"),
			`{.metadata.labels.topology\.kubernetes\.io/region}`:                       "local-1",
			`{.spec.taints[0].key}={.spec.taints[0].value}:{.spec.taints[0].effect}`:   "eks.amazonaws.com/compute-type=fargate:NoSchedule",
			`{.status.capacity.cpu} {.status.capacity.memory} {.status.capacity.pods}`: "250m 512Mi 1",
			`{.status.conditions[?(@.type=="Ready")].status}`:                          "True",
		} {
			if got := jsonpath(s, path, "get", "node", node); got != want {
				t.Errorf("node %s %s = %q, want %q", node, path, got, want)
			}
		}
		if holder := jsonpath(s, "{.spec.holderIdentity}", "get", "lease", "-n", "kube-node-lease", node); holder != node {
			t.Errorf("lease of %s held by %q", node, holder)
		}
	}
	if len(pods) != 2 || len(nodes) != 2 {
		t.Fatalf("pods %v on nodes %v; want 2 pods on 2 nodes", pods, nodes)
	}
	// A pod bound to a Fargate node by anything but the fargate-scheduler is
	// rejected as EKS's kubelet does.
	var anyNode string
	for n := range nodes {
		anyNode = n
	}
	s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"intruder","namespace":"default"},"spec":{"nodeName":"` + anyNode + `","containers":[{"name":"c","image":"x"}]}}`)
	harness.Eventually(t, 30*time.Second, "intruder rejected", func() bool {
		return jsonpath(s, "{.status.phase}/{.status.reason}", "get", "pod", "-n", "default", "intruder") == "Failed/UnsupportedPodSpec"
	})
	if ev, _ := s.TryKubectl("get", "events", "-n", "default", "--field-selector", "reason=UnsupportedPodSpec", "-o", "jsonpath={.items[*].message}"); !strings.Contains(ev, "Pod not supported: SchedulerName is not fargate-scheduler") {
		t.Errorf("UnsupportedPodSpec event: %q", ev)
	}
	wide := s.Kubectl("get", "pods", "-n", "apps", "-o", "wide")
	t.Logf("kubectl get pods -o wide:\n%s", wide)

	start := time.Now()
	s.Kubectl("delete", "deployment", "-n", "apps", "test2-fargate")
	harness.Eventually(t, 30*time.Second, "both Fargate nodes gone", func() bool {
		out, _ := s.TryKubectl("get", "nodes", "-o", "name")
		return !strings.Contains(out, "fargate-ip-")
	})
	t.Logf("nodes removed %s after the delete", time.Since(start).Round(time.Millisecond))
	harness.Eventually(t, 30*time.Second, "sandboxes released", func() bool {
		out, _ := s.TryKubectl("get", "sandboxes", "-o", "name")
		return strings.TrimSpace(out) == ""
	})
}

// A pod that exits is Succeeded or Failed with its exit code; its sandbox is
// stopped and its node stays (Ready, cordoned) until the pod is deleted.
func TestAgentPodExitsAndNodeGoes(t *testing.T) {
	s := agentServer(t)
	s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"job","namespace":"apps"},"spec":{"restartPolicy":"Never",
		"initContainers":[{"name":"init","image":"busybox","command":["exit","0"]}],
		"containers":[{"name":"c","image":"busybox","command":["exit","3"]}]}}`)
	harness.Eventually(t, 30*time.Second, "job Failed", func() bool { return jsonpath(s, "{.status.phase}", "get", "pod", "-n", "apps", "job") == "Failed" })
	if got := jsonpath(s, "{.status.containerStatuses[0].state.terminated.exitCode} {.status.containerStatuses[0].state.terminated.reason} {.status.initContainerStatuses[0].state.terminated.reason}", "get", "pod", "-n", "apps", "job"); got != "3 Error Completed" {
		t.Errorf("job statuses: %q", got)
	}
	node := jsonpath(s, "{.spec.nodeName}", "get", "pod", "-n", "apps", "job")
	sandbox := jsonpath(s, "{.metadata.labels.fargo\\.dev/sandbox}", "get", "node", node)
	harness.Eventually(t, 30*time.Second, "the finished pod's sandbox stopped", func() bool {
		return jsonpath(s, `{.status.conditions[?(@.type=="Stopped")].status}`, "get", "sandbox", sandbox) == "True"
	})
	if got := jsonpath(s, `{.spec.unschedulable} {.status.conditions[?(@.type=="Ready")].status}`, "get", "node", node); got != "true True" {
		t.Errorf("node of the finished pod: unschedulable and Ready %q, want \"true True\" (kept for its logs)", got)
	}
	// The pod GC would take the pod for an orphan were its node gone.
	time.Sleep(2 * time.Second)
	if _, err := s.TryKubectl("get", "pod", "-n", "apps", "job"); err != nil {
		t.Errorf("the finished pod is gone before anyone deleted it: %v", err)
	}
	s.Kubectl("delete", "pod", "-n", "apps", "job")
	harness.Eventually(t, 30*time.Second, "node of the deleted pod gone", func() bool {
		out, _ := s.TryKubectl("get", "nodes", "-o", "name")
		return !strings.Contains(out, node)
	})
	// An init container that fails under restartPolicy Never fails the pod; the
	// app container never starts.
	s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"badinit","namespace":"apps"},"spec":{"restartPolicy":"Never",
		"initContainers":[{"name":"init","image":"busybox","command":["exit","2"]}],
		"containers":[{"name":"c","image":"busybox","command":["sleep"]}]}}`)
	harness.Eventually(t, 30*time.Second, "badinit Failed", func() bool { return jsonpath(s, "{.status.phase}", "get", "pod", "-n", "apps", "badinit") == "Failed" })
	if got := jsonpath(s, "{.status.initContainerStatuses[0].state.terminated.exitCode} {.status.containerStatuses[0].state.waiting.reason}", "get", "pod", "-n", "apps", "badinit"); got != "2 PodInitializing" {
		t.Errorf("badinit statuses: %q, want init exit 2 and the app container never started", got)
	}
	// A pod past its activeDeadlineSeconds is stopped and Failed, as kubelet does it.
	s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"deadline","namespace":"apps"},"spec":{"activeDeadlineSeconds":2,
		"containers":[{"name":"c","image":"busybox","command":["sleep"]}]}}`)
	harness.Eventually(t, 30*time.Second, "deadline Failed with DeadlineExceeded", func() bool {
		return jsonpath(s, "{.status.phase} {.status.reason}", "get", "pod", "-n", "apps", "deadline") == "Failed DeadlineExceeded"
	})
	// A subPathExpr that expands to ".." is refused, as kubelet refuses it.
	s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"backsteps","namespace":"apps"},"spec":{"volumes":[{"name":"w","emptyDir":{}}],
		"containers":[{"name":"c","image":"busybox","command":["sleep"],"env":[{"name":"UP","value":".."}],
		"volumeMounts":[{"name":"w","mountPath":"/w","subPathExpr":"$(UP)"}]}]}}`)
	harness.Eventually(t, 30*time.Second, "backsteps waiting with CreateContainerConfigError", func() bool {
		return jsonpath(s, "{.status.containerStatuses[0].state.waiting.reason}", "get", "pod", "-n", "apps", "backsteps") == "CreateContainerConfigError"
	})
	// A crashing container under restartPolicy Always goes into CrashLoopBackOff.
	s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"crash","namespace":"apps"},"spec":{"containers":[{"name":"c","image":"busybox","command":["exit","1"]}]}}`)
	harness.Eventually(t, 30*time.Second, "CrashLoopBackOff", func() bool {
		return jsonpath(s, "{.status.containerStatuses[0].state.waiting.reason}", "get", "pod", "-n", "apps", "crash") == "CrashLoopBackOff"
	})
	harness.Eventually(t, 30*time.Second, "restarted once after 10s back-off", func() bool {
		return jsonpath(s, "{.status.containerStatuses[0].restartCount}", "get", "pod", "-n", "apps", "crash") == "1"
	})
}

// The sweep deletes a node of this host whose sandbox is gone.
func TestAgentSweepsLeakedNode(t *testing.T) {
	s := agentServer(t)
	s.CreateManifest(`{"apiVersion":"v1","kind":"Node","metadata":{"name":"fargate-ip-192-168-9-9.local-1.compute.internal","labels":{"fargo.dev/host":"h1","fargo.dev/sandbox":"ip-192-168-9-9"}}}`)
	harness.Eventually(t, 30*time.Second, "leaked node swept", func() bool {
		_, err := s.TryKubectl("get", "node", "fargate-ip-192-168-9-9.local-1.compute.internal")
		return err != nil
	})
	out, err := exec.Command(harness.Bin(t, "fargo"), "agent", "--kubeconfig", s.Kubeconfig(), "--runtime", "kata").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `--runtime "kata": unknown runtime`) {
		t.Errorf("fargo agent --runtime kata: %v\n%s", err, out)
	}
}
