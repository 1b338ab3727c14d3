package nodegroup

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// bootstrapGroup is the group nodes' bootstrap tokens authenticate as, besides
// system:bootstrappers.
const bootstrapGroup = "system:bootstrappers:fargo-nodes"

// tokenLife is how long a bootstrap token may be used: long enough for a start
// of all nodes, after which kube-controller-manager's token cleaner removes it.
const tokenLife = time.Hour

// BootstrapToken makes a bootstrap token for kubelet TLS bootstrap, with the
// bindings that let its holders ask for node client certificates and have them
// approved (kube-controller-manager's approver and signer do the rest), and the
// nodes renew them: the bindings kubeadm makes.
func BootstrapToken(ctx context.Context, c kubernetes.Interface) (string, error) {
	for _, b := range []struct{ name, role, group string }{
		{"fargo:node-bootstrapper", "system:node-bootstrapper", bootstrapGroup},
		{"fargo:node-autoapprove-bootstrap", "system:certificates.k8s.io:certificatesigningrequests:nodeclient", bootstrapGroup},
		{"fargo:node-autoapprove-certificate-rotation", "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", "system:nodes"},
	} {
		crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: b.name},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: b.role},
			Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: b.group}}}
		if _, err := c.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return "", fmt.Errorf("binding %s for node bootstrap: %w", b.role, err)
		}
	}
	id, err := randomToken(6)
	if err != nil {
		return "", err
	}
	secret, err := randomToken(16)
	if err != nil {
		return "", err
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-" + id, Namespace: metav1.NamespaceSystem},
		Type: corev1.SecretTypeBootstrapToken,
		StringData: map[string]string{"token-id": id, "token-secret": secret, "usage-bootstrap-authentication": "true",
			"auth-extra-groups": bootstrapGroup, "expiration": time.Now().Add(tokenLife).UTC().Format(time.RFC3339),
			"description": "fargo: TLS bootstrap of managed node group kubelets"}}
	if _, err := c.CoreV1().Secrets(metav1.NamespaceSystem).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		return "", fmt.Errorf("creating a node bootstrap token: %w", err)
	}
	return id + "." + secret, nil
}

// randomToken is n characters of [a-z0-9], the bootstrap token alphabet.
func randomToken(n int) (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	out := make([]byte, n)
	for i := range out {
		v, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", err
		}
		out[i] = alphabet[v.Int64()]
	}
	return string(out), nil
}
