package nodegroup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/klog/v2"
)

// drainTimeout bounds how long a scale-down waits for a node's pods to go.
var drainTimeout = 2 * time.Minute

// drain cordons the node and evicts its pods through the Eviction API, so
// PodDisruptionBudgets are respected (a refused eviction is retried), as
// `kubectl drain` and EKS's scale-down do. DaemonSet pods and static pods stay:
// they go with the node.
func drain(ctx context.Context, kube kubernetes.Interface, node string) error {
	patch := []byte(`{"spec":{"unschedulable":true}}`)
	if _, err := kube.CoreV1().Nodes().Patch(ctx, node, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("cordoning %s: %w", node, err)
	}
	deadline := time.Now().Add(drainTimeout)
	for {
		pods, err := kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String()})
		if err != nil {
			return fmt.Errorf("listing the pods of %s: %w", node, err)
		}
		var left []string
		for _, p := range pods.Items {
			if staysWithNode(&p) {
				continue
			}
			left = append(left, p.Namespace+"/"+p.Name)
			if p.DeletionTimestamp != nil {
				continue
			}
			ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace}}
			if err := kube.PolicyV1().Evictions(p.Namespace).Evict(ctx, ev); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsTooManyRequests(err) {
				return fmt.Errorf("evicting %s/%s from %s: %w", p.Namespace, p.Name, node, err)
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("draining %s: pods still there after %s (a PodDisruptionBudget may forbid their eviction): %s", node, drainTimeout, strings.Join(left, ", "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func staysWithNode(p *corev1.Pod) bool {
	if _, mirror := p.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return true
	}
	for _, o := range p.OwnerReferences {
		if o.Kind == "DaemonSet" {
			return true
		}
	}
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// remove takes a stopped node off the machine: its pod sandboxes through CRI (so
// the CNI plugins give their addresses and network namespaces back), then its
// containerd, processes, cgroups, interface and directory, and its Node object.
func (n *Node) remove(ctx context.Context, kube kubernetes.Interface) error {
	var errs []error
	if err := n.stopKubelet(); err != nil {
		errs = append(errs, err)
	}
	if err := removeSandboxes(ctx, n.d.socket()); err != nil {
		errs = append(errs, err)
	}
	if err := n.containerd.Stop(); err != nil {
		errs = append(errs, err)
	}
	if err := RemoveCgroups(cgroupRoot(n.Spec.IP)); err != nil {
		errs = append(errs, err)
	}
	if err := removeAddress(n.Spec.IP); err != nil {
		errs = append(errs, err)
	}
	unmountUnder(n.d.root)
	if err := os.RemoveAll(n.d.root); err != nil {
		errs = append(errs, fmt.Errorf("removing %s: %w", n.d.root, err))
	}
	if err := kube.CoreV1().Nodes().Delete(ctx, n.Spec.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("deleting node %s: %w", n.Spec.Name, err))
	}
	return errors.Join(errs...)
}

// removeSandboxes stops and removes every pod sandbox of the node's containerd.
func removeSandboxes(ctx context.Context, socket string) error {
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("connecting to CRI at %s: %w", socket, err)
	}
	defer conn.Close()
	rs := runtimeapi.NewRuntimeServiceClient(conn)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	list, err := rs.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return fmt.Errorf("listing pod sandboxes: %w", err)
	}
	var errs []error
	for _, sb := range list.Items {
		if _, err := rs.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
			errs = append(errs, fmt.Errorf("stopping pod sandbox %s: %w", sb.Metadata.GetName(), err))
		}
		if _, err := rs.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
			errs = append(errs, fmt.Errorf("removing pod sandbox %s: %w", sb.Metadata.GetName(), err))
		}
	}
	return errors.Join(errs...)
}

// killCgroup kills every process left in a cgroup tree: a pod's processes
// outlive its shim.
func killCgroup(dir string) {
	data, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	for _, f := range strings.Fields(string(data)) {
		var pid int
		if _, err := fmt.Sscan(f, &pid); err == nil && pid > 1 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			killCgroup(filepath.Join(dir, e.Name()))
		}
	}
}

// RemoveCgroups kills what is left in a cgroup tree (root, e.g. a node's
// cgroup, or /fargo-nodes for all) and removes it from every hierarchy.
func RemoveCgroups(root string) error {
	killCgroup(filepath.Join(cgroupV1, "memory", root))
	time.Sleep(100 * time.Millisecond)
	hierarchies, err := os.ReadDir(cgroupV1)
	if err != nil {
		return err
	}
	var errs []error
	for _, h := range hierarchies {
		if err := removeTree(filepath.Join(cgroupV1, h.Name(), root)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func removeTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing cgroup %s: %w", dir, err)
	}
	return nil
}

// unmountUnder detaches every mount below dir (the kubelet's volumes, the
// containers' root filesystems), innermost first.
func unmountUnder(dir string) {
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return
	}
	var under []string
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], dir+"/") {
			under = append(under, f[1])
		}
	}
	for i := len(under) - 1; i >= 0; i-- {
		if err := syscall.Unmount(under[i], syscall.MNT_DETACH); err != nil {
			klog.Warningf("unmounting %s: %v", under[i], err)
		}
	}
}
