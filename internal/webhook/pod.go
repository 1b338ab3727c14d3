package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/fargo-dev/fargo/internal/profile"
	"github.com/fargo-dev/fargo/internal/sizing"
	"github.com/fargo-dev/fargo/internal/support"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// PodMutatePath is where the pod webhook is served.
const PodMutatePath = "/pods/mutate"

// PodMutator sends pods that match an ACTIVE profile to the fargate-scheduler, with
// the profile label, and nothing else; pods that cannot run on Fargate are still
// admitted (controllers behave as on EKS) but get a warning kubectl prints at once.
type PodMutator struct {
	// Profiles lists profiles (cached); Reader looks up PVCs for the support check.
	Profiles client.Reader
	Reader   client.Reader
}

type jsonPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// Handle implements admission.Handler.
func (m *PodMutator) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create {
		return admission.Allowed("")
	}
	pod := &corev1.Pod{}
	if err := json.Unmarshal(req.Object.Raw, pod); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if pod.Namespace == "" {
		pod.Namespace = req.Namespace
	}
	list := &v1alpha1.FargateProfileList{}
	if err := m.Profiles.List(ctx, list); err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	var active []*v1alpha1.FargateProfile
	for i := range list.Items {
		if profile.State(&list.Items[i]) == v1alpha1.ProfileActive {
			active = append(active, &list.Items[i])
		}
	}
	chosen := profile.Select(active, profile.Pod{Namespace: pod.Namespace, Labels: pod.Labels, Annotations: pod.Annotations})
	if chosen == nil {
		return admission.Allowed("")
	}
	patch := []jsonPatchOp{{Op: "add", Path: "/spec/schedulerName", Value: v1alpha1.SchedulerName}}
	if pod.Labels == nil {
		patch = append(patch, jsonPatchOp{Op: "add", Path: "/metadata/labels", Value: map[string]string{v1alpha1.LabelProfile: chosen.Name}})
	} else {
		patch = append(patch, jsonPatchOp{Op: "add", Path: "/metadata/labels/" + escapePointer(v1alpha1.LabelProfile), Value: chosen.Name})
	}
	raw, err := json.Marshal(patch)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	pt := admissionv1.PatchTypeJSONPatch
	resp := admission.Allowed("")
	resp.Patch, resp.PatchType = raw, &pt
	resp.Warnings = m.warnings(ctx, pod, chosen.Name)
	return resp
}

// warnings tells the user at once what the fargate-scheduler will refuse.
func (m *PodMutator) warnings(ctx context.Context, pod *corev1.Pod, profileName string) []string {
	var w []string
	lookup := func(ns, name string) (*corev1.PersistentVolumeClaim, error) {
		pvc := &corev1.PersistentVolumeClaim{}
		err := m.Reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, pvc)
		return pvc, err
	}
	if msg := support.Check(pod, lookup); msg != "" {
		w = append(w, "Fargate profile "+profileName+" matches this pod, but it will stay Pending: "+msg)
	}
	if _, err := sizing.ForPod(&pod.Spec); errors.Is(err, sizing.ErrTooLarge) {
		w = append(w, "Fargate profile "+profileName+" matches this pod, but it will stay Pending: "+err.Error())
	}
	return w
}

// escapePointer escapes a map key for a JSON pointer (RFC 6901).
func escapePointer(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}
