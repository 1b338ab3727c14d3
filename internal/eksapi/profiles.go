package eksapi

import (
	"context"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/profile"
	"github.com/fargo-dev/fargo/internal/profile/lifecycle"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// maxTokenLen bounds clientRequestToken (the SDKs send a 36-character UUID).
const maxTokenLen = 64

func (s *Server) createProfile(ctx context.Context, r *http.Request) (any, *apiError) {
	req := createRequest{}
	if aerr := decode(r, &req); aerr != nil {
		return nil, aerr
	}
	name := req.FargateProfileName
	p := &v1alpha1.FargateProfile{}
	p.Name = name
	p.Spec = v1alpha1.FargateProfileSpec{PodExecutionRoleArn: req.PodExecutionRoleArn, Subnets: req.Subnets, Tags: req.Tags}
	for _, sel := range req.Selectors {
		p.Spec.Selectors = append(p.Spec.Selectors, v1alpha1.FargateProfileSelector{Namespace: sel.Namespace, Labels: sel.Labels})
	}
	if req.PodExecutionRoleArn == "" {
		return nil, invalidParameter("podExecutionRoleArn is required", s.cluster.Name)
	}
	if n := len(req.ClientRequestToken); n > maxTokenLen {
		return nil, invalidParameter(fmt.Sprintf("clientRequestToken is %d characters long; at most %d are allowed", n, maxTokenLen), s.cluster.Name)
	}
	profile.Default(&p.Spec, s.cluster)
	if perr := profile.Validate(name, &p.Spec, s.cluster); perr != nil {
		return nil, fromRule(perr, s.cluster.Name, name)
	}
	existing := &v1alpha1.FargateProfileList{}
	if err := s.client.List(ctx, existing); err != nil {
		return nil, serverError(err)
	}
	for i := range existing.Items {
		if e := &existing.Items[i]; e.Name == name && req.ClientRequestToken != "" && e.Annotations[v1alpha1.AnnotationClientRequestToken] == req.ClientRequestToken {
			return profileResponse{s.toAPI(e)}, nil // an idempotent retry
		}
	}
	if perr := profile.CheckCreate(name, existing.Items, s.cluster); perr != nil {
		return nil, fromRule(perr, s.cluster.Name, name)
	}
	if req.ClientRequestToken != "" {
		p.Annotations = map[string]string{v1alpha1.AnnotationClientRequestToken: req.ClientRequestToken}
	}
	if err := s.client.Create(ctx, p); err != nil {
		return nil, s.kubeError(err, name)
	}
	return profileResponse{s.toAPI(p)}, nil
}

func (s *Server) describeProfile(ctx context.Context, r *http.Request) (any, *apiError) {
	p, aerr := s.get(ctx, r.PathValue("profile"))
	if aerr != nil {
		return nil, aerr
	}
	return profileResponse{s.toAPI(p)}, nil
}

func (s *Server) deleteProfile(ctx context.Context, r *http.Request) (any, *apiError) {
	name := r.PathValue("profile")
	p, aerr := s.get(ctx, name)
	if aerr != nil {
		return nil, aerr
	}
	existing := &v1alpha1.FargateProfileList{}
	if err := s.client.List(ctx, existing); err != nil {
		return nil, serverError(err)
	}
	if perr := profile.CheckDelete(name, existing.Items, s.cluster); perr != nil {
		return nil, fromRule(perr, s.cluster.Name, name)
	}
	if err := s.client.Delete(ctx, p); err != nil && !apierrors.IsNotFound(err) {
		return nil, s.kubeError(err, name)
	}
	out := s.toAPI(p)
	out.Status = string(v1alpha1.ProfileDeleting)
	return profileResponse{out}, nil
}

func (s *Server) listProfiles(ctx context.Context, r *http.Request) (any, *apiError) {
	max, after, aerr := s.page(r)
	if aerr != nil {
		return nil, aerr
	}
	l := &v1alpha1.FargateProfileList{}
	if err := s.client.List(ctx, l); err != nil {
		return nil, serverError(err)
	}
	names := make([]string, 0, len(l.Items))
	for _, p := range l.Items {
		names = append(names, p.Name)
	}
	page, next := pageOf(names, after, max)
	return listResponse{FargateProfileNames: page, NextToken: next}, nil
}

func (s *Server) get(ctx context.Context, name string) (*v1alpha1.FargateProfile, *apiError) {
	if !profile.ValidName(name) {
		return nil, s.notFound(name) // no profile can have it: not a question for the API server
	}
	p := &v1alpha1.FargateProfile{}
	if err := s.client.Get(ctx, client.ObjectKey{Name: name}, p); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, s.notFound(name)
		}
		return nil, serverError(err)
	}
	return p, nil
}

func (s *Server) notFound(name string) *apiError {
	return &apiError{Status: http.StatusNotFound, Type: profile.ResourceNotFound,
		Message: fmt.Sprintf("No Fargate Profile found with name: %s.", name), ClusterName: s.cluster.Name, FargateProfileName: name}
}

// kubeError maps an API-server error, such as a webhook's refusal in a race.
func (s *Server) kubeError(err error, name string) *apiError {
	switch {
	case apierrors.IsAlreadyExists(err):
		return fromRule(&profile.Error{Code: profile.ResourceInUse, Message: fmt.Sprintf("Fargate Profile already exists with name %s in cluster %s", name, s.cluster.Name)}, s.cluster.Name, name)
	case apierrors.IsNotFound(err):
		return s.notFound(name)
	case apierrors.IsForbidden(err), apierrors.IsInvalid(err), apierrors.IsBadRequest(err), apierrors.IsConflict(err):
		return &apiError{Status: http.StatusBadRequest, Type: profile.InvalidParameter, Message: err.Error(), ClusterName: s.cluster.Name, FargateProfileName: name}
	}
	return serverError(err)
}

// toAPI renders a profile as the EKS API does.
func (s *Server) toAPI(p *v1alpha1.FargateProfile) fargateProfile {
	out := fargateProfile{
		FargateProfileName:  p.Name,
		FargateProfileArn:   p.Status.FargateProfileArn,
		ClusterName:         s.cluster.Name,
		PodExecutionRoleArn: p.Spec.PodExecutionRoleArn,
		Subnets:             p.Spec.Subnets,
		Status:              string(profile.State(p)),
		Tags:                p.Spec.Tags,
	}
	if out.FargateProfileArn == "" && p.UID != "" {
		out.FargateProfileArn = lifecycle.ARN(s.cluster, p)
	}
	created := p.CreationTimestamp.Time
	if p.Status.CreatedAt != nil {
		created = p.Status.CreatedAt.Time
	}
	if !created.IsZero() {
		t := epochSeconds(created)
		out.CreatedAt = &t
	}
	for _, sel := range p.Spec.Selectors {
		out.Selectors = append(out.Selectors, selector{Namespace: sel.Namespace, Labels: sel.Labels})
	}
	if len(p.Status.Health.Issues) > 0 {
		out.Health = &struct {
			Issues []issue `json:"issues"`
		}{}
		for _, i := range p.Status.Health.Issues {
			out.Health.Issues = append(out.Health.Issues, issue{Code: i.Code, Message: i.Message, ResourceIDs: i.ResourceIds})
		}
	}
	return out
}
