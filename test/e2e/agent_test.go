//go:build e2e

package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/fargo-dev/fargo/test/harness"
	"github.com/fargo-dev/fargo/test/images"
)

func httpGet(t *testing.T, url string) string {
	t.Helper()
	body, err := tryGet(url)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
	}
	return body
}

// tryGet fetches url (an address on this machine or in a test's sandbox).
func tryGet(url string) (string, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

// checkEnvAndVolumes runs a pod that prints its env (valueFrom, envFrom), its
// configMap, secret and downward API volumes and service-account files, and checks
// what it printed; the token authenticates as the pod's service account.
func checkEnvAndVolumes(t *testing.T, s *harness.Server, dataDir, image string) {
	s.Kubectl("create", "configmap", "cfg", "-n", "apps", "--from-literal=k=from-configmap")
	s.Kubectl("create", "secret", "generic", "sec", "-n", "apps", "--from-literal=s=from-secret")
	s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"env","namespace":"apps","labels":{"app":"env"}},"spec":{
		"containers":[{"name":"c","image":"` + image + `","command":["sh","-c","echo \"$FROM_CM $FROM_SECRET $POD_NAME $MEM_MI $CM_k $CPU_M\"; cat /cfg/k /sec/s /info/labels; echo; cat /var/run/secrets/kubernetes.io/serviceaccount/namespace; echo; sleep 3600"],
			"resources":{"limits":{"memory":"200Mi"}},
			"env":[{"name":"FROM_CM","valueFrom":{"configMapKeyRef":{"name":"cfg","key":"k"}}},
				{"name":"FROM_SECRET","valueFrom":{"secretKeyRef":{"name":"sec","key":"s"}}},
				{"name":"POD_NAME","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}},
				{"name":"MEM_MI","valueFrom":{"resourceFieldRef":{"resource":"limits.memory","divisor":"1Mi"}}},
				{"name":"CPU_M","valueFrom":{"resourceFieldRef":{"resource":"limits.cpu","divisor":"1m"}}}],
			"envFrom":[{"prefix":"CM_","configMapRef":{"name":"cfg"}}],
			"volumeMounts":[{"name":"cfg","mountPath":"/cfg"},{"name":"sec","mountPath":"/sec"},{"name":"info","mountPath":"/info"}]}],
		"volumes":[{"name":"cfg","configMap":{"name":"cfg"}},{"name":"sec","secret":{"secretName":"sec"}},
			{"name":"info","downwardAPI":{"items":[{"path":"labels","fieldRef":{"fieldPath":"metadata.labels['app']"}}]}}]}}`)
	harness.Eventually(t, 60*time.Second, "env pod Running", func() bool {
		return jsonpath(s, "{.status.phase}", "get", "pod", "-n", "apps", "env") == "Running"
	})
	node := jsonpath(s, "{.spec.nodeName}", "get", "pod", "-n", "apps", "env")
	sandbox := strings.SplitN(strings.TrimPrefix(node, "fargate-"), ".", 2)[0]
	// No CPU limit: the node's allocatable, the provisioned 0.25 vCPU.
	want := "from-configmap from-secret env 200 from-configmap 250\nfrom-configmapfrom-secretenv\napps\n"
	var got string
	for deadline := time.Now().Add(30 * time.Second); got != want; time.Sleep(100 * time.Millisecond) {
		got = containerOutput(dataDir, sandbox, "c")
		if time.Now().After(deadline) {
			t.Fatalf("env pod printed %q, want %q", got, want)
		}
	}
	uid := jsonpath(s, "{.metadata.uid}", "get", "pod", "-n", "apps", "env")
	tokens, _ := filepath.Glob(filepath.Join(dataDir, "pods", uid, "volumes", "kube-api-access-*", "token"))
	if len(tokens) != 1 {
		t.Fatalf("service-account token files: %v", tokens)
	}
	token, _ := os.ReadFile(tokens[0])
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg.CertData, cfg.KeyData, cfg.CertFile, cfg.KeyFile, cfg.BearerToken = nil, nil, "", "", string(token)
	review, err := kubernetes.NewForConfigOrDie(cfg).AuthenticationV1().SelfSubjectReviews().Create(context.Background(), &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil || review.Status.UserInfo.Username != "system:serviceaccount:apps:default" {
		t.Errorf("the pod's token: %v, %+v; want system:serviceaccount:apps:default", err, review)
	}
	checkLogsAndExec(t, s, "env", "from-configmap from-secret env 200 from-configmap 250")
	s.Kubectl("delete", "pod", "-n", "apps", "env", "--grace-period=1")
}

func jsonpath(s *harness.Server, path string, args ...string) string {
	out, _ := s.TryKubectl(append(args, "-o", "jsonpath="+path)...)
	return out
}

// containerOutput is what the first run of a Fargate container printed: its
// CRI-format log file under the data dir, without each record's time, stream
// and tag.
func containerOutput(dataDir, sandbox, container string) string {
	data, _ := os.ReadFile(filepath.Join(dataDir, "containerd", "logs", sandbox, container+"_0.log"))
	var out strings.Builder
	for _, rec := range strings.SplitAfter(string(data), "\n") {
		f := strings.SplitN(strings.TrimSuffix(rec, "\n"), " ", 4)
		if len(f) < 4 {
			continue
		}
		out.WriteString(f[3])
		if f[2] == "F" {
			out.WriteString("\n")
		}
	}
	return out.String()
}

// The seed's test2-fargate Deployment under real containerd: two pods Running on
// their own nodes in sized cgroups; a memory hog is OOMKilled; a finished pod
// keeps its node and logs, not its compute (checkFinishedPodKept); a server
// restart keeps the containers and recreates nothing; deleting the Deployment
// and the finished pods removes nodes, processes and namespaces.
func TestContainerdPods(t *testing.T) {
	harness.RequireRoot(t)
	img, err := images.Busybox()
	ref := images.Serve(t, "busybox", img, err)
	img, err = images.Nginx(filepath.Join(harness.Root(), "bin", "image-cache", "nginx"))
	nginx := images.Serve(t, "nginx", img, err)
	img, err = images.TestServer(filepath.Join(harness.Root(), "bin", "testserver"))
	testserver := images.Serve(t, "testserver", img, err)
	dataDir, err := os.MkdirTemp("", "fargo-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { harness.CleanupSandboxes(t, dataDir); os.RemoveAll(dataDir) })
	args := append(harness.ServerArgs(t, dataDir), "--runtime", "containerd", "--host-name", "e2e")
	s := harness.StartServerWith(t, args)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(s.Kubectl("get", "pods,nodes,sandboxes", "-A", "-o", "wide"))
			t.Log(s.Kubectl("get", "events", "-n", "apps"))
		}
	})
	s.CreateManifest(`{"apiVersion":"fargo.dev/v1alpha1","kind":"FargateProfile","metadata":{"name":"apps"},"spec":{"selectors":[{"namespace":"apps"}]}}`)
	s.Kubectl("create", "namespace", "apps")
	harness.Eventually(t, 30*time.Second, "service account", func() bool { _, err := s.TryKubectl("get", "sa", "default", "-n", "apps"); return err == nil })
	// The seed's second test app, with the local nginx image.
	s.Kubectl("create", "deployment", "test2-fargate", "-n", "apps", "--image="+nginx, "--replicas=2")
	harness.Eventually(t, 90*time.Second, "2/2 ready", func() bool {
		return jsonpath(s, "{.status.readyReplicas}", "get", "deployment", "-n", "apps", "test2-fargate") == "2"
	})
	t.Logf("kubectl get pods -o wide:\n%s", s.Kubectl("get", "pods", "-n", "apps", "-o", "wide"))
	pids := harness.SandboxProcs()
	if len(pids) != 4 {
		t.Fatalf("processes in sandbox cgroups: %v, want nginx's master and worker in each of two", pids)
	}
	// Each pod answers at its own IP, routed from the host over its veth; the VPC is
	// blackholed under the /32s.
	for _, pod := range strings.Fields(jsonpath(s, "{.items[*].metadata.name}", "get", "pods", "-n", "apps", "-l", "app=test2-fargate")) {
		ip := jsonpath(s, "{.status.podIP}", "get", "pod", "-n", "apps", pod)
		if got := httpGet(t, "http://"+ip+"/"); !strings.Contains(got, "Welcome to nginx!") {
			t.Errorf("GET http://%s/ of pod %s = %q, want nginx's welcome page", ip, pod, got)
		}
		if route, _ := exec.Command("ip", "route", "show", ip+"/32").Output(); !strings.Contains(string(route), "dev veth") {
			t.Errorf("host route to %s: %q, want a /32 over a veth", ip, route)
		}
	}
	if route, _ := exec.Command("ip", "route", "show", "192.168.0.0/16").Output(); !strings.Contains(string(route), "blackhole") {
		t.Errorf("VPC route on the host: %q, want blackhole", route)
	}
	limits, _ := filepath.Glob("/sys/fs/cgroup/memory/fargo/*/*/memory.limit_in_bytes")
	for _, l := range limits {
		if data, _ := os.ReadFile(l); strings.TrimSpace(string(data)) != "536870912" {
			t.Errorf("%s = %s, want 512 MiB (0.25vCPU 0.5GB)", l, data)
		}
	}
	ids := jsonpath(s, "{.items[*].status.containerStatuses[0].containerID}", "get", "pods", "-n", "apps")
	checkEnvAndVolumes(t, s, dataDir, ref)
	checkInPod(t, s, dataDir, testserver, ref)
	checkProbes(t, s, dataDir, testserver, ref)
	checkResize(t, s, ref)

	// A pod that allocates past its size is OOMKilled.
	s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"hog","namespace":"apps"},"spec":{"restartPolicy":"Never","containers":[{"name":"hog","image":"` + ref + `","command":["sh","-c","x=0123456789; while true; do x=$x$x; done"],"resources":{"limits":{"memory":"100Mi"}}}]}}`)
	harness.Eventually(t, 90*time.Second, "hog OOMKilled", func() bool {
		return jsonpath(s, "{.status.containerStatuses[0].state.terminated.reason}", "get", "pod", "-n", "apps", "hog") == "OOMKilled"
	})

	jobDone := startJob(t, s, ref)
	checkFinishedPodKept(t, s, ref)

	// Restart: containers keep running, nothing is recreated.
	s.Stop()
	for _, pid := range pids {
		if _, err := os.Stat("/proc/" + pid); err != nil {
			t.Errorf("process %s died while the server was down", pid)
		}
	}
	s2 := harness.StartServerWith(t, args)
	time.Sleep(3 * time.Second) // a few agent resyncs
	if got := jsonpath(s2, "{.items[*].status.containerStatuses[0].containerID}", "get", "pods", "-n", "apps", "-l", "app=test2-fargate"); got != ids {
		t.Errorf("container IDs after restart %q, before %q", got, ids)
	}
	if got := strings.Join(harness.SandboxProcs(), " "); got != strings.Join(pids, " ") {
		t.Errorf("sandbox processes after restart %q, before %q", got, strings.Join(pids, " "))
	}
	// Output after the restart still reaches the pod's log: the new agent reads
	// the container's fifos again. nginx logs each request on stdout.
	pod := strings.Fields(jsonpath(s2, "{.items[*].metadata.name}", "get", "pods", "-n", "apps", "-l", "app=test2-fargate"))[0]
	httpGet(t, "http://"+jsonpath(s2, "{.status.podIP}", "get", "pod", "-n", "apps", pod)+"/after-the-restart")
	harness.Eventually(t, 10*time.Second, "the request after the restart in kubectl logs", func() bool {
		out, _ := s2.TryKubectl("logs", "-n", "apps", pod, "--timestamps")
		return strings.Contains(out, "GET /after-the-restart")
	})

	if out, err := s2.TryKubectl("logs", "-n", "apps", "done", "-c", "c"); err != nil || !strings.Contains(out, "finished-output") {
		t.Errorf("kubectl logs of the finished pod after a restart: %v %q", err, out)
	}

	checkJobKept(t, s2, dataDir, jobDone)

	start := time.Now()
	s2.Kubectl("delete", "deployment", "-n", "apps", "test2-fargate")
	s2.Kubectl("delete", "pod", "-n", "apps", "hog", "done")
	harness.Eventually(t, 15*time.Second, "Fargate nodes gone", func() bool {
		out, _ := s2.TryKubectl("get", "nodes", "-o", "name")
		return !strings.Contains(out, "fargate-ip-")
	})
	t.Logf("nodes removed %s after the delete", time.Since(start).Round(time.Millisecond))
	harness.Eventually(t, 30*time.Second, "sandboxes torn down", func() bool {
		ns, _ := filepath.Glob("/run/netns/fargo-*")
		return len(harness.SandboxProcs()) == 0 && len(ns) == 0
	})
}

