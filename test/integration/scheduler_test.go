//go:build integration

package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
	"github.com/fargo-dev/fargo/test/harness"
)

func eventMessages(t *testing.T, s *harness.Server, ns, pod, reason string) string {
	t.Helper()
	sel := "involvedObject.name=" + pod
	if reason != "" { // "" is any reason
		sel += ",reason=" + reason
	}
	out, _ := s.TryKubectl("get", "events", "-n", ns, "--field-selector", sel, "-o", "jsonpath={range .items[*]}{.source.component}|{.reportingComponent}: {.message}{\"\\n\"}{end}")
	return out
}

// dumpOnFailure logs the cluster's scheduling state if the test fails.
func dumpOnFailure(t *testing.T, s *harness.Server) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		out, _ := s.TryKubectl("get", "fargateprofiles,hosts,sandboxes,nodes", "-o", "wide")
		t.Logf("at the failure:\n%s", out)
		out, _ = s.TryKubectl("get", "pods", "-A", "-o", "custom-columns=NS:.metadata.namespace,NAME:.metadata.name,SCHEDULER:.spec.schedulerName,NODE:.spec.nodeName,NOMINATED:.status.nominatedNodeName,PHASE:.status.phase")
		t.Logf("pods:\n%s", harness.Tail(out, 60))
		out, _ = s.TryKubectl("get", "events", "-A", "--sort-by=.lastTimestamp")
		t.Logf("events:\n%s", harness.Tail(out, 60))
	})
}

