package eksapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/uuid"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/profile"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// Node groups (ListNodegroups, DescribeNodegroup, UpdateNodegroupConfig) over
// the NodeGroup objects; fargo's reconciler scales the nodes.

type scalingConfig struct {
	MinSize     *int `json:"minSize,omitempty"`
	MaxSize     *int `json:"maxSize,omitempty"`
	DesiredSize *int `json:"desiredSize,omitempty"`
}

type taint struct {
	Key    string `json:"key,omitempty"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect,omitempty"`
}

type nodegroup struct {
	NodegroupName string            `json:"nodegroupName"`
	NodegroupArn  string            `json:"nodegroupArn"`
	ClusterName   string            `json:"clusterName"`
	Version       string            `json:"version,omitempty"`
	CreatedAt     *epochSeconds     `json:"createdAt,omitempty"`
	Status        string            `json:"status"`
	CapacityType  string            `json:"capacityType"`
	ScalingConfig scalingConfig     `json:"scalingConfig"`
	InstanceTypes []string          `json:"instanceTypes"`
	Subnets       []string          `json:"subnets"`
	AmiType       string            `json:"amiType"`
	NodeRole      string            `json:"nodeRole"`
	Labels        map[string]string `json:"labels,omitempty"`
	Taints        []taint           `json:"taints,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
	Health        struct {
		Issues []issue `json:"issues"`
	} `json:"health"`
}

type nodegroupResponse struct {
	Nodegroup nodegroup `json:"nodegroup"`
}

type nodegroupListResponse struct {
	Nodegroups []string `json:"nodegroups"`
	NextToken  *string  `json:"nextToken"`
}

type updateConfigRequest struct {
	ScalingConfig *scalingConfig `json:"scalingConfig"`
	Labels        *struct {
		AddOrUpdateLabels map[string]string `json:"addOrUpdateLabels"`
		RemoveLabels      []string          `json:"removeLabels"`
	} `json:"labels"`
	Taints *struct {
		AddOrUpdateTaints []taint `json:"addOrUpdateTaints"`
		RemoveTaints      []taint `json:"removeTaints"`
	} `json:"taints"`
	ClientRequestToken string `json:"clientRequestToken"`
}

type updateParam struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type update struct {
	ID        string        `json:"id"`
	Status    string        `json:"status"`
	Type      string        `json:"type"`
	Params    []updateParam `json:"params"`
	CreatedAt *epochSeconds `json:"createdAt"`
	Errors    []issue       `json:"errors"`
}

type updateResponse struct {
	Update update `json:"update"`
}

// EKS's names for taint effects.
var taintEffects = map[string]string{"NoSchedule": "NO_SCHEDULE", "NoExecute": "NO_EXECUTE", "PreferNoSchedule": "PREFER_NO_SCHEDULE"}

func (s *Server) listNodegroups(ctx context.Context, r *http.Request) (any, *apiError) {
	max, after, aerr := s.page(r)
	if aerr != nil {
		return nil, aerr
	}
	l := &v1alpha1.NodeGroupList{}
	if err := s.client.List(ctx, l); err != nil {
		return nil, serverError(err)
	}
	names := make([]string, 0, len(l.Items))
	for _, g := range l.Items {
		names = append(names, g.Name)
	}
	page, next := pageOf(names, after, max)
	return nodegroupListResponse{Nodegroups: page, NextToken: next}, nil
}

func (s *Server) describeNodegroup(ctx context.Context, r *http.Request) (any, *apiError) {
	g, aerr := s.getNodegroup(ctx, r.PathValue("nodegroup"))
	if aerr != nil {
		return nil, aerr
	}
	return nodegroupResponse{s.nodegroupToAPI(g)}, nil
}

// updateNodegroupConfig changes the scaling configuration, labels and taints;
// fargo's reconciler scales the group and relabels its nodes. Update settings
// and node repair are not offered, and the strict decoding says so.
func (s *Server) updateNodegroupConfig(ctx context.Context, r *http.Request) (any, *apiError) {
	req := updateConfigRequest{}
	if aerr := decode(r, &req); aerr != nil {
		return nil, aerr
	}
	name := r.PathValue("nodegroup")
	if n := len(req.ClientRequestToken); n > maxTokenLen {
		return nil, invalidParameter(fmt.Sprintf("clientRequestToken is %d characters long; at most %d are allowed", n, maxTokenLen), s.cluster.Name)
	}
	if req.ScalingConfig == nil && req.Labels == nil && req.Taints == nil {
		return nil, invalidParameter("give at least one of scalingConfig, labels and taints to update", s.cluster.Name)
	}
	g, aerr := s.getNodegroup(ctx, name)
	if aerr != nil {
		return nil, aerr
	}
	next := g.DeepCopy()
	var params []updateParam
	if req.ScalingConfig != nil {
		applyScaling(&next.Spec.ScalingConfig, req.ScalingConfig)
		for _, f := range []struct {
			name string
			v    *int
		}{{"MinSize", req.ScalingConfig.MinSize}, {"MaxSize", req.ScalingConfig.MaxSize}, {"DesiredSize", req.ScalingConfig.DesiredSize}} {
			if f.v != nil {
				params = append(params, updateParam{Type: f.name, Value: strconv.Itoa(*f.v)})
			}
		}
		if msg := checkScaling(next.Spec.ScalingConfig); msg != "" {
			return nil, invalidParameter(msg, s.cluster.Name)
		}
	}
	if l := req.Labels; l != nil {
		if msg := labelError(l.AddOrUpdateLabels); msg != "" {
			return nil, invalidParameter(msg, s.cluster.Name)
		}
		next.Spec.Labels = maps.Clone(next.Spec.Labels)
		if next.Spec.Labels == nil {
			next.Spec.Labels = map[string]string{}
		}
		for _, k := range l.RemoveLabels {
			delete(next.Spec.Labels, k)
		}
		maps.Copy(next.Spec.Labels, l.AddOrUpdateLabels)
		params = appendJSONParam(params, "LabelsToAdd", l.AddOrUpdateLabels, len(l.AddOrUpdateLabels) > 0)
		params = appendJSONParam(params, "LabelsToRemove", l.RemoveLabels, len(l.RemoveLabels) > 0)
	}
	if t := req.Taints; t != nil {
		add, msg := kubeTaints(t.AddOrUpdateTaints)
		if msg == "" {
			var remove []corev1.Taint
			remove, msg = kubeTaints(t.RemoveTaints)
			next.Spec.Taints = slices.DeleteFunc(slices.Clone(next.Spec.Taints), func(have corev1.Taint) bool {
				return slices.ContainsFunc(append(remove, add...), func(o corev1.Taint) bool { return o.Key == have.Key && o.Effect == have.Effect })
			})
			next.Spec.Taints = append(next.Spec.Taints, add...)
		}
		if msg != "" {
			return nil, invalidParameter(msg, s.cluster.Name)
		}
		params = appendJSONParam(params, "TaintsToAdd", t.AddOrUpdateTaints, len(t.AddOrUpdateTaints) > 0)
		params = appendJSONParam(params, "TaintsToRemove", t.RemoveTaints, len(t.RemoveTaints) > 0)
	}
	if err := s.client.Patch(ctx, next, client.MergeFrom(g)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, s.nodegroupNotFound(name)
		}
		return nil, serverError(err)
	}
	now := epochSeconds(s.now())
	return updateResponse{update{ID: string(uuid.NewUUID()), Status: "InProgress", Type: "ConfigUpdate", Params: params, CreatedAt: &now, Errors: []issue{}}}, nil
}

func (s *Server) getNodegroup(ctx context.Context, name string) (*v1alpha1.NodeGroup, *apiError) {
	if !profile.ValidName(name) {
		return nil, s.nodegroupNotFound(name)
	}
	g := &v1alpha1.NodeGroup{}
	if err := s.client.Get(ctx, keyOf(name), g); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, s.nodegroupNotFound(name)
		}
		return nil, serverError(err)
	}
	return g, nil
}

// appendJSONParam adds an update parameter whose value is v as JSON, as EKS
// reports label and taint changes.
func appendJSONParam(params []updateParam, typ string, v any, given bool) []updateParam {
	if !given {
		return params
	}
	data, _ := json.Marshal(v)
	return append(params, updateParam{Type: typ, Value: string(data)})
}

func keyOf(name string) client.ObjectKey { return client.ObjectKey{Name: name} }

func (s *Server) nodegroupNotFound(name string) *apiError {
	return &apiError{Status: http.StatusNotFound, Type: profile.ResourceNotFound,
		Message: fmt.Sprintf("No node group found for name: %s.", name), ClusterName: s.cluster.Name, NodegroupName: name}
}

// nodegroupToAPI renders a group as the EKS API does.
func (s *Server) nodegroupToAPI(g *v1alpha1.NodeGroup) nodegroup {
	sc := g.Spec.ScalingConfig
	created := epochSeconds(g.CreationTimestamp.Time)
	out := nodegroup{NodegroupName: g.Name, ClusterName: s.cluster.Name, Version: s.desc.Version, CreatedAt: &created,
		NodegroupArn: fmt.Sprintf("arn:aws:eks:%s:%s:nodegroup/%s/%s/%s", s.cluster.Region, s.cluster.AccountID, s.cluster.Name, g.Name, g.UID),
		Status:       string(g.Status.Status), CapacityType: "ON_DEMAND", InstanceTypes: []string{g.Spec.InstanceType},
		ScalingConfig: scalingConfig{MinSize: &sc.MinSize, MaxSize: &sc.MaxSize, DesiredSize: &sc.DesiredSize},
		Subnets:       g.Spec.Subnets, AmiType: "AL2023_x86_64_STANDARD", Labels: g.Spec.Labels, Tags: g.Spec.Tags,
		NodeRole: fmt.Sprintf("arn:aws:iam::%s:role/eksctl-%s-nodegroup-%s-NodeInstanceRole", s.cluster.AccountID, s.cluster.Name, g.Name)}
	if out.Status == "" {
		out.Status = string(v1alpha1.NodeGroupCreating)
	}
	if g.Spec.NodeRole != "" {
		out.NodeRole = g.Spec.NodeRole
	}
	for _, t := range g.Spec.Taints {
		out.Taints = append(out.Taints, taint{Key: t.Key, Value: t.Value, Effect: taintEffects[string(t.Effect)]})
	}
	out.Health.Issues = []issue{}
	if g.Status.Status == v1alpha1.NodeGroupDegraded || g.Status.Status == v1alpha1.NodeGroupDeleteFailed {
		out.Health.Issues = append(out.Health.Issues, issue{Code: "InternalFailure", Message: g.Status.Message, ResourceIDs: []string{g.Name}})
	}
	return out
}

// page reads maxResults (1 to 100, default 100) and nextToken (the last name of
// the previous page) of a List request.
func (s *Server) page(r *http.Request) (int, string, *apiError) {
	max := 100
	if v := r.URL.Query().Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return 0, "", invalidParameter(fmt.Sprintf("maxResults must be an integer from 1 to 100, got %q", v), s.cluster.Name)
		}
		max = n
	}
	after := ""
	if tok := r.URL.Query().Get("nextToken"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			return 0, "", invalidParameter("nextToken is invalid; pass the token of the previous response unchanged", s.cluster.Name)
		}
		after = string(b)
	}
	return max, after, nil
}

// pageOf is the sorted names after after, at most max, and the next page's token.
func pageOf(names []string, after string, max int) ([]string, *string) {
	sort.Strings(names)
	out := make([]string, 0, len(names))
	for _, n := range names {
		if n > after {
			out = append(out, n)
		}
	}
	if len(out) > max {
		tok := base64.RawURLEncoding.EncodeToString([]byte(out[max-1]))
		return out[:max], &tok
	}
	return out, nil
}
