package agent

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
)

// env resolves a container's environment as kubelet does: service variables,
// then envFrom, then env in order (later wins), with valueFrom fieldRef, resourceFieldRef,
// configMapKeyRef and secretKeyRef, and $(VAR) references to earlier variables.
func (a *Agent) env(ctx context.Context, pod *corev1.Pod, c *corev1.Container) ([]string, error) {
	vars := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	services, err := a.serviceEnv(ctx, pod)
	if err != nil {
		return nil, err
	}
	for _, e := range services {
		set(e.Name, e.Value)
	}
	for _, from := range c.EnvFrom {
		data, err := a.envSource(ctx, pod.Namespace, from)
		if err != nil {
			return nil, err
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			set(from.Prefix+k, data[k])
		}
	}
	for _, e := range c.Env {
		v, err := a.envValue(ctx, pod, c, e, vars)
		if err != nil {
			return nil, fmt.Errorf("environment variable %s: %w", e.Name, err)
		}
		set(e.Name, v)
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+vars[k])
	}
	return out, nil
}

func (a *Agent) envSource(ctx context.Context, ns string, from corev1.EnvFromSource) (map[string]string, error) {
	var data map[string][]byte
	var err error
	switch {
	case from.ConfigMapRef != nil:
		data, err = a.sourceData(ctx, ns, from.ConfigMapRef.Name, false, from.ConfigMapRef.Optional)
	case from.SecretRef != nil:
		data, err = a.sourceData(ctx, ns, from.SecretRef.Name, true, from.SecretRef.Optional)
	}
	out := make(map[string]string, len(data))
	for k, v := range data {
		out[k] = string(v)
	}
	return out, err
}

func (a *Agent) envValue(ctx context.Context, pod *corev1.Pod, c *corev1.Container, e corev1.EnvVar, earlier map[string]string) (string, error) {
	from := e.ValueFrom
	switch {
	case from == nil:
		return expand(e.Value, earlier), nil
	case from.FieldRef != nil:
		return fieldValue(pod, from.FieldRef.FieldPath)
	case from.ResourceFieldRef != nil:
		ref := *from.ResourceFieldRef
		if ref.ContainerName == "" {
			ref.ContainerName = c.Name
		}
		return resourceValue(pod, &ref)
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		return a.keyValue(ctx, pod.Namespace, ref.Name, ref.Key, false, ref.Optional)
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		return a.keyValue(ctx, pod.Namespace, ref.Name, ref.Key, true, ref.Optional)
	}
	return "", nil
}

// keyValue is one key of a configMap or secret.
func (a *Agent) keyValue(ctx context.Context, ns, name, key string, secret bool, optional *bool) (string, error) {
	data, err := a.sourceData(ctx, ns, name, secret, optional)
	if err != nil {
		return "", err
	}
	v, ok := data[key]
	if !ok && !ptr.Deref(optional, false) {
		return "", fmt.Errorf("key %q not found in %q", key, name)
	}
	return string(v), nil
}

// expand replaces $(NAME) with earlier variables; $$ escapes, unknown stay as is.
func expand(s string, vars map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		if s[i+1] == '$' {
			b.WriteByte('$')
			i++
			continue
		}
		if s[i+1] == '(' {
			if end := strings.IndexByte(s[i+2:], ')'); end >= 0 {
				name := s[i+2 : i+2+end]
				if v, ok := vars[name]; ok {
					b.WriteString(v)
					i += end + 2
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// fieldValue is a downward API field of the pod.
func fieldValue(pod *corev1.Pod, path string) (string, error) {
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

// resourceValue is a container's request or limit, rounded up in the reference's
// divisor. (kubelet falls back to the node's allocatable for an unset limit; fargo
// does not yet, and says so.)
func resourceValue(pod *corev1.Pod, ref *corev1.ResourceFieldSelector) (string, error) {
	var c *corev1.Container
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == ref.ContainerName {
			c = &pod.Spec.Containers[i]
		}
	}
	if c == nil {
		return "", fmt.Errorf("container %q not in the pod", ref.ContainerName)
	}
	kind, name, _ := strings.Cut(ref.Resource, ".")
	list := c.Resources.Limits
	if kind == "requests" {
		list = c.Resources.Requests
	}
	q, ok := list[corev1.ResourceName(name)]
	if !ok {
		return "", fmt.Errorf("resource %s of container %s is not set", ref.Resource, c.Name)
	}
	div := ref.Divisor
	if div.IsZero() {
		div = resource.MustParse("1")
	}
	if name == "cpu" {
		return strconv.FormatInt((q.MilliValue()+div.MilliValue()-1)/div.MilliValue(), 10), nil
	}
	return strconv.FormatInt((q.Value()+div.Value()-1)/div.Value(), 10), nil
}
