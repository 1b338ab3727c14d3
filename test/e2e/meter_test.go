//go:build e2e

package e2e

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fargo-dev/fargo/internal/meter"
	"github.com/fargo-dev/fargo/test/harness"
	"github.com/fargo-dev/fargo/test/images"
)

// Metering under real containerd: two pods of different sizes run a known
// time and are billed it at their size; a Job's meter stops when it completes
// though its pod stays; the Prometheus counters on the apiserver's /metrics
// agree with `fargo usage`; --rightsize names the oversized pod.
func TestMetering(t *testing.T) {
	harness.RequireRoot(t)
	img, err := images.Busybox()
	ref := images.Serve(t, "busybox", img, err)
	dataDir, err := os.MkdirTemp("", "fargo-e2e-meter-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { harness.CleanupSandboxes(t, dataDir); os.RemoveAll(dataDir) })
	s := harness.StartServerWith(t, append(harness.ServerArgs(t, dataDir), "--runtime", "containerd", "--host-name", "meter", "--meter-interval", "2s"))
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(s.Kubectl("get", "pods,usagerecords,sandboxes", "-A", "-o", "wide"))
		}
	})
	s.CreateManifest(`{"apiVersion":"fargo.dev/v1alpha1","kind":"FargateProfile","metadata":{"name":"meter"},"spec":{"selectors":[{"namespace":"meter"}]}}`)
	s.Kubectl("create", "namespace", "meter")
	harness.Eventually(t, 30*time.Second, "service account", func() bool { _, err := s.TryKubectl("get", "sa", "default", "-n", "meter"); return err == nil })
	pod := func(name, cpu, mem string) string {
		return `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"` + name + `","namespace":"meter"},"spec":{"terminationGracePeriodSeconds":0,
			"containers":[{"name":"c","image":"` + ref + `","command":["sleep","3600"],"resources":{"requests":{"cpu":"` + cpu + `","memory":"` + mem + `"}}}]}}`
	}
	s.CreateManifest(pod("small", "100m", "64Mi"))
	s.CreateManifest(pod("large", "1", "1Gi"))
	s.CreateManifest(`{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"once","namespace":"meter"},"spec":{"template":{"spec":{"restartPolicy":"Never",
		"containers":[{"name":"c","image":"` + ref + `","command":["sleep","2"]}]}}}}`)
	for _, name := range []string{"small", "large"} {
		harness.Eventually(t, 60*time.Second, name+" running", func() bool {
			return jsonpath(s, "{.status.phase}", "get", "pod", "-n", "meter", name) == "Running"
		})
	}
	if got := jsonpath(s, "{.metadata.annotations.CapacityProvisioned}", "get", "pod", "-n", "meter", "large"); got != "1vCPU 2GB" {
		t.Fatalf("large is provisioned %q; want 1vCPU 2GB", got)
	}
	harness.Eventually(t, 10*time.Second, "the running pods in fargo_fargate_pods", func() bool {
		return metric(t, s, `fargo_fargate_pods{size="1vCPU 2GB"}`) == 1
	})
	all := s.Kubectl("get", "--raw", "/metrics")
	for _, name := range []string{"fargo_scheduler_scheduling_duration_seconds_count", "fargo_scheduler_pending_pods",
		`fargo_sandbox_start_step_duration_seconds_count{step="ready"}`, `controller_runtime_reconcile_total{controller="meter"`} {
		if !strings.Contains(all, name) {
			t.Errorf("/metrics has no %s", name)
		}
	}
	// The agent's own metrics, on its kubelet API, through the node proxy.
	node := jsonpath(s, "{.spec.nodeName}", "get", "pod", "-n", "meter", "large")
	if out := s.Kubectl("get", "--raw", "/api/v1/nodes/"+node+"/proxy/metrics"); !strings.Contains(out, "fargo_sandbox_start_step_duration_seconds") {
		t.Errorf("the agent's /metrics (node %s) has no sandbox step histogram", node)
	}

	// The Job: its meter stops at completion; its pod stays.
	jobPod := jsonpath(s, "{.items[0].metadata.name}", "get", "pods", "-n", "meter", "-l", "job-name=once")
	jobUID := jsonpath(s, "{.metadata.uid}", "get", "pod", "-n", "meter", jobPod)
	harness.Eventually(t, 60*time.Second, "the Job's record final", func() bool {
		return jsonpath(s, "{.status.final}", "get", "usagerecord", jobUID) == "true"
	})
	if got := jsonpath(s, "{.status.stopReason} {.status.billedSeconds}", "get", "usagerecord", jobUID); got != "ContainersTerminated 60" {
		t.Errorf("Job's record: %q; want stopped as its containers terminated, billed the 60 s minimum", got)
	}
	if got := jsonpath(s, "{.status.phase}", "get", "pod", "-n", "meter", jobPod); got != "Succeeded" {
		t.Errorf("the Job's pod is %q; want it kept, Succeeded", got)
	}
	time.Sleep(4 * time.Second) // past another meter interval: the record does not move
	if got := jsonpath(s, "{.status.billedSeconds}", "get", "usagerecord", jobUID); got != "60" {
		t.Errorf("the finished Job's record moved on to %s s", got)
	}

	// The two pods run 64 s, then are deleted.
	created := map[string]time.Time{}
	for _, name := range []string{"small", "large"} {
		created[name], _ = time.Parse(time.RFC3339, jsonpath(s, "{.metadata.creationTimestamp}", "get", "pod", "-n", "meter", name))
	}
	time.Sleep(time.Until(created["small"].Add(64 * time.Second)))
	s.Kubectl("delete", "pod", "-n", "meter", "small", "large", "--wait=false")
	deleted := time.Now()
	for _, name := range []string{"small", "large"} {
		uid := ""
		harness.Eventually(t, 30*time.Second, name+"'s record final", func() bool {
			out := s.Kubectl("get", "usagerecords", "-o", `jsonpath={range .items[?(@.spec.pod.name=="`+name+`")]}{.metadata.name} {.status.final}{"\n"}{end}`)
			f := strings.Fields(out)
			if len(f) == 2 && f[1] == "true" {
				uid = f[0]
			}
			return uid != ""
		})
	}

	var rep meter.Report
	if err := json.Unmarshal([]byte(fargo(t, s, "usage", "--by", "pod", "-o", "json")), &rep); err != nil {
		t.Fatal(err)
	}
	hourly := map[string]float64{"meter/small": 0.012343, "meter/large": 0.04937}
	for _, l := range rep.Lines {
		rate, ok := hourly[l.Key]
		if !ok {
			continue
		}
		name := strings.TrimPrefix(l.Key, "meter/")
		truth := deleted.Sub(created[name]).Seconds()
		if math.Abs(l.Seconds-truth) > 2 {
			t.Errorf("%s billed %g s; it ran %.1f s", l.Key, l.Seconds, truth)
		}
		if want := rate * l.Seconds / 3600; math.Abs(l.Cost-want) > 0.000002 {
			t.Errorf("%s costs %g; %g s at %g/h is %g", l.Key, l.Cost, l.Seconds, rate, want)
		}
		delete(hourly, l.Key)
	}
	if len(hourly) > 0 {
		t.Errorf("fargo usage --by pod has no line for %v:\n%+v", hourly, rep.Lines)
	}
	if err := json.Unmarshal([]byte(fargo(t, s, "usage", "--by", "namespace", "-o", "json")), &rep); err != nil {
		t.Fatal(err)
	}
	for _, l := range rep.Lines {
		if l.Key != "meter" {
			continue
		}
		if got := metric(t, s, `fargo_fargate_vcpu_seconds_total{namespace="meter",profile="meter"}`); math.Abs(got-l.VCPUHours*3600) > 0.01 {
			t.Errorf("Prometheus has %g vCPU-seconds for namespace meter; fargo usage %g", got, l.VCPUHours*3600)
		}
		if got := metric(t, s, `fargo_fargate_cost_total{currency="USD",namespace="meter",profile="meter"}`); math.Abs(got-l.Cost) > 0.00001 {
			t.Errorf("Prometheus has cost %g for namespace meter; fargo usage %g", got, l.Cost)
		}
	}
	if out := fargo(t, s, "usage", "--rightsize"); !regexp.MustCompile(`meter\s+large\s+1vCPU 2GB\s.*0\.25vCPU 0\.5GB`).MatchString(out) {
		t.Errorf("fargo usage --rightsize does not offer large 0.25vCPU 0.5GB:\n%s", out)
	}
}

// fargo runs the fargo CLI against s and returns its output.
func fargo(t *testing.T, s *harness.Server, args ...string) string {
	t.Helper()
	out, err := exec.Command(harness.Bin(t, "fargo"), append(args, "--kubeconfig", s.Kubeconfig())...).CombinedOutput()
	if err != nil {
		t.Fatalf("fargo %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// metric is a sample's value on the apiserver's /metrics (0 when absent).
func metric(t *testing.T, s *harness.Server, sample string) float64 {
	t.Helper()
	for _, line := range strings.Split(s.Kubectl("get", "--raw", "/metrics"), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}
