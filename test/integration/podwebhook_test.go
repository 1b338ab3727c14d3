//go:build integration

package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/fargo-dev/fargo/test/harness"
)

// The pod webhook hands matching pods to the fargate-scheduler with the profile
// label and nothing else; others are untouched; opt-out and pinning work; pods
// that cannot run on Fargate are admitted with a warning.
func TestPodWebhook(t *testing.T) {
	s := harness.StartServer(t)
	createJSON(t, s, profileJSON("apps", `{"selectors":[{"namespace":"apps"}]}`))
	createJSON(t, s, profileJSON("apps-web", `{"selectors":[{"namespace":"apps","labels":{"tier":"web"}}]}`))
	createJSON(t, s, profileJSON("mixed", `{"selectors":[{"namespace":"test3-mixed","labels":{"runon":"fargate"}}]}`))
	for _, n := range []string{"apps", "apps-web", "mixed"} {
		waitProfile(t, s, n, "ACTIVE")
	}
	for _, ns := range []string{"apps", "test3-mixed", "other"} {
		s.Kubectl("create", "namespace", ns)
		waitFor(t, "service account in "+ns, func() bool { _, err := s.TryKubectl("get", "sa", "default", "-n", ns); return err == nil })
	}
	get := func(ns, name, path string) string {
		return s.Kubectl("get", "pod", "-n", ns, name, "-o", "jsonpath="+path)
	}

	s.Kubectl("run", "a1", "-n", "apps", "--image=x")
	if get("apps", "a1", "{.spec.schedulerName}") != "fargate-scheduler" || get("apps", "a1", `{.metadata.labels.eks\.amazonaws\.com/fargate-profile}`) != "apps" {
		t.Errorf("a1: %s", s.Kubectl("get", "pod", "-n", "apps", "a1", "-o", "yaml"))
	}
	// Both profiles match; the name that sorts first wins ("apps" < "apps-web").
	s.Kubectl("run", "w1", "-n", "apps", "--image=x", "--labels=tier=web")
	if got := get("apps", "w1", `{.metadata.labels.eks\.amazonaws\.com/fargate-profile}`); got != "apps" {
		t.Errorf("precedence: profile %q, want apps", got)
	}
	// Pinning.
	s.Kubectl("run", "w2", "-n", "apps", "--image=x", "--labels=tier=web,eks.amazonaws.com/fargate-profile=apps-web")
	if got := get("apps", "w2", `{.metadata.labels.eks\.amazonaws\.com/fargate-profile}`); got != "apps-web" {
		t.Errorf("pinned: profile %q", got)
	}
	// Opt-out.
	s.Kubectl("run", "e1", "-n", "apps", "--image=x", "--annotations=eks.amazonaws.com/compute-type=ec2")
	if got := get("apps", "e1", "{.spec.schedulerName}"); got != "default-scheduler" {
		t.Errorf("opt-out: scheduler %q", got)
	}
	// Labels must all match; other namespaces are untouched.
	s.Kubectl("run", "m1", "-n", "test3-mixed", "--image=x")
	s.Kubectl("run", "m2", "-n", "test3-mixed", "--image=x", "--labels=runon=fargate")
	s.Kubectl("run", "o1", "-n", "other", "--image=x")
	if get("test3-mixed", "m1", "{.spec.schedulerName}") != "default-scheduler" || get("test3-mixed", "m2", "{.spec.schedulerName}") != "fargate-scheduler" ||
		get("other", "o1", "{.spec.schedulerName}") != "default-scheduler" || get("other", "o1", "{.metadata.labels}") != `{"run":"o1"}` {
		t.Errorf("mixed namespace: %s", s.Kubectl("get", "pods", "-A", "-o", "wide", "--show-labels"))
	}
	// Nothing else is changed: the same pod created outside a profile differs only
	// in the scheduler name and the label.
	if got := get("test3-mixed", "m2", "{.metadata.labels}"); got != `{"eks.amazonaws.com/fargate-profile":"mixed","runon":"fargate"}` {
		t.Errorf("labels of m2 = %s", got)
	}
	if pc := get("test3-mixed", "m2", "{.spec.priorityClassName}"); pc != "" {
		t.Errorf("the webhook set priorityClassName %q nobody asked for", pc)
	}
	// Unsupported pods are admitted with a warning kubectl prints.
	out := s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"priv","namespace":"apps"},"spec":{"hostNetwork":true,"containers":[{"name":"c","image":"x","securityContext":{"privileged":true}}]}}`)
	if !strings.Contains(out, "Warning: Fargate profile apps matches this pod, but it will stay Pending: Pod not supported on Fargate: fields not supported: HostNetwork, invalid SecurityContext fields: Privileged") {
		t.Errorf("no warning for an unsupported pod:\n%s", out)
	}
	out = s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"huge","namespace":"apps"},"spec":{"containers":[{"name":"c","image":"x","resources":{"requests":{"cpu":"16","memory":"120Gi"}}}]}}`)
	if !strings.Contains(out, "POD_CPU_MEM_EXCEEDS_MAX_FARGATE_SIZE") {
		t.Errorf("no warning for an oversized pod:\n%s", out)
	}
}

// Pods admitted while the pod webhook was not there (it fails open, as on EKS) are
// re-evaluated once it is back: a Deployment's pod is deleted and comes back on
// Fargate; a bare pod is told to be re-created.
func TestPodsMissedByTheWebhookReadmitted(t *testing.T) {
	args := harness.ServerArgs(t, t.TempDir())
	s := harness.StartServerWith(t, args)
	createJSON(t, s, profileJSON("apps", `{"selectors":[{"namespace":"apps"}]}`))
	waitProfile(t, s, "apps", "ACTIVE")
	s.Kubectl("create", "namespace", "apps")
	waitFor(t, "service account in apps", func() bool { _, err := s.TryKubectl("get", "sa", "default", "-n", "apps"); return err == nil })

	s.Kubectl("delete", "mutatingwebhookconfiguration", "fargo")
	s.Kubectl("create", "deployment", "web", "-n", "apps", "--image=x")
	s.Kubectl("run", "bare", "-n", "apps", "--image=x")
	missed := ""
	waitFor(t, "the deployment's pod, not sent to Fargate", func() bool {
		missed = s.Kubectl("get", "pods", "-n", "apps", "-l", "app=web", "-o", "jsonpath={.items[*].spec.schedulerName}")
		return missed != ""
	})
	if missed != "default-scheduler" {
		t.Fatalf("with no webhook the pod went to %q", missed)
	}
	time.Sleep(2 * time.Second)
	if got := s.Kubectl("get", "pods", "-n", "apps", "-l", "app=web", "-o", "name"); len(strings.Fields(got)) != 1 {
		t.Errorf("pods re-created while the webhook was away: %s", got)
	}

	s.Stop() // the next start registers the webhook again
	s = harness.StartServerWith(t, args)
	waitFor(t, "the deployment's pod re-created for the fargate-scheduler", func() bool {
		return s.Kubectl("get", "pods", "-n", "apps", "-l", "app=web", "-o", "jsonpath={.items[*].spec.schedulerName}") == "fargate-scheduler"
	})
	waitFor(t, "a warning on the bare pod", func() bool {
		out := s.Kubectl("get", "events", "-n", "apps", "--field-selector", "involvedObject.name=bare", "-o", "jsonpath={.items[*].reason}")
		return strings.Contains(out, "FargateProfileNotApplied")
	})
	if got := s.Kubectl("get", "pod", "-n", "apps", "bare", "-o", "jsonpath={.spec.schedulerName}"); got != "default-scheduler" {
		t.Errorf("the bare pod: %q", got)
	}
}
