// Package envvars resolves a container's environment as kubelet does: the
// service variables, envFrom, then env with valueFrom and $(VAR) references.
package envvars

import (
	"context"
	"fmt"
	kubecontainer "k8s.io/kubernetes/pkg/kubelet/container"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kubernetes/pkg/kubelet/envvars"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/agent/podworker/refs"
)

// Resolver reads what environments refer to.
type Resolver struct {
	// Services lists Services (a cached client: every container start asks).
	Services client.Reader
	// Reader reads ConfigMaps and Secrets when needed (uncached).
	Reader client.Reader
}

// Env resolves a container's environment as kubelet does: service variables,
// then envFrom, then env in order (later wins), with valueFrom fieldRef, resourceFieldRef,
// configMapKeyRef and secretKeyRef, and $(VAR) references to earlier variables.
// allocatable is the node's, for resourceFieldRef limits the container does
// not set.
func (r *Resolver) Env(ctx context.Context, pod *corev1.Pod, c *corev1.Container, allocatable corev1.ResourceList) ([]string, error) {
	vars := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	services, err := r.serviceEnv(ctx, pod)
	if err != nil {
		return nil, err
	}
	for _, e := range services {
		set(e.Name, e.Value)
	}
	for _, from := range c.EnvFrom {
		data, err := r.envSource(ctx, pod.Namespace, from)
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
		v, err := r.envValue(ctx, pod, c, e, vars, allocatable)
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

func (r *Resolver) envSource(ctx context.Context, ns string, from corev1.EnvFromSource) (map[string]string, error) {
	var data map[string][]byte
	var err error
	switch {
	case from.ConfigMapRef != nil:
		data, err = refs.Data(ctx, r.Reader, ns, from.ConfigMapRef.Name, false, from.ConfigMapRef.Optional)
	case from.SecretRef != nil:
		data, err = refs.Data(ctx, r.Reader, ns, from.SecretRef.Name, true, from.SecretRef.Optional)
	}
	out := make(map[string]string, len(data))
	for k, v := range data {
		out[k] = string(v)
	}
	return out, err
}

func (r *Resolver) envValue(ctx context.Context, pod *corev1.Pod, c *corev1.Container, e corev1.EnvVar, earlier map[string]string, allocatable corev1.ResourceList) (string, error) {
	from := e.ValueFrom
	switch {
	case from == nil:
		return expand(e.Value, earlier), nil
	case from.FieldRef != nil:
		return refs.Field(pod, from.FieldRef.FieldPath)
	case from.ResourceFieldRef != nil:
		ref := *from.ResourceFieldRef
		if ref.ContainerName == "" {
			ref.ContainerName = c.Name
		}
		return refs.Resource(pod, &ref, allocatable)
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		return r.keyValue(ctx, pod.Namespace, ref.Name, ref.Key, false, ref.Optional)
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		return r.keyValue(ctx, pod.Namespace, ref.Name, ref.Key, true, ref.Optional)
	}
	return "", nil
}

// keyValue is one key of a configMap or secret.
func (r *Resolver) keyValue(ctx context.Context, ns, name, key string, secret bool, optional *bool) (string, error) {
	data, err := refs.Data(ctx, r.Reader, ns, name, secret, optional)
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

// serviceEnv is the Docker-links style variables kubelet gives every container:
// the `kubernetes` service of the default namespace always (in-cluster clients
// find the apiserver by KUBERNETES_SERVICE_HOST/PORT), and, unless the pod turns
// enableServiceLinks off, every service of the pod's namespace with a cluster IP.
func (r *Resolver) serviceEnv(ctx context.Context, pod *corev1.Pod) ([]corev1.EnvVar, error) {
	byName := map[string]*corev1.Service{}
	if pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks {
		list := &corev1.ServiceList{}
		if err := r.Services.List(ctx, list, client.InNamespace(pod.Namespace)); err != nil {
			return nil, fmt.Errorf("listing services of namespace %s: %w", pod.Namespace, err)
		}
		for i := range list.Items {
			if s := &list.Items[i]; hasClusterIP(s) {
				byName[s.Name] = s
			}
		}
	}
	if _, ok := byName["kubernetes"]; !ok {
		master := &corev1.Service{}
		err := r.Services.Get(ctx, client.ObjectKey{Namespace: metav1.NamespaceDefault, Name: "kubernetes"}, master)
		if err != nil {
			return nil, fmt.Errorf("reading the kubernetes service: %w", err)
		}
		if hasClusterIP(master) {
			byName["kubernetes"] = master
		}
	}
	services := make([]*corev1.Service, 0, len(byName))
	for _, s := range byName {
		services = append(services, s)
	}
	sort.Slice(services, func(i, j int) bool { return services[i].Name < services[j].Name })
	return envvars.FromServices(services), nil
}

func hasClusterIP(s *corev1.Service) bool {
	return s.Spec.ClusterIP != "" && s.Spec.ClusterIP != corev1.ClusterIPNone
}

// Kubelet is env (KEY=value) as kubelet's expansion helpers take it, for
// $(VAR) in command, args and subPathExpr.
func Kubelet(env []string) []kubecontainer.EnvVar {
	vars := make([]kubecontainer.EnvVar, 0, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars = append(vars, kubecontainer.EnvVar{Name: k, Value: v})
	}
	return vars
}
