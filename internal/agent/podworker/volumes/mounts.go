package volumes

import (
	"fmt"
	"os"
	"path/filepath"

	securejoin "github.com/cyphar/filepath-securejoin"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	corev1 "k8s.io/api/core/v1"
	kubecontainer "k8s.io/kubernetes/pkg/kubelet/container"
	volumevalidation "k8s.io/kubernetes/pkg/volume/validation"

	"github.com/fargo-dev/fargo/internal/agent/podworker/envvars"
	"github.com/fargo-dev/fargo/internal/runtime"
)

// Mounts are a container's volume mounts as host paths. As kubelet's
// makeMounts: subPathExpr is expanded with the container's environment (env,
// KEY=VALUE), a subPath may be neither absolute nor climb out with "..", and
// a missing one is made with its volume's mode. Symlinks inside the volume
// resolve within it (a container cannot point a subPath at the host).
func (a *Manager) Mounts(pod *corev1.Pod, c *corev1.Container, env []string) ([]runtime.Mount, error) {
	var out []runtime.Mount
	for _, m := range c.VolumeMounts {
		src := a.volumeDir(pod, m.Name)
		sub, err := subPath(m, env)
		if err != nil {
			return nil, err
		}
		if sub != "" {
			if src, err = a.subPathDir(src, sub); err != nil {
				return nil, fmt.Errorf("volumeMount %q of container %q: %w", m.Name, c.Name, err)
			}
		}
		out = append(out, runtime.Mount{HostPath: src, ContainerPath: m.MountPath, ReadOnly: m.ReadOnly})
	}
	return out, nil
}

// subPath is the mount's subPath, or its subPathExpr expanded, checked as
// kubelet checks it.
func subPath(m corev1.VolumeMount, env []string) (string, error) {
	sub := m.SubPath
	if m.SubPathExpr != "" {
		var err error
		if sub, err = kubecontainer.ExpandContainerVolumeMounts(m, envvars.Kubelet(env)); err != nil {
			return "", err
		}
	}
	if sub == "" {
		return "", nil
	}
	if filepath.IsAbs(sub) {
		return "", fmt.Errorf("error SubPath `%s` must not be an absolute path", sub)
	}
	if err := volumevalidation.ValidatePathNoBacksteps(sub); err != nil {
		return "", fmt.Errorf("unable to provision SubPath `%s`: %w", sub, err)
	}
	return sub, nil
}

// subPathDir is sub inside the volume at dir, made with the volume's mode
// when missing.
func (a *Manager) subPathDir(dir, sub string) (string, error) {
	path, err := securejoin.SecureJoin(dir, sub)
	if err != nil {
		return "", fmt.Errorf("resolving subPath %q: %w", sub, err)
	}
	if _, err := os.Lstat(path); os.IsNotExist(err) {
		fi, err := os.Stat(dir)
		if err != nil {
			return "", fmt.Errorf("reading volume %s: %w", dir, err)
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return "", fmt.Errorf("resolving subPath %q: %w", sub, err)
		}
		if err := pathrs.MkdirAll(dir, rel, fi.Mode().Perm()); err != nil {
			return "", fmt.Errorf("failed to create subPath directory %q: %w", sub, err)
		}
	}
	return path, nil
}