func TestFargateSchedulerPlacesPods(t *testing.T) {
	s := harness.StartServer(t)
	dumpOnFailure(t, s)
	s.RunTestHost()
	createJSON(t, s, profileJSON("apps", `{"selectors":[{"namespace":"apps"}]}`))
	waitProfile(t, s, "apps", "ACTIVE")
	for _, ns := range []string{"apps", "other", "later"} {
		s.Kubectl("create", "namespace", ns)
		waitFor(t, "service account in "+ns, func() bool { _, err := s.TryKubectl("get", "sa", "default", "-n", ns); return err == nil })
	}
	get := func(ns, name, path string) string {
		out, _ := s.TryKubectl("get", "pod", "-n", ns, name, "-o", "jsonpath="+path)
		return out
	}

	// The seed's example: 1 vCPU / 1750M becomes 1vCPU 2GB, on its own node.
	s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"apps"},"spec":{"containers":[{"name":"c","image":"x","resources":{"requests":{"cpu":"1","memory":"1750M"},"limits":{"cpu":"1","memory":"1750M"}}}]}}`)
	harness.Eventually(t, 30*time.Second, "web bound", func() bool { return get("apps", "web", "{.spec.nodeName}") != "" })
	node := get("apps", "web", "{.spec.nodeName}")
	if !strings.HasPrefix(node, "fargate-ip-192-168-") || !strings.HasSuffix(node, ".local-1.compute.internal") {
		t.Errorf("node = %s", node)
	}
	if got := get("apps", "web", "{.metadata.annotations.CapacityProvisioned}"); got != "1vCPU 2GB" {
		t.Errorf("CapacityProvisioned = %q", got)
	}
	if desc := s.Kubectl("describe", "pod", "-n", "apps", "web"); !strings.Contains(desc, "CapacityProvisioned: 1vCPU 2GB") {
		t.Errorf("kubectl describe pod does not show the annotation:\n%s", desc)
	}
	if ev := eventMessages(t, s, "apps", "web", "Scheduled"); !strings.Contains(ev, "fargate-scheduler") || !strings.Contains(ev, "Successfully assigned apps/web to "+node) {
		t.Errorf("Scheduled event: %q", ev)
	}
	// nominatedNodeName names the sandbox until binding (Kubernetes clears it then).
	sbName := strings.TrimSpace(s.Kubectl("get", "sandbox", "-l", "fargo.dev/pod-uid="+get("apps", "web", "{.metadata.uid}"), "-o", "jsonpath={.items[0].metadata.name}"))
	if ip := s.Kubectl("get", "sandbox", sbName, "-o", "jsonpath={.spec.ip}"); !strings.Contains(node, strings.ReplaceAll(ip, ".", "-")) || ip == "" {
		t.Errorf("sandbox %s has IP %q, node %s", sbName, ip, node)
	}

	// Not in a profile: default-scheduler, untouched.
	s.Kubectl("run", "plain", "-n", "other", "--image=x")
	if got := get("other", "plain", "{.spec.schedulerName}"); got != "default-scheduler" {
		t.Errorf("plain pod scheduler = %q", got)
	}
	// Unsupported: the exact message, from fargate-scheduler.
	s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"hostnet","namespace":"apps"},"spec":{"hostNetwork":true,"containers":[{"name":"c","image":"x"}]}}`)
	harness.Eventually(t, 30*time.Second, "FailedScheduling for hostnet", func() bool {
		return strings.Contains(eventMessages(t, s, "apps", "hostnet", "FailedScheduling"), "fargate-scheduler|fargate-scheduler: Pod not supported on Fargate: fields not supported: HostNetwork") ||
			strings.Contains(eventMessages(t, s, "apps", "hostnet", "FailedScheduling"), "fargate-scheduler|: Pod not supported on Fargate: fields not supported: HostNetwork")
	})
	// Too large: PodScheduled=False with EKS's reason.
	s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"huge","namespace":"apps"},"spec":{"containers":[{"name":"c","image":"x","resources":{"requests":{"cpu":"16","memory":"120Gi"}}}]}}`)
	harness.Eventually(t, 30*time.Second, "huge marked too large", func() bool {
		return get("apps", "huge", `{.status.conditions[?(@.type=="PodScheduled")].reason}`) == "POD_CPU_MEM_EXCEEDS_MAX_FARGATE_SIZE"
	})
	// schedulerName set by hand without a profile: Pending with a reason; scheduled
	// once a profile for it becomes ACTIVE.
	s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"early","namespace":"later"},"spec":{"schedulerName":"fargate-scheduler","containers":[{"name":"c","image":"x"}]}}`)
	harness.Eventually(t, 30*time.Second, "not-matched event", func() bool {
		return strings.Contains(eventMessages(t, s, "later", "early", "FailedScheduling"), "not matched by any ACTIVE Fargate profile")
	})
	createJSON(t, s, profileJSON("later", `{"selectors":[{"namespace":"later"}]}`))
	harness.Eventually(t, 30*time.Second, "early bound after its profile became ACTIVE", func() bool { return get("later", "early", "{.spec.nodeName}") != "" })

	// A profile asking for micro-VMs: this host runs containers only, said per host.
	createJSON(t, s, profileJSON("vms", `{"selectors":[{"namespace":"other","labels":{"tier":"vm"}}],"tags":{"fargo.dev/isolation":"microvm"}}`))
	waitProfile(t, s, "vms", "ACTIVE")
	s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"vm","namespace":"other","labels":{"tier":"vm"}},"spec":{"containers":[{"name":"c","image":"x"}]}}`)
	harness.Eventually(t, 30*time.Second, "no host for a microvm pod", func() bool {
		return strings.Contains(eventMessages(t, s, "other", "vm", "FailedScheduling"), "test-host: runs no microvm sandboxes (container only)")
	})
	if got := get("later", "early", `{.spec.nodeName}`); got != "" {
		if l, _ := s.TryKubectl("get", "node", got, "-o", `jsonpath={.metadata.labels.fargo\.dev/isolation}`); l != "container" {
			t.Errorf("node %s of a container pod: fargo.dev/isolation=%q", got, l)
		}
	}

	// Deleting the pod releases its sandbox, and the host removes the node.
	s.Kubectl("delete", "pod", "-n", "apps", "web", "--grace-period=0", "--force")
	harness.Eventually(t, 30*time.Second, "sandbox released", func() bool {
		_, err := s.TryKubectl("get", "sandbox", sbName)
		return err != nil
	})
	harness.Eventually(t, 30*time.Second, "node removed", func() bool { _, err := s.TryKubectl("get", "node", node); return err != nil })
}

// Many pods at once get distinct IPs and sandboxes, each bound to its own node.
func TestFargateSchedulerManyPods(t *testing.T) {
	const n = 200
	s := harness.StartServer(t)
	dumpOnFailure(t, s)
	s.RunTestHost()
	createJSON(t, s, profileJSON("bulk", `{"selectors":[{"namespace":"bulk"}]}`))
	waitProfile(t, s, "bulk", "ACTIVE")
	s.Kubectl("create", "namespace", "bulk")
	waitFor(t, "service account", func() bool { _, err := s.TryKubectl("get", "sa", "default", "-n", "bulk"); return err == nil })
	c := s.CRClient()
	ctx := context.Background()
	start := time.Now()
	for i := 0; i < n; i++ {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%03d", i), Namespace: "bulk"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")}}}}}}
		if err := c.Create(ctx, pod); err != nil {
			t.Fatal(err)
		}
	}
	unbound := func() []corev1.Pod {
		pods := &corev1.PodList{}
		if err := c.List(ctx, pods, client.InNamespace("bulk")); err != nil {
			return nil
		}
		var out []corev1.Pod
		for _, p := range pods.Items {
			if p.Spec.NodeName == "" {
				out = append(out, p)
			}
		}
		if len(pods.Items) != n {
			return append(out, corev1.Pod{}) // not all listed yet
		}
		return out
	}
	deadline := time.Now().Add(3 * time.Minute)
	for left := unbound(); len(left) > 0; left = unbound() {
		if time.Now().After(deadline) {
			for _, p := range left[:min(len(left), 10)] {
				t.Logf("unbound %s: nominated %q, events: %s", p.Name, p.Status.NominatedNodeName, eventMessages(t, s, "bulk", p.Name, ""))
			}
			t.Fatalf("%d of %d pods still unbound after 3m", len(left), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d pods created and bound in %s", n, time.Since(start))
	sbs := &v1alpha1.SandboxList{}
	if err := c.List(ctx, sbs); err != nil {
		t.Fatal(err)
	}
	ips, nodes := map[string]bool{}, map[string]bool{}
	for _, sb := range sbs.Items {
		ips[sb.Spec.IP], nodes[sb.Spec.NodeName] = true, true
	}
	if len(sbs.Items) != n || len(ips) != n || len(nodes) != n {
		t.Errorf("%d sandboxes, %d distinct IPs, %d distinct nodes; want %d each", len(sbs.Items), len(ips), len(nodes), n)
	}
}

// Addresses stay unique across a restart: the claims live in the API (Sandbox names),
// not in the scheduler's memory.
func TestFargateSchedulerIPsUniqueAcrossRestart(t *testing.T) {
	args := harness.ServerArgs(t, t.TempDir())
	s := harness.StartServerWith(t, args)
	s.RunTestHost()
	createJSON(t, s, profileJSON("r", `{"selectors":[{"namespace":"r"}]}`))
	waitProfile(t, s, "r", "ACTIVE")
	s.Kubectl("create", "namespace", "r")
	waitFor(t, "service account", func() bool { _, err := s.TryKubectl("get", "sa", "default", "-n", "r"); return err == nil })
	for i := 0; i < 5; i++ {
		s.Kubectl("run", fmt.Sprintf("before%d", i), "-n", "r", "--image=x")
	}
	countSandboxes := func(srv *harness.Server) int {
		out, _ := srv.TryKubectl("get", "sandboxes", "-o", "name")
		return strings.Count(out, "sandbox.fargo.dev/")
	}
	harness.Eventually(t, 30*time.Second, "5 sandboxes", func() bool { return countSandboxes(s) == 5 })
	s.Stop()
	s2 := harness.StartServerWith(t, args)
	s2.RunTestHost()
	for i := 0; i < 5; i++ {
		s2.Kubectl("run", fmt.Sprintf("after%d", i), "-n", "r", "--image=x")
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(s2.Kubectl("get", "pods,sandboxes", "-A", "-o", "wide"))
			t.Log(s2.Kubectl("get", "events", "-n", "r"))
		}
	})
	harness.Eventually(t, 30*time.Second, "10 sandboxes", func() bool { return countSandboxes(s2) == 10 })
	ips := strings.Fields(s2.Kubectl("get", "sandboxes", "-o", "jsonpath={.items[*].spec.ip}"))
	seen := map[string]bool{}
	for _, ip := range ips {
		if seen[ip] {
			t.Errorf("IP %s handed out twice: %v", ip, ips)
		}
		seen[ip] = true
	}
}
