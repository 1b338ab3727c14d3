// Package volumes makes a pod's volumes on the host, as kubelet's volume
// manager does for the kinds a Fargate pod may use: emptyDir, configMap, secret,
// downwardAPI and projected (with service-account tokens, cached as kubelet's
// token manager does). Contents are refreshed about once a minute.
package volumes

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/agent/podworker/refs"
)

// volumeRefresh is how often configMap, secret, downward API and token contents
// are rewritten (kubelet syncs them about once a minute).
const volumeRefresh = time.Minute

// Manager keeps the volumes of the pods on one host.
type Manager struct {
	// Dir holds each pod's volumes under Dir/<uid> (DATA/pods).
	Dir string
	// Reader reads ConfigMaps and Secrets when needed (uncached).
	Reader client.Reader
	// Client requests service-account tokens.
	Client client.Client
	Clock  clock.PassiveClock

	tokens tokenCache
}

// podDir holds a pod's volumes on the host: DATA/pods/<uid>.
func (a *Manager) podDir(pod *corev1.Pod) string {
	return filepath.Join(a.Dir, string(pod.UID))
}

func (a *Manager) volumeDir(pod *corev1.Pod, name string) string {
	return filepath.Join(a.podDir(pod), "volumes", name)
}

// Prepare writes the pod's volumes on the host (emptyDir, configMap, secret,
// downwardAPI, projected with service-account tokens), refreshing their
// contents every volumeRefresh. A missing, non-optional source is an error the
// pod waits on, as kubelet's FailedMount.
// allocatable is the node's, for downward API limits the containers do not set.
func (a *Manager) Prepare(ctx context.Context, pod *corev1.Pod, allocatable corev1.ResourceList) error {
	stamp := filepath.Join(a.podDir(pod), ".volumes")
	if fi, err := os.Stat(stamp); err == nil && a.Clock.Since(fi.ModTime()) < volumeRefresh {
		return nil
	}
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		files, err := a.volumeFiles(ctx, pod, v, allocatable)
		if err != nil {
			return fmt.Errorf("MountVolume.SetUp failed for volume %q: %w", v.Name, err)
		}
		if err := writeFiles(a.volumeDir(pod, v.Name), files); err != nil {
			return fmt.Errorf("writing volume %q: %w", v.Name, err)
		}
		if v.EmptyDir != nil { // world-writable, as kubelet makes it
			if err := os.Chmod(a.volumeDir(pod, v.Name), 0o777); err != nil {
				return fmt.Errorf("writing volume %q: %w", v.Name, err)
			}
		}
		if sc := pod.Spec.SecurityContext; sc != nil && sc.FSGroup != nil {
			if err := applyFSGroup(a.volumeDir(pod, v.Name), *sc.FSGroup, v.EmptyDir != nil); err != nil {
				return fmt.Errorf("setting fsGroup on volume %q: %w", v.Name, err)
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(stamp), 0o700); err != nil {
		return err
	}
	return os.WriteFile(stamp, nil, 0o600)
}

// file is one file of a volume.
type file struct {
	data []byte
	mode os.FileMode
}

// volumeFiles renders a volume's contents; nil for an emptyDir.
func (a *Manager) volumeFiles(ctx context.Context, pod *corev1.Pod, v *corev1.Volume, allocatable corev1.ResourceList) (map[string]file, error) {
	switch {
	case v.EmptyDir != nil:
		return nil, nil
	case v.ConfigMap != nil:
		return a.configMapFiles(ctx, pod.Namespace, &v.ConfigMap.LocalObjectReference, v.ConfigMap.Items, v.ConfigMap.Optional, mode(v.ConfigMap.DefaultMode))
	case v.Secret != nil:
		return a.secretFiles(ctx, pod.Namespace, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional, mode(v.Secret.DefaultMode))
	case v.DownwardAPI != nil:
		return downwardFiles(pod, v.DownwardAPI.Items, mode(v.DownwardAPI.DefaultMode), allocatable)
	case v.Projected != nil:
		return a.projectedFiles(ctx, pod, v.Projected, allocatable)
	}
	return nil, fmt.Errorf("volume type not supported by fargo yet")
}

func mode(m *int32) os.FileMode {
	if m == nil {
		return 0o644
	}
	return os.FileMode(*m)
}

func pick(data map[string][]byte, items []corev1.KeyToPath, def os.FileMode) (map[string]file, error) {
	out := map[string]file{}
	if len(items) == 0 {
		for k, d := range data {
			out[k] = file{d, def}
		}
		return out, nil
	}
	for _, it := range items {
		d, ok := data[it.Key]
		if !ok {
			return nil, fmt.Errorf("key %q not found", it.Key)
		}
		m := def
		if it.Mode != nil {
			m = os.FileMode(*it.Mode)
		}
		out[it.Path] = file{d, m}
	}
	return out, nil
}

func (a *Manager) configMapFiles(ctx context.Context, ns string, ref *corev1.LocalObjectReference, items []corev1.KeyToPath, optional *bool, def os.FileMode) (map[string]file, error) {
	data, err := refs.Data(ctx, a.Reader, ns, ref.Name, false, optional)
	if err != nil || len(data) == 0 {
		return nil, err
	}
	return pick(data, items, def)
}

func (a *Manager) secretFiles(ctx context.Context, ns, name string, items []corev1.KeyToPath, optional *bool, def os.FileMode) (map[string]file, error) {
	data, err := refs.Data(ctx, a.Reader, ns, name, true, optional)
	if err != nil || len(data) == 0 {
		return nil, err
	}
	return pick(data, items, def)
}

func downwardFiles(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, def os.FileMode, allocatable corev1.ResourceList) (map[string]file, error) {
	out := map[string]file{}
	for _, it := range items {
		var val string
		var err error
		switch {
		case it.FieldRef != nil:
			val, err = refs.Field(pod, it.FieldRef.FieldPath)
		case it.ResourceFieldRef != nil:
			val, err = refs.Resource(pod, it.ResourceFieldRef, allocatable)
		}
		if err != nil {
			return nil, err
		}
		m := def
		if it.Mode != nil {
			m = os.FileMode(*it.Mode)
		}
		out[it.Path] = file{[]byte(val), m}
	}
	return out, nil
}

// projectedFiles merges the sources, service-account tokens included: requested
// for the pod's service account with the volume's audience and expiry, bound to
// the pod, so in-cluster clients work from a Fargate pod.
func (a *Manager) projectedFiles(ctx context.Context, pod *corev1.Pod, p *corev1.ProjectedVolumeSource, allocatable corev1.ResourceList) (map[string]file, error) {
	out := map[string]file{}
	def := mode(p.DefaultMode)
	for _, src := range p.Sources {
		var files map[string]file
		var err error
		switch {
		case src.ConfigMap != nil:
			files, err = a.configMapFiles(ctx, pod.Namespace, &src.ConfigMap.LocalObjectReference, src.ConfigMap.Items, src.ConfigMap.Optional, def)
		case src.Secret != nil:
			files, err = a.secretFiles(ctx, pod.Namespace, src.Secret.Name, src.Secret.Items, src.Secret.Optional, def)
		case src.DownwardAPI != nil:
			files, err = downwardFiles(pod, src.DownwardAPI.Items, def, allocatable)
		case src.ServiceAccountToken != nil:
			var token string
			token, err = a.token(ctx, pod, src.ServiceAccountToken)
			files = map[string]file{src.ServiceAccountToken.Path: {[]byte(token), def}}
		}
		if err != nil {
			return nil, err
		}
		for k, f := range files {
			out[k] = f
		}
	}
	return out, nil
}

// token is a service-account token for the pod, bound to it, from the cache
// while it is fresh.
func (a *Manager) token(ctx context.Context, pod *corev1.Pod, src *corev1.ServiceAccountTokenProjection) (string, error) {
	return a.tokens.get(ctx, a.Clock, pod, src, func(ctx context.Context) (string, time.Time, error) {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: serviceAccount(pod)}}
		tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
			ExpirationSeconds: src.ExpirationSeconds,
			BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
		}}
		if src.Audience != "" {
			tr.Spec.Audiences = []string{src.Audience}
		}
		if err := a.Client.SubResource("token").Create(ctx, sa, tr); err != nil {
			return "", time.Time{}, fmt.Errorf("requesting a token for service account %s/%s: %w", sa.Namespace, sa.Name, err)
		}
		return tr.Status.Token, tr.Status.ExpirationTimestamp.Time, nil
	})
}

