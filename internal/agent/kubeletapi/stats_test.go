package kubeletapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/fargo-dev/fargo/internal/runtime"
	"github.com/fargo-dev/fargo/internal/runtime/fake"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// A Fargate node's Summary API and /metrics/resource report its sandbox's
// usage for the node, the pod and each running container, with CPU rates from
// the second scrape on, as metrics-server reads them.
func TestStatsOfAFargateNode(t *testing.T) {
	ctx := context.Background()
	rt := fake.New()
	node := net.ParseIP("192.168.64.9").To4()
	if err := rt.CreateSandbox(ctx, runtime.Sandbox{ID: "ip-192-168-64-9", IP: node, MilliCPU: 1000, MemoryMiB: 2048}); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.PullImage(ctx, "registry.local/busybox:1", runtime.PullIfNotPresent, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.StartContainer(ctx, "ip-192-168-64-9", runtime.Container{Name: "web", Image: "registry.local/busybox:1", Command: []string{"sleep"}}); err != nil {
		t.Fatal(err)
	}
	nodePod := func(_ context.Context, ip net.IP) (NodeInfo, error) {
		if !ip.Equal(node) {
			return NodeInfo{}, fmt.Errorf("no node at %s: %w", ip, runtime.ErrNotFound)
		}
		return NodeInfo{Node: "fargate-ip-192-168-64-9.local-1.compute.internal", Sandbox: "ip-192-168-64-9",
			Pod: v1alpha1.PodReference{Namespace: "apps", Name: "web-1", UID: "uid-1"}, Since: time.Now().Add(-time.Minute)}, nil
	}
	ca, caKey := testCA(t)
	certs, err := NewCAIssuer(ca, caKey)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(rt, nil, func(_ context.Context, ip net.IP) bool { return ip.Equal(node) }, nodePod, certs, ca)
	if err != nil {
		t.Fatal(err)
	}
	_, addr := serve(t, s)
	client := apiserverClient(t, ca, caKey, addr, node)
	get := func(path string) string {
		resp, err := client.Get("https://192.168.64.9:10250" + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, data)
		}
		return string(data)
	}
	var first, second statsapi.Summary
	if err := json.Unmarshal([]byte(get("/stats/summary")), &first); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if err := json.Unmarshal([]byte(get("/stats/summary")), &second); err != nil {
		t.Fatal(err)
	}
	if first.Node.NodeName != "fargate-ip-192-168-64-9.local-1.compute.internal" || len(second.Pods) != 1 || second.Pods[0].PodRef.Name != "web-1" ||
		len(second.Pods[0].Containers) != 1 || second.Pods[0].Containers[0].Name != "web" {
		t.Fatalf("summary = %+v", second)
	}
	c := second.Pods[0].Containers[0]
	if first.Pods[0].Containers[0].CPU.UsageNanoCores != nil || c.CPU.UsageNanoCores == nil || *c.CPU.UsageNanoCores == 0 || *c.CPU.UsageCoreNanoSeconds == 0 {
		t.Errorf("container CPU %+v after %+v; want a rate only from the second scrape, and cumulative time", c.CPU, first.Pods[0].Containers[0].CPU)
	}
	metrics := get("/metrics/resource")
	for _, want := range []string{"# TYPE container_cpu_usage_seconds_total counter", `container_cpu_usage_seconds_total{container="web",namespace="apps",pod="web-1"} `,
		`container_memory_working_set_bytes{container="web",namespace="apps",pod="web-1"} `, `pod_cpu_usage_seconds_total{namespace="apps",pod="web-1"} `,
		"node_cpu_usage_seconds_total ", "scrape_error 0"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics/resource lacks %q:\n%s", want, metrics)
		}
	}
}
