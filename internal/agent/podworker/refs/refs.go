// Package refs resolves what a pod refers to outside its own spec, as kubelet
// does for environment variables and volumes alike: keys of ConfigMaps and
// Secrets, and downward API fields and resources.
package refs

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	podresource "k8s.io/kubernetes/pkg/api/v1/resource"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Data reads a ConfigMap's (data and binaryData) or a Secret's data through r
// (uncached: a pod's sources are read when needed, not watched); a missing
// source that is optional reads as empty.
func Data(ctx context.Context, r client.Reader, ns, name string, secret bool, optional *bool) (map[string][]byte, error) {
	key := client.ObjectKey{Namespace: ns, Name: name}
	data := map[string][]byte{}
	var err error
	if secret {
		s := &corev1.Secret{}
		if err = r.Get(ctx, key, s); err == nil {
			data = s.Data
		}
	} else {
		cm := &corev1.ConfigMap{}
		if err = r.Get(ctx, key, cm); err == nil {
			for k, v := range cm.Data {
				data[k] = []byte(v)
			}
			for k, v := range cm.BinaryData {
				data[k] = v
			}
		}
	}
	switch {
	case apierrors.IsNotFound(err) && ptr.Deref(optional, false):
		return map[string][]byte{}, nil
	case err != nil && secret:
		return nil, fmt.Errorf("secret %q: %w", name, err)
	case err != nil:
		return nil, fmt.Errorf("configmap %q: %w", name, err)
	}
	return data, nil
}

// Field is a downward API field of the pod.
func Field(pod *corev1.Pod, path string) (string, error) {
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP", "status.hostIP":
		return pod.Status.PodIP, nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	}
	for _, p := range []struct {
		prefix string
		m      map[string]string
	}{{"metadata.labels['", pod.Labels}, {"metadata.annotations['", pod.Annotations}} {
		if key, ok := strings.CutPrefix(path, p.prefix); ok {
			return p.m[strings.TrimSuffix(key, "']")], nil
		}
	}
	return "", fmt.Errorf("field %q is not supported", path)
}

func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lines := make([]string, 0, len(keys))
	for _, k := range keys {
		lines = append(lines, k+"="+strconv.Quote(m[k]))
	}
	return strings.Join(lines, "\n")
}

// Resource is a container's request or limit, rounded up in the reference's
// divisor, as kubelet resolves it: an unset limit is the node's allocatable
// (on Fargate, the provisioned size), an unset request 0.
func Resource(pod *corev1.Pod, ref *corev1.ResourceFieldSelector, allocatable corev1.ResourceList) (string, error) {
	return podresource.ExtractResourceValueByContainerNameAndNodeAllocatable(ref, pod, ref.ContainerName, allocatable)
}