// writeFiles writes files under dir, each atomically (temp file, then rename).
func writeFiles(dir string, files map[string]file) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, f := range files {
		p := filepath.Join(dir, filepath.Clean("/"+name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		tmp := p + ".fargo-tmp"
		if err := os.WriteFile(tmp, f.data, f.mode); err != nil {
			return err
		}
		if err := os.Chmod(tmp, f.mode); err != nil {
			return err
		}
		if err := os.Rename(tmp, p); err != nil {
			return err
		}
	}
	return nil
}

// applyFSGroup gives a volume to group gid as kubelet does for fsGroup: group
// owner gid, set-gid directories so new files inherit it, group read (and write,
// for a writable volume).
func applyFSGroup(dir string, gid int64, writable bool) error {
	perm := fs.FileMode(0o040)
	if writable {
		perm = 0o060
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if err := os.Lchown(p, -1, int(gid)); err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		m := info.Mode() | perm
		if d.IsDir() {
			m |= fs.ModeSetgid | perm | 0o010
		}
		return os.Chmod(p, m)
	})
}

// Remove deletes a pod's volumes and forgets its tokens once its sandbox is gone.
func (a *Manager) Remove(uid types.UID) error {
	a.tokens.forget(uid)
	if uid == "" || strings.ContainsAny(string(uid), "/.") {
		return nil
	}
	return os.RemoveAll(filepath.Join(a.Dir, string(uid)))
}

func serviceAccount(pod *corev1.Pod) string {
	if pod.Spec.ServiceAccountName == "" {
		return "default"
	}
	return pod.Spec.ServiceAccountName
}
