package nodegroup

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// A label or taint change of the group reaches its existing nodes: what the
// group set before and no longer does goes, what others set stays, and the
// record keeps the new set for the next start.
func TestSyncLabels(t *testing.T) {
	s := testSpec(t) // Name=managed-ng, taint dedicated=gpu:NoSchedule
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "nodes", s.IP.String()), 0o700); err != nil {
		t.Fatal(err)
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: s.Name, Labels: map[string]string{"Name": "managed-ng", "team": "ops", "kubernetes.io/os": "linux"}},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{
			{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule},
			{Key: "node.kubernetes.io/unreachable", Effect: corev1.TaintEffectNoExecute}}}}
	kube := fake.NewClientset(node)
	m := &Manager{c: &Cluster{DataDir: dir}, specs: []Spec{*s}, nodes: map[string]*Node{}}
	g := Group{Name: s.Group, Labels: map[string]string{"team": "web", "tier": "front"},
		Taints: []corev1.Taint{{Key: "dedicated", Value: "web", Effect: corev1.TaintEffectNoSchedule}}}
	if err := m.syncLabels(context.Background(), g, kube); err != nil {
		t.Fatal(err)
	}
	got, _ := kube.CoreV1().Nodes().Get(context.Background(), s.Name, metav1.GetOptions{})
	if l := got.Labels; l["Name"] != "" || l["team"] != "web" || l["tier"] != "front" || l["kubernetes.io/os"] != "linux" {
		t.Errorf("labels = %v; want Name gone, team=web, tier=front, and kubernetes.io/os kept", l)
	}
	if ts := got.Spec.Taints; len(ts) != 2 || ts[0].Key != "node.kubernetes.io/unreachable" || ts[1].Value != "web" {
		t.Errorf("taints = %v; want the unreachable taint kept and dedicated=web:NoSchedule", ts)
	}
	specs, err := loadRecords(filepath.Join(dir, "nodes"))
	if err != nil || len(specs) != 1 || specs[0].Labels["tier"] != "front" || specs[0].Taints[0].Value != "web" {
		t.Errorf("record = %+v, %v; want the new labels and taints", specs, err)
	}
	if err := m.syncLabels(context.Background(), g, kube); err != nil {
		t.Errorf("a second sync with nothing to change: %v", err)
	}
}
