package eksapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/profile"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// profileByARN finds the profile a tag operation names.
func (s *Server) profileByARN(ctx context.Context, arn string) (*v1alpha1.FargateProfile, *apiError) {
	l := &v1alpha1.FargateProfileList{}
	if err := s.client.List(ctx, l); err != nil {
		return nil, serverError(err)
	}
	for i := range l.Items {
		if l.Items[i].Status.FargateProfileArn == arn {
			return &l.Items[i], nil
		}
	}
	return nil, &apiError{Status: http.StatusNotFound, Type: "NotFoundException", Message: fmt.Sprintf("Resource %s not found; tags can be set on Fargate profile ARNs of cluster %s", arn, s.cluster.Name)}
}

func (s *Server) listTags(ctx context.Context, r *http.Request) (any, *apiError) {
	p, aerr := s.profileByARN(ctx, r.PathValue("arn"))
	if aerr != nil {
		return nil, aerr
	}
	tags := p.Spec.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	return tagsResponse{Tags: tags}, nil
}

func (s *Server) tagResource(ctx context.Context, r *http.Request) (any, *apiError) {
	req := tagRequest{}
	if aerr := decode(r, &req); aerr != nil {
		return nil, aerr
	}
	if len(req.Tags) == 0 {
		return nil, &apiError{Status: http.StatusBadRequest, Type: "BadRequestException", Message: "tags must contain at least one tag"}
	}
	return s.updateTags(ctx, r.PathValue("arn"), func(tags map[string]string) {
		for k, v := range req.Tags {
			tags[k] = v
		}
	})
}

func (s *Server) untagResource(ctx context.Context, r *http.Request) (any, *apiError) {
	keys := r.URL.Query()["tagKeys"]
	if len(keys) == 0 {
		return nil, &apiError{Status: http.StatusBadRequest, Type: "BadRequestException", Message: "tagKeys must name at least one tag"}
	}
	return s.updateTags(ctx, r.PathValue("arn"), func(tags map[string]string) {
		for _, k := range keys {
			delete(tags, k)
		}
	})
}

// updateTags applies change to the profile's tags with a merge patch (tags are the
// one mutable part of a profile) and answers with an empty object, as EKS does.
func (s *Server) updateTags(ctx context.Context, arn string, change func(map[string]string)) (any, *apiError) {
	p, aerr := s.profileByARN(ctx, arn)
	if aerr != nil {
		return nil, aerr
	}
	tags := map[string]string{}
	for k, v := range p.Spec.Tags {
		tags[k] = v
	}
	change(tags)
	if perr := profile.ValidateTags(tags); perr != nil {
		return nil, &apiError{Status: http.StatusBadRequest, Type: "BadRequestException", Message: perr.Message}
	}
	// A merge patch replaces the whole map when old keys are listed as null.
	patchTags := map[string]any{}
	for k := range p.Spec.Tags {
		patchTags[k] = nil
	}
	for k, v := range tags {
		patchTags[k] = v
	}
	body, err := json.Marshal(map[string]any{"spec": map[string]any{"tags": patchTags}})
	if err != nil {
		return nil, serverError(err)
	}
	if err := s.client.Patch(ctx, p, client.RawPatch("application/merge-patch+json", body)); err != nil {
		return nil, s.kubeError(err, p.Name)
	}
	return struct{}{}, nil
}
