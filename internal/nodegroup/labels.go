package nodegroup

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// syncLabels brings the group's existing nodes to its current labels and
// taints, as EKS does after UpdateNodegroupConfig: what the group set before and
// no longer sets is taken off the Node, what it sets now is put on; labels and
// taints others put on the Node stay. The records follow, so a restarted
// kubelet registers with them.
func (m *Manager) syncLabels(ctx context.Context, g Group, kube kubernetes.Interface) error {
	m.mu.Lock()
	var stale []int
	for i, s := range m.specs {
		if s.Group == g.Name && (!maps.Equal(s.Labels, g.Labels) || !slices.EqualFunc(s.Taints, g.Taints, sameTaint)) {
			stale = append(stale, i)
		}
	}
	m.mu.Unlock()
	for _, i := range stale {
		m.mu.Lock()
		s := m.specs[i]
		m.mu.Unlock()
		n, err := kube.CoreV1().Nodes().Get(ctx, s.Name, metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("reading node %s: %w", s.Name, err)
		}
		if err == nil {
			relabel(n, s, g)
			if _, err := kube.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("updating the labels and taints of node %s: %w", s.Name, err)
			}
		}
		s.Labels, s.Taints = maps.Clone(g.Labels), slices.Clone(g.Taints)
		if err := saveRecord(filepath.Join(m.c.DataDir, "nodes", s.IP.String()), &s); err != nil {
			return err
		}
		m.mu.Lock()
		m.specs[i] = s
		m.mu.Unlock()
	}
	return nil
}

// relabel moves n from the labels and taints s had from its group to g's.
func relabel(n *corev1.Node, s Spec, g Group) {
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	for k := range s.Labels {
		if _, kept := g.Labels[k]; !kept {
			delete(n.Labels, k)
		}
	}
	maps.Copy(n.Labels, g.Labels)
	n.Spec.Taints = slices.DeleteFunc(n.Spec.Taints, func(t corev1.Taint) bool {
		return slices.ContainsFunc(s.Taints, func(o corev1.Taint) bool { return sameTaint(t, o) }) ||
			slices.ContainsFunc(g.Taints, func(o corev1.Taint) bool { return t.Key == o.Key && t.Effect == o.Effect })
	})
	n.Spec.Taints = append(n.Spec.Taints, g.Taints...)
}

func sameTaint(a, b corev1.Taint) bool {
	return a.Key == b.Key && a.Value == b.Value && a.Effect == b.Effect
}
