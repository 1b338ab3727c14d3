package webhook

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/fargo-dev/fargo/internal/scheme"
)

// apiServer is a client whose creates go through d, as the API server's
// admission does once it has the webhook (after calls creates).
func apiServer(t *testing.T, d *ProfileDefaulter, after int) client.Client {
	calls := 0
	return fake.NewClientBuilder().WithScheme(scheme.Scheme).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(ctx context.Context, _ client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			calls++
			if calls <= after {
				return nil // not registered yet: the object passes unmutated
			}
			raw, err := json.Marshal(obj)
			if err != nil {
				t.Fatal(err)
			}
			co := &client.CreateOptions{}
			co.ApplyOptions(opts)
			dry := len(co.DryRun) > 0
			d.Handle(ctx, admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{Operation: admissionv1.Create,
				Namespace: obj.GetNamespace(), Object: runtime.RawExtension{Raw: raw}, DryRun: &dry}})
			return nil
		}}).Build()
}

func TestProbeWaitsForTheAPIServer(t *testing.T) {
	d := &ProfileDefaulter{Probe: NewProbe()}
	start := time.Now()
	if err := d.Probe.Wait(context.Background(), apiServer(t, d, 3), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// Three creates passed unseen: the fourth, after three pauses, reached the webhook.
	if d := time.Since(start); d < 3*probeEvery {
		t.Errorf("Wait returned after %s, before the webhook saw a probe", d)
	}
}

func TestProbeTimesOut(t *testing.T) {
	d := &ProfileDefaulter{Probe: NewProbe()}
	err := d.Probe.Wait(context.Background(), apiServer(t, d, 1<<30), 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "did not call fargo's webhooks") {
		t.Fatalf("Wait = %v, want a timeout naming the webhook", err)
	}
}

// A profile with the probe annotation that is not a dry run is an ordinary
// profile: defaulted, not taken for a probe.
func TestProbeNeedsDryRun(t *testing.T) {
	d := &ProfileDefaulter{Probe: NewProbe()}
	raw := []byte(`{"apiVersion":"fargo.dev/v1alpha1","kind":"FargateProfile","metadata":{"name":"p","annotations":{"` + AnnotationProbe + `":"true"}},"spec":{"selectors":[{"namespace":"x"}]}}`)
	no := false
	resp := d.Handle(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{Operation: admissionv1.Create,
		Object: runtime.RawExtension{Raw: raw}, DryRun: &no}})
	if !resp.Allowed {
		t.Errorf("profile refused: %v", resp.Result)
	}
	select {
	case <-d.Probe.seen:
		t.Error("a persisted profile with the probe annotation was taken for the probe")
	default:
	}
}
