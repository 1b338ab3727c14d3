// Package webhook serves fargo's admission webhooks: defaulting and validation of
// FargateProfiles (the same rules the EKS API applies, from package profile).
package webhook

import (
	"context"
	"encoding/json"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/fargo-dev/fargo/internal/profile"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// Paths the webhooks are served on.
const (
	ProfileDefaultPath  = "/fargateprofiles/default"
	ProfileValidatePath = "/fargateprofiles/validate"
)

// ProfileDefaulter fills subnets and role on create, as EKS does.
type ProfileDefaulter struct {
	Cluster profile.Cluster
	// Probe, if set, learns of the server's dry-run probe profiles.
	Probe *Probe
}

// Handle implements admission.Handler.
func (d *ProfileDefaulter) Handle(_ context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create {
		return admission.Allowed("")
	}
	p := &v1alpha1.FargateProfile{}
	if err := json.Unmarshal(req.Object.Raw, p); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if p.Annotations[AnnotationProbe] != "" && req.DryRun != nil && *req.DryRun {
		d.Probe.saw()
		return admission.Allowed("")
	}
	profile.Default(&p.Spec, d.Cluster)
	out, err := json.Marshal(p)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	return admission.PatchResponseFromRaw(req.Object.Raw, out)
}

// ProfileValidator applies the profile rules to create, update and delete.
type ProfileValidator struct {
	Cluster profile.Cluster
	// Reader reads profiles uncached, so two quick creates see each other.
	Reader client.Reader
}

// Handle implements admission.Handler.
func (v *ProfileValidator) Handle(ctx context.Context, req admission.Request) admission.Response {
	var perr *profile.Error
	switch req.Operation {
	case admissionv1.Create:
		p := &v1alpha1.FargateProfile{}
		if err := json.Unmarshal(req.Object.Raw, p); err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
		if perr = profile.Validate(p.Name, &p.Spec, v.Cluster); perr == nil {
			existing, err := v.list(ctx)
			if err != nil {
				return admission.Errored(http.StatusInternalServerError, err)
			}
			perr = profile.CheckCreate(p.Name, existing, v.Cluster)
		}
	case admissionv1.Update:
		old, updated := &v1alpha1.FargateProfile{}, &v1alpha1.FargateProfile{}
		if err := json.Unmarshal(req.OldObject.Raw, old); err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
		if err := json.Unmarshal(req.Object.Raw, updated); err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
		perr = profile.CheckUpdate(&old.Spec, &updated.Spec, updated.Name)
	case admissionv1.Delete:
		existing, err := v.list(ctx)
		if err != nil {
			return admission.Errored(http.StatusInternalServerError, err)
		}
		perr = profile.CheckDelete(req.Name, existing, v.Cluster)
	}
	if perr != nil {
		resp := admission.Denied(perr.Error())
		resp.Result.Code = HTTPStatus(perr.Code)
		return resp
	}
	return admission.Allowed("")
}

func (v *ProfileValidator) list(ctx context.Context) ([]v1alpha1.FargateProfile, error) {
	l := &v1alpha1.FargateProfileList{}
	if err := v.Reader.List(ctx, l); err != nil {
		return nil, err
	}
	return l.Items, nil
}

// HTTPStatus is the status EKS answers an exception type with.
func HTTPStatus(code string) int32 {
	switch code {
	case profile.ResourceInUse:
		return http.StatusConflict
	case profile.ResourceNotFound:
		return http.StatusNotFound
	}
	return http.StatusBadRequest
}
