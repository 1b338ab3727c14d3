package agent

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/kubernetes/pkg/credentialprovider"
	"k8s.io/kubernetes/pkg/credentialprovider/secrets"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// pullAuth is the credentials for image from the pod's imagePullSecrets (the
// service account's are copied into the pod at admission), matched by registry
// as kubelet does with its keyring; most specific match first. A missing secret
// is skipped, as kubelet does.
func (a *Agent) pullAuth(ctx context.Context, pod *corev1.Pod, image string) ([]runtime.Auth, error) {
	if len(pod.Spec.ImagePullSecrets) == 0 {
		return nil, nil
	}
	var found []corev1.Secret
	for _, ref := range pod.Spec.ImagePullSecrets {
		s := corev1.Secret{}
		err := a.reader.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: ref.Name}, &s)
		if apierrors.IsNotFound(err) {
			a.event(pod, corev1.EventTypeWarning, "FailedToRetrieveImagePullSecret",
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
