//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fargo-dev/fargo/test/harness"
)

// checkProbes runs a test server whose startup (tcpSocket), readiness and
// liveness (httpGet) probes pass, then whose liveness fails, so it is restarted;
// and a busybox pod with an exec readiness probe and postStart/preStop hooks
// that write to its log.
func checkProbes(t *testing.T, s *harness.Server, dataDir, testserver, busybox string) {
	s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"probed","namespace":"apps"},"spec":{
		"containers":[{"name":"web","image":"` + testserver + `","command":["/testserver","serve","--start-delay=2s","--healthy-for=10s"],
			"ports":[{"name":"http","containerPort":8080}],
			"startupProbe":{"tcpSocket":{"port":8080},"periodSeconds":1,"failureThreshold":30},
			"readinessProbe":{"httpGet":{"path":"/healthz","port":"http"},"periodSeconds":1},
			"livenessProbe":{"httpGet":{"path":"/healthz","port":8080},"periodSeconds":1,"failureThreshold":2}}]}}`)
	s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"hooks","namespace":"apps"},"spec":{
		"terminationGracePeriodSeconds":3,
		"containers":[{"name":"c","image":"` + busybox + `","command":["sh","-c","echo main; sleep 2; touch /tmp/ready; sleep 3600"],
			"readinessProbe":{"exec":{"command":["cat","/tmp/ready"]},"periodSeconds":1},
			"lifecycle":{"postStart":{"exec":{"command":["sh","-c","echo poststart >/proc/1/fd/1"]}},
				"preStop":{"exec":{"command":["sh","-c","echo prestop >/proc/1/fd/1"]}}}}]}}`)
	ready := func(pod string) string {
		return jsonpath(s, `{.status.conditions[?(@.type=="Ready")].status}`, "get", "pod", "-n", "apps", pod)
	}
	harness.Eventually(t, 60*time.Second, "probed pod Running", func() bool {
		return jsonpath(s, "{.status.phase}", "get", "pod", "-n", "apps", "probed") == "Running"
	})
	if got := ready("probed"); got == "True" {
		t.Errorf("probed pod Ready before its server listens")
	}
	harness.Eventually(t, 30*time.Second, "probed pod Ready", func() bool { return ready("probed") == "True" })
	// After 10 s /healthz fails: not Ready, and liveness restarts the container.
	harness.Eventually(t, 30*time.Second, "probed pod not Ready", func() bool { return ready("probed") == "False" })
	harness.Eventually(t, 60*time.Second, "probed container restarted", func() bool {
		return jsonpath(s, "{.status.containerStatuses[0].restartCount}", "get", "pod", "-n", "apps", "probed") >= "1"
	})
	if ev := s.Kubectl("get", "events", "-n", "apps", "--field-selector", "involvedObject.name=probed"); !strings.Contains(ev, "Container web failed liveness probe, will be restarted") ||
		!strings.Contains(ev, "Readiness probe failed") {
		t.Errorf("events of the probed pod:\n%s\nwant the liveness kill and readiness failures", ev)
	}

	harness.Eventually(t, 30*time.Second, "hooks pod Ready", func() bool { return ready("hooks") == "True" })
	node := jsonpath(s, "{.spec.nodeName}", "get", "pod", "-n", "apps", "hooks")
	sandbox := strings.SplitN(strings.TrimPrefix(node, "fargate-"), ".", 2)[0]
	logFile := filepath.Join(dataDir, "containerd", "logs", sandbox, "c_0.log")
	if data, _ := os.ReadFile(logFile); !strings.Contains(string(data), "poststart") {
		t.Errorf("hooks pod log %q: want postStart's line", data)
	}
	s.Kubectl("delete", "pod", "-n", "apps", "hooks", "--wait=false")
	harness.Eventually(t, 10*time.Second, "preStop ran", func() bool {
		data, _ := os.ReadFile(logFile)
		return strings.Contains(string(data), "prestop")
	})
	s.Kubectl("delete", "pod", "-n", "apps", "probed", "--grace-period=1")
}
