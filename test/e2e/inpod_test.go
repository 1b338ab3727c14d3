//go:build e2e

package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fargo-dev/fargo/test/harness"
)

// checkInPod runs a pod whose first container calls the apiserver through the
// kubernetes service with its service account (client-go's in-cluster config),
// and whose second prints what kubelet sets up in a container: resolv.conf,
// hosts, hostname, IPC/UTS namespaces shared with the sandbox, the pod's user,
// groups and fsGroup-owned volume, an init container's file, dropped
// capabilities; a runAsNonRoot pod of a root image is refused.
func checkInPod(t *testing.T, s *harness.Server, dataDir, testserver, busybox string) {
	s.Kubectl("create", "rolebinding", "view", "-n", "apps", "--clusterrole=view", "--serviceaccount=apps:default")
	s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"inpod","namespace":"apps"},"spec":{
		"restartPolicy":"Never",
		"securityContext":{"runAsUser":1000,"runAsGroup":3000,"fsGroup":2000,"runAsNonRoot":true},
		"initContainers":[{"name":"init","image":"` + busybox + `","command":["sh","-c","echo init-ran >/data/init"],
			 "volumeMounts":[{"name":"data","mountPath":"/data"}]}],
		"containers":[{"name":"api","image":"` + testserver + `","command":["/testserver","api"]},
			{"name":"sh","image":"` + busybox + `","command":["sh","-c","cat /etc/resolv.conf /etc/hosts; hostname; ls -l /proc/self/ns/ipc /proc/self/ns/uts; id; ls -lnd /data; cat /data/init; grep CapEff /proc/self/status; sleep 3600"],
			 "securityContext":{"capabilities":{"drop":["ALL"]}},
			 "volumeMounts":[{"name":"data","mountPath":"/data"}]}],
		"volumes":[{"name":"data","emptyDir":{}}]}}`)
	harness.Eventually(t, 60*time.Second, "api container done", func() bool {
		return jsonpath(s, "{.status.containerStatuses[?(@.name==\"api\")].state.terminated.reason}", "get", "pod", "-n", "apps", "inpod") != ""
	})
	node := jsonpath(s, "{.spec.nodeName}", "get", "pod", "-n", "apps", "inpod")
	ip := jsonpath(s, "{.status.podIP}", "get", "pod", "-n", "apps", "inpod")
	sandbox := strings.SplitN(strings.TrimPrefix(node, "fargate-"), ".", 2)[0]
	logs := func(c string) string { return containerOutput(dataDir, sandbox, c) }
	if code := jsonpath(s, "{.status.containerStatuses[?(@.name==\"api\")].state.terminated.exitCode}", "get", "pod", "-n", "apps", "inpod"); code != "0" ||
		!strings.Contains(logs("api"), "GET https://10.100.0.1:443/api/v1/namespaces/apps/pods: 200 OK:") || !strings.Contains(logs("api"), "inpod") {
		t.Errorf("in-pod API call: exit code %s, printed %q; want 200 OK listing inpod", code, logs("api"))
	}
	ns := func(kind string) string {
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(dataDir, "containerd", "ns", sandbox, kind), &st); err != nil {
			t.Errorf("pinned %s namespace: %v", kind, err)
		}
		return fmt.Sprintf("%s:[%d]", kind, st.Ino)
	}
	want := []string{
		"nameserver 10.100.0.10\nsearch apps.svc.cluster.local svc.cluster.local cluster.local local-1.compute.internal\noptions ndots:5\n",
		ip + "\tinpod\n", "\ninpod\n", ns("ipc"), ns("uts"), "uid=1000 gid=3000 groups=2000,3000",
		"init-ran\n", "CapEff:\t0000000000000000\n",
	}
	var got string
	harness.Eventually(t, 30*time.Second, "sh container's report", func() bool {
		got = logs("sh")
		return strings.Contains(got, "CapEff")
	})
	if !regexp.MustCompile(`drwxrwsrwx\s+\d+\s+0\s+2000\s`).MatchString(got) {
		t.Errorf("container printed:\n%s\nwant /data owned by group 2000 (fsGroup), set-gid, world-writable", got)
	}
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("container printed:\n%s\nwant it to contain %q", got, w)
		}
	}
	s.Kubectl("delete", "pod", "-n", "apps", "inpod", "--grace-period=1")

	// runAsNonRoot with an image that runs as root: the container is refused.
	s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"nonroot","namespace":"apps"},"spec":{
		"securityContext":{"runAsNonRoot":true},"containers":[{"name":"c","image":"` + busybox + `","command":["sleep","3600"]}]}}`)
	harness.Eventually(t, 60*time.Second, "nonroot refused", func() bool {
		return strings.Contains(jsonpath(s, "{.status.containerStatuses[0].state.waiting.message}", "get", "pod", "-n", "apps", "nonroot"), "runAsNonRoot")
	})
	s.Kubectl("delete", "pod", "-n", "apps", "nonroot", "--grace-period=1")
}