// startJob runs a Job whose one pod prints and succeeds, and returns when it
// has completed.
func startJob(t *testing.T, s *harness.Server, image string) time.Time {
	s.Kubectl("create", "job", "once", "-n", "apps", "--image="+image, "--", "sh", "-c", "echo job-output")
	harness.Eventually(t, time.Minute, "Job once complete", func() bool {
		return jsonpath(s, `{.status.conditions[?(@.type=="Complete")].status}`, "get", "job", "-n", "apps", "once") == "True"
	})
	return time.Now()
}

// checkJobKept: the Job's finished pod outlives the pod GC (kube-controller-
// manager deletes a pod whose node is gone 40 s after it sees it, every 20 s),
// with its status and logs; deleting the Job removes pod, node, sandbox (and
// with it the IP) and logs.
func checkJobKept(t *testing.T, s *harness.Server, dataDir string, done time.Time) {
	if wait := time.Until(done.Add(70 * time.Second)); wait > 0 {
		time.Sleep(wait) // past the pod GC's orphan check
	}
	pod := jsonpath(s, "{.items[0].metadata.name}", "get", "pods", "-n", "apps", "-l", "job-name=once")
	if pod == "" {
		t.Fatal("the Job's finished pod is gone 70 s after it completed (the pod GC took it as an orphan?)")
	}
	node := jsonpath(s, "{.spec.nodeName}", "get", "pod", "-n", "apps", pod)
	sandbox := jsonpath(s, "{.metadata.labels.fargo\\.dev/sandbox}", "get", "node", node)
	if phase := jsonpath(s, "{.status.phase}", "get", "pod", "-n", "apps", pod); phase != "Succeeded" || sandbox == "" {
		t.Errorf("the Job's pod 70 s on: phase %q, node %q (sandbox %q); want Succeeded on its node", phase, node, sandbox)
	}
	if out, err := s.TryKubectl("logs", "-n", "apps", pod); err != nil || !strings.Contains(out, "job-output") {
		t.Errorf("kubectl logs of the Job's pod 70 s on: %v %q", err, out)
	}
	logs := filepath.Join(dataDir, "containerd", "logs", sandbox)
	if _, err := os.Stat(logs); err != nil {
		t.Errorf("the Job pod's logs: %v", err)
	}
	s.Kubectl("delete", "job", "-n", "apps", "once", "--cascade=foreground", "--wait")
	harness.Eventually(t, 30*time.Second, "the Job's pod, node and sandbox gone", func() bool {
		out, _ := s.TryKubectl("get", "pods,nodes,sandboxes", "-A", "-o", "name")
		return !strings.Contains(out, "pod/"+pod) && !strings.Contains(out, node) && !strings.Contains(out, "sandbox.fargo.dev/"+sandbox)
	})
	if _, err := os.Stat(logs); !os.IsNotExist(err) {
		t.Errorf("the deleted Job pod's logs %s: %v, want removed", logs, err)
	}
}

