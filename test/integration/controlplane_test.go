//go:build integration

// Integration tests start the built bin/fargo as a process (see test/harness) and
// drive it with kubectl and client-go.
package integration

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/fargo-dev/fargo/test/harness"
)

func TestServerServesKubectlWithin15s(t *testing.T) {
	s := harness.Launch(t, harness.ServerArgs(t, t.TempDir()))
	deadline := s.Started.Add(15 * time.Second)
	var out string
	for {
		var err error
		if out, err = s.TryKubectl("get", "ns", "-o", "name"); err == nil && strings.Count(out, "namespace/") >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kubectl get ns did not list the namespaces within 15s of start: %v\n%s\nserver output:\n%s", err, out, s.Output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, ns := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		if !strings.Contains(out, "namespace/"+ns+"\n") {
			t.Errorf("namespace %s missing from:\n%s", ns, out)
		}
	}
	if err := s.WaitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"etcd", "kube-apiserver", "CRDs", "kube-controller-manager", "kube-scheduler"} {
		if !strings.Contains(s.Output(), "] "+c+" ") {
			t.Errorf("no progress line for %s in:\n%s", c, s.Output())
		}
	}
	if !strings.Contains(s.Output(), "kubeconfig: "+s.Kubeconfig()) {
		t.Errorf("kubeconfig path not printed:\n%s", s.Output())
	}
}

func TestDeploymentGetsPodsThatStayPendingWithoutNodes(t *testing.T) {
	s := harness.StartServer(t)
	s.Kubectl("create", "deployment", "x", "--image=y", "--replicas=2")
	c := s.Client()
	ctx := context.Background()

	pods := waitForPods(t, c, "app=x", 2)
	for _, p := range pods {
		if p.Status.Phase != corev1.PodPending || p.Spec.NodeName != "" {
			t.Errorf("pod %s: phase %s on %q, want Pending and unbound", p.Name, p.Status.Phase, p.Spec.NodeName)
		}
	}
	rs, err := c.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{LabelSelector: "app=x"})
	if err != nil || len(rs.Items) != 1 {
		t.Fatalf("want one ReplicaSet for the deployment, got %v (err %v)", rs, err)
	}
	// kube-scheduler works: it says why each pod cannot be placed.
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		ev, err := c.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "reason=FailedScheduling"})
		if err != nil {
			return false, nil
		}
		seen := map[string]bool{}
		for _, e := range ev.Items {
			if e.ReportingController == "default-scheduler" || e.Source.Component == "default-scheduler" {
				seen[e.InvolvedObject.Name] = true
			}
		}
		return seen[pods[0].Name] && seen[pods[1].Name], nil
	})
	if err != nil {
		t.Fatalf("no FailedScheduling event from default-scheduler for both pods: %v\n%s", err, s.Kubectl("get", "events"))
	}
}

func TestRestartKeepsObjectsAndPKI(t *testing.T) {
	args := harness.ServerArgs(t, t.TempDir())
	s := harness.StartServerWith(t, args)
	s.Kubectl("create", "deployment", "keep", "--image=y")
	ca := readFile(t, filepath.Join(s.DataDir, "pki", "ca.crt"))

	start := time.Now()
	if err := s.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitExit(10 * time.Second); err != nil {
		t.Fatalf("server did not exit cleanly within 10s of SIGTERM: %v\n%s", err, s.Output())
	}
	t.Logf("stopped in %s", time.Since(start))
	if !strings.Contains(s.Output(), "stopped") {
		t.Errorf("no stop message in output:\n%s", s.Output())
	}
	assertNoProcessUses(t, s.DataDir)

	s2 := harness.StartServerWith(t, args)
	if out := s2.Kubectl("get", "deployment", "keep", "-o", "name"); strings.TrimSpace(out) != "deployment.apps/keep" {
		t.Errorf("deployment lost across restart: %q", out)
	}
	if string(readFile(t, filepath.Join(s.DataDir, "pki", "ca.crt"))) != string(ca) {
		t.Error("the cluster CA was regenerated on restart; it must be reused")
	}
}

