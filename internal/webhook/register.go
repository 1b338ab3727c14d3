package webhook

import (
	"context"
	"fmt"
	"strconv"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// configName names fargo's webhook configurations; podWebhookName is the pod webhook's.
const (
	configName     = "fargo"
	podWebhookName = "pods.fargo.dev"
)

// Register creates or updates the webhook configurations that send FargateProfile
// requests, and pod creations, to fargo at https://127.0.0.1:port, trusted through caBundle.
func Register(ctx context.Context, c client.Client, port int, caBundle []byte) error {
	base := "https://127.0.0.1:" + strconv.Itoa(port)
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	timeout := int32(5)
	rule := func(ops ...admissionregistrationv1.OperationType) []admissionregistrationv1.RuleWithOperations {
		scope := admissionregistrationv1.ClusterScope
		return []admissionregistrationv1.RuleWithOperations{{Operations: ops, Rule: admissionregistrationv1.Rule{
			APIGroups: []string{v1alpha1.GroupVersion.Group}, APIVersions: []string{v1alpha1.GroupVersion.Version},
			Resources: []string{"fargateprofiles"}, Scope: &scope}}}
	}
	clientConfig := func(path string) admissionregistrationv1.WebhookClientConfig {
		url := base + path
		return admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caBundle}
	}
	mutating := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: configName}}
	ignore := admissionregistrationv1.Ignore
	never := admissionregistrationv1.NeverReinvocationPolicy
	podRule := []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}}
	mutating.Webhooks = []admissionregistrationv1.MutatingWebhook{{
		Name: "default.fargateprofiles.fargo.dev", ClientConfig: clientConfig(ProfileDefaultPath),
		Rules: rule(admissionregistrationv1.Create), FailurePolicy: &fail, SideEffects: &none,
		TimeoutSeconds: &timeout, AdmissionReviewVersions: []string{"v1"},
	}, {
		// As EKS's 0500-amazon-eks-fargate-mutation: pods on CREATE, Ignore on failure, 5 s.
		Name: podWebhookName, ClientConfig: clientConfig(PodMutatePath),
		Rules: podRule, FailurePolicy: &ignore, SideEffects: &none, ReinvocationPolicy: &never,
		TimeoutSeconds: &timeout, AdmissionReviewVersions: []string{"v1"},
	}}
	validating := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: configName}}
	validating.Webhooks = []admissionregistrationv1.ValidatingWebhook{{
		Name: "validate.fargateprofiles.fargo.dev", ClientConfig: clientConfig(ProfileValidatePath),
		Rules:         rule(admissionregistrationv1.Create, admissionregistrationv1.Update, admissionregistrationv1.Delete),
		FailurePolicy: &fail, SideEffects: &none, TimeoutSeconds: &timeout, AdmissionReviewVersions: []string{"v1"},
	}}
	mutating.SetGroupVersionKind(admissionregistrationv1.SchemeGroupVersion.WithKind("MutatingWebhookConfiguration"))
	validating.SetGroupVersionKind(admissionregistrationv1.SchemeGroupVersion.WithKind("ValidatingWebhookConfiguration"))
	for _, obj := range []client.Object{mutating, validating} {
		if err := c.Patch(ctx, obj, client.Apply, client.FieldOwner("fargo"), client.ForceOwnership); err != nil {
			return fmt.Errorf("registering webhook %s: %w", obj.GetName(), err)
		}
	}
	return nil
}
