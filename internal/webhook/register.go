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

// configName names fargo's webhook configurations.
const configName = "fargo-fargateprofiles"

// Register creates or updates the webhook configurations that send FargateProfile
// requests to fargo at https://127.0.0.1:port, trusted through caBundle.
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
	mutating.Webhooks = []admissionregistrationv1.MutatingWebhook{{
		Name: "default.fargateprofiles.fargo.dev", ClientConfig: clientConfig(ProfileDefaultPath),
		Rules: rule(admissionregistrationv1.Create), FailurePolicy: &fail, SideEffects: &none,
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