func TestSIGINTStopsCleanly(t *testing.T) {
	s := harness.StartServer(t)
	if err := s.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitExit(10 * time.Second); err != nil {
		t.Fatalf("server did not exit 0 within 10s of SIGINT: %v\n%s", err, s.Output())
	}
	assertNoProcessUses(t, s.DataDir)
}

func TestTwoServersSideBySide(t *testing.T) {
	a := harness.StartServer(t)
	b := harness.StartServer(t)
	a.Kubectl("create", "namespace", "only-in-a")
	if out, err := b.TryKubectl("get", "namespace", "only-in-a"); err == nil || !strings.Contains(out, "NotFound") {
		t.Errorf("server b sees a's namespace (err %v): %s", err, out)
	}
	b.Kubectl("create", "namespace", "only-in-b")
	a.Kubectl("get", "namespace", "only-in-a")
}

func TestPortInUseNamesTheFlag(t *testing.T) {
	blocker := harness.StartServer(t)
	args := harness.ServerArgs(t, t.TempDir())
	for i := range args {
		if args[i] == "--api-port" {
			args[i+1] = strconv.Itoa(blocker.APIPort)
		}
	}
	s := harness.Launch(t, args)
	err := s.WaitExit(30 * time.Second)
	if err == nil {
		t.Fatalf("second server on the same --api-port exited 0:\n%s", s.Output())
	}
	if !strings.Contains(s.Output(), "already in use") || !strings.Contains(s.Output(), "--api-port") {
		t.Errorf("error does not name the flag:\n%s", s.Output())
	}
}

func TestWriteKubeconfigAndAuth(t *testing.T) {
	extra := filepath.Join(t.TempDir(), "sub", "admin.yaml")
	s := harness.StartServer(t, "--write-kubeconfig", extra)
	if string(readFile(t, extra)) != string(readFile(t, s.Kubeconfig())) {
		t.Error("--write-kubeconfig copy differs from DATA/kubeconfig.yaml")
	}
	admin := s.Client()
	ctx := context.Background()
	// A bogus bearer token is refused by authentication.
	if _, err := clientWithToken(t, s, "bogus").CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); !apierrors.IsUnauthorized(err) {
		t.Errorf("a bogus token: got %v, want Unauthorized", err)
	}
	// Service-account tokens authenticate; RBAC decides.
	s.Kubectl("create", "serviceaccount", "reader")
	token := strings.TrimSpace(s.Kubectl("create", "token", "reader"))
	sa := clientWithToken(t, s, token)
	if _, err := sa.CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("service account before any binding: got %v, want Forbidden", err)
	}
	s.Kubectl("create", "rolebinding", "reader", "--clusterrole=view", "--serviceaccount=default:reader")
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := sa.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Error("service account cannot list pods after the view binding")
	}
	// The Node authorizer is on: a node may read a pod's secret only once a pod on it uses it.
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: "system:node:n1", Groups: []string{"system:nodes", "system:authenticated"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get", Resource: "secrets", Namespace: "default", Name: "s1"},
	}}
	res, err := admin.AuthorizationV1().SubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status.Allowed || !strings.Contains(res.Status.Reason, "node") {
		t.Errorf("node access to an unrelated secret: allowed=%v reason=%q, want denied by the Node authorizer", res.Status.Allowed, res.Status.Reason)
	}
}

func clientWithToken(t *testing.T, s *harness.Server, token string) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	anon := rest.AnonymousClientConfig(cfg)
	anon.BearerToken = token
	c, err := kubernetes.NewForConfig(anon)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func waitForPods(t *testing.T, c kubernetes.Interface, selector string, n int) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		l, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, nil
		}
		pods = l.Items
		return len(pods) == n, nil
	})
	if err != nil {
		t.Fatalf("want %d pods with %s, have %d: %v", n, selector, len(pods), err)
	}
	return pods
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// assertNoProcessUses fails when any process still has dir on its command line.
func assertNoProcessUses(t *testing.T, dir string) {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), dir) {
			t.Errorf("process %s still running after stop: %q", filepath.Dir(p), strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
}
