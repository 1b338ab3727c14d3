// Package images pulls a container's image per its pull policy, with the
// credentials of the pod's imagePullSecrets matched as kubelet's keyring does.
package images

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/record"
	"k8s.io/kubernetes/pkg/credentialprovider"
	"k8s.io/kubernetes/pkg/credentialprovider/secrets"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// Puller pulls images into the runtime.
type Puller struct {
	Runtime runtime.Runtime
	// Reader reads pull secrets (uncached).
	Reader   client.Reader
	Recorder record.EventRecorder
}

// Pull pulls c's image per its pull policy with the pod's pull secrets.
func (p *Puller) Pull(ctx context.Context, pod *corev1.Pod, c *corev1.Container) (runtime.Image, error) {
	auth, err := p.auth(ctx, pod, c.Image)
	if err != nil {
		return runtime.Image{}, err
	}
	return p.Runtime.PullImage(ctx, c.Image, Policy(c), auth)
}

// Policy is c's imagePullPolicy for the runtime.
func Policy(c *corev1.Container) runtime.PullPolicy {
	switch c.ImagePullPolicy {
	case corev1.PullAlways:
		return runtime.PullAlways
	case corev1.PullNever:
		return runtime.PullNever
	}
	return runtime.PullIfNotPresent
}

// auth is the credentials for image from the pod's imagePullSecrets (the
// service account's are copied into the pod at admission), matched by registry
// as kubelet does with its keyring; most specific match first. A missing secret
// is skipped, as kubelet does.
func (p *Puller) auth(ctx context.Context, pod *corev1.Pod, image string) ([]runtime.Auth, error) {
	if len(pod.Spec.ImagePullSecrets) == 0 {
		return nil, nil
	}
	var found []corev1.Secret
	for _, ref := range pod.Spec.ImagePullSecrets {
		s := corev1.Secret{}
		err := p.Reader.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: ref.Name}, &s)
		if apierrors.IsNotFound(err) {
			p.Recorder.Eventf(pod, corev1.EventTypeWarning, "FailedToRetrieveImagePullSecret",
				"Unable to retrieve some image pull secrets (%s); attempting to pull the image may not succeed.", ref.Name)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading image pull secret %s/%s: %w", pod.Namespace, ref.Name, err)
		}
		found = append(found, s)
	}
	keyring, err := secrets.MakeDockerKeyring(found, &credentialprovider.BasicDockerKeyring{})
	if err != nil {
		return nil, fmt.Errorf("reading image pull secrets of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	creds, _ := keyring.Lookup(image)
	out := make([]runtime.Auth, 0, len(creds))
	for _, c := range creds {
		out = append(out, runtime.Auth{Username: c.Username, Password: c.Password})
	}
	return out, nil
}