// checkFinishedPodKept runs a pod whose containers print and exit, one with a
// termination message, one failing with FallbackToLogsOnError: once done, its
// sandbox is stopped (no cgroup, no network namespace) while its node stays
// Ready and cordoned and kubectl logs still answers, as on a kubelet.
func checkFinishedPodKept(t *testing.T, s *harness.Server, image string) {
	s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"done","namespace":"apps"},"spec":{"restartPolicy":"Never",
"containers":[{"name":"c","image":"` + image + `","command":["sh","-c","echo finished-output; printf bye > /dev/termination-log"]},
	{"name":"f","image":"` + image + `","command":["sh","-c","echo last words; exit 2"],"terminationMessagePolicy":"FallbackToLogsOnError"}]}}`)
	harness.Eventually(t, time.Minute, "done Failed (container f exits 2)", func() bool {
		return jsonpath(s, "{.status.phase}", "get", "pod", "-n", "apps", "done") == "Failed"
	})
	// Termination messages: the file a run wrote, or the tail of a failed one's log.
	if got := jsonpath(s, `{.status.containerStatuses[?(@.name=="c")].state.terminated.message}|{.status.containerStatuses[?(@.name=="f")].state.terminated.message}`,
		"get", "pod", "-n", "apps", "done"); got != "bye|last words\n" {
		t.Errorf("termination messages %q, want \"bye|last words\\n\"", got)
	}
	node := jsonpath(s, "{.spec.nodeName}", "get", "pod", "-n", "apps", "done")
	sandbox := jsonpath(s, "{.metadata.labels.fargo\\.dev/sandbox}", "get", "node", node)
	harness.Eventually(t, 30*time.Second, "the finished pod's sandbox stopped", func() bool {
		return jsonpath(s, `{.status.conditions[?(@.type=="Stopped")].status}`, "get", "sandbox", sandbox) == "True"
	})
	if out, err := s.TryKubectl("logs", "-n", "apps", "done", "-c", "c"); err != nil || !strings.Contains(out, "finished-output") {
		t.Errorf("kubectl logs of the finished pod: %v %q", err, out)
	}
	if got := jsonpath(s, `{.spec.unschedulable} {.status.conditions[?(@.type=="Ready")].status}`, "get", "node", node); got != "true True" {
		t.Errorf("node of the finished pod: unschedulable and Ready %q, want \"true True\"", got)
	}
	if cg, _ := filepath.Glob("/sys/fs/cgroup/memory/fargo/*/" + sandbox); len(cg) > 0 {
		t.Errorf("the finished pod's cgroup is still there: %v", cg)
	}
	if ns, _ := filepath.Glob("/run/netns/fargo-*_" + sandbox); len(ns) > 0 {
		t.Errorf("the finished pod's network namespace is still there: %v", ns)
	}
}
