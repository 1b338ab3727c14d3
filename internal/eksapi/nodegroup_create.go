package eksapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/fargo-dev/fargo/internal/instancetype"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// CreateNodegroup and DeleteNodegroup: a NodeGroup object is made or deleted,
// and fargo's reconciler starts, or drains and removes, its nodes.

type createNodegroupRequest struct {
	NodegroupName      string            `json:"nodegroupName"`
	ScalingConfig      *scalingConfig    `json:"scalingConfig"`
	Subnets            []string          `json:"subnets"`
	InstanceTypes      []string          `json:"instanceTypes"`
	NodeRole           string            `json:"nodeRole"`
	Labels             map[string]string `json:"labels"`
	Taints             []taint           `json:"taints"`
	Tags               map[string]string `json:"tags"`
	ClientRequestToken string            `json:"clientRequestToken"`
	CapacityType       string            `json:"capacityType"`
	// Accepted as EKS does; fargo's nodes have no disks, AMIs, SSH or rolling
	// updates to configure.
	DiskSize       *int            `json:"diskSize"`
	AmiType        string          `json:"amiType"`
	Version        string          `json:"version"`
	ReleaseVersion string          `json:"releaseVersion"`
	RemoteAccess   json.RawMessage `json:"remoteAccess"`
	UpdateConfig   json.RawMessage `json:"updateConfig"`
	LaunchTemplate json.RawMessage `json:"launchTemplate"`
}

// defaultInstanceType is EKS's when a request names none.
const defaultInstanceType = "t3.medium"

// nodegroupNameRE is EKS's rule for node group names.
var nodegroupNameRE = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9\-_]{0,62}$`)

func (s *Server) createNodegroup(ctx context.Context, r *http.Request) (any, *apiError) {
	req := createNodegroupRequest{}
	if aerr := decode(r, &req); aerr != nil {
		return nil, aerr
	}
	ng, aerr := s.nodegroupFromRequest(&req)
	if aerr != nil {
		return nil, aerr
	}
	if req.ClientRequestToken != "" {
		existing := &v1alpha1.NodeGroup{}
		if err := s.client.Get(ctx, keyOf(ng.Name), existing); err == nil && existing.Annotations[v1alpha1.AnnotationClientRequestToken] == req.ClientRequestToken {
			return nodegroupResponse{s.nodegroupToAPI(existing)}, nil // an idempotent retry
		}
		ng.Annotations = map[string]string{v1alpha1.AnnotationClientRequestToken: req.ClientRequestToken}
	}
	if err := s.client.Create(ctx, ng); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, &apiError{Status: http.StatusConflict, Type: "ResourceInUseException", ClusterName: s.cluster.Name, NodegroupName: ng.Name,
				Message: fmt.Sprintf("NodeGroup already exists with name %s and cluster name %s", ng.Name, s.cluster.Name)}
		}
		return nil, serverError(err)
	}
	return nodegroupResponse{s.nodegroupToAPI(ng)}, nil
}

// nodegroupFromRequest checks a CreateNodegroup request as EKS does and turns
// it into a NodeGroup.
func (s *Server) nodegroupFromRequest(req *createNodegroupRequest) (*v1alpha1.NodeGroup, *apiError) {
	bad := func(format string, a ...any) *apiError {
		e := invalidParameter(fmt.Sprintf(format, a...), s.cluster.Name)
		e.NodegroupName = req.NodegroupName
		return e
	}
	switch {
	case !nodegroupNameRE.MatchString(req.NodegroupName):
		return nil, bad("nodegroupName %q is invalid: 1 to 63 letters, digits, hyphens and underscores, starting with a letter or digit", req.NodegroupName)
	case req.NodeRole == "":
		return nil, bad("nodeRole is required")
	case len(req.Subnets) == 0:
		return nil, bad("subnets is required: name at least one subnet of the cluster's VPC (%s)", strings.Join(s.desc.SubnetIDs, ", "))
	case len(req.ClientRequestToken) > maxTokenLen:
		return nil, bad("clientRequestToken is %d characters long; at most %d are allowed", len(req.ClientRequestToken), maxTokenLen)
	case req.CapacityType != "" && req.CapacityType != "ON_DEMAND":
		return nil, bad("capacityType %s is not offered: fargo's nodes are ON_DEMAND", req.CapacityType)
	case len(req.LaunchTemplate) > 0 && string(req.LaunchTemplate) != "null":
		return nil, bad("launchTemplate is not supported: fargo's nodes are not EC2 instances")
	case len(req.InstanceTypes) > 1:
		return nil, bad("instanceTypes lists %d types; fargo's node groups have one instance type", len(req.InstanceTypes))
	}
	ng := &v1alpha1.NodeGroup{ObjectMeta: metav1.ObjectMeta{Name: req.NodegroupName},
		Spec: v1alpha1.NodeGroupSpec{InstanceType: defaultInstanceType, Subnets: req.Subnets, Labels: req.Labels, Tags: req.Tags, NodeRole: req.NodeRole,
			ScalingConfig: v1alpha1.ScalingConfig{MinSize: 1, MaxSize: 2, DesiredSize: 2}}}
	if len(req.InstanceTypes) == 1 {
		ng.Spec.InstanceType = req.InstanceTypes[0]
	}
	if _, err := instancetype.Lookup(ng.Spec.InstanceType); err != nil {
		return nil, bad("%v", err)
	}
	for _, id := range req.Subnets {
		if _, ok := s.cluster.Subnets[id]; !ok {
			return nil, bad("subnet %s is not in the cluster's VPC (%s)", id, strings.Join(s.desc.SubnetIDs, ", "))
		}
	}
	if sc := req.ScalingConfig; sc != nil {
		applyScaling(&ng.Spec.ScalingConfig, sc)
	}
	if msg := checkScaling(ng.Spec.ScalingConfig); msg != "" {
		return nil, bad("%s", msg)
	}
	if msg := labelError(req.Labels); msg != "" {
		return nil, bad("%s", msg)
	}
	taints, msg := kubeTaints(req.Taints)
	if msg != "" {
		return nil, bad("%s", msg)
	}
	ng.Spec.Taints = taints
	return ng, nil
}

// deleteNodegroup deletes the group; its nodes are drained and removed while
// it is DELETING.
func (s *Server) deleteNodegroup(ctx context.Context, r *http.Request) (any, *apiError) {
	name := r.PathValue("nodegroup")
	g, aerr := s.getNodegroup(ctx, name)
	if aerr != nil {
		return nil, aerr
	}
	if err := s.client.Delete(ctx, g); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, s.nodegroupNotFound(name)
		}
		return nil, serverError(err)
	}
	out := s.nodegroupToAPI(g)
	out.Status = string(v1alpha1.NodeGroupDeleting)
	return nodegroupResponse{out}, nil
}

// labelError says what is wrong with labels, or "".
func labelError(labels map[string]string) string {
	for k, v := range labels {
		if errs := append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...); len(errs) > 0 {
			return fmt.Sprintf("label %s=%s: %s", k, v, strings.Join(errs, "; "))
		}
	}
	return ""
}

// kubeTaints turns EKS taints into Kubernetes ones, or says what is wrong.
func kubeTaints(in []taint) ([]corev1.Taint, string) {
	var out []corev1.Taint
	for _, t := range in {
		effect := ""
		for k, v := range taintEffects {
			if v == t.Effect {
				effect = k
			}
		}
		if effect == "" {
			return nil, fmt.Sprintf("taint %s: effect %q is not one of NO_SCHEDULE, NO_EXECUTE, PREFER_NO_SCHEDULE", t.Key, t.Effect)
		}
		if errs := validation.IsQualifiedName(t.Key); len(errs) > 0 {
			return nil, fmt.Sprintf("taint key %q: %s", t.Key, strings.Join(errs, "; "))
		}
		out = append(out, corev1.Taint{Key: t.Key, Value: t.Value, Effect: corev1.TaintEffect(effect)})
	}
	return out, ""
}

// applyScaling sets the members the request gives.
func applyScaling(into *v1alpha1.ScalingConfig, sc *scalingConfig) {
	for _, f := range []struct {
		v    *int
		into *int
	}{{sc.MinSize, &into.MinSize}, {sc.MaxSize, &into.MaxSize}, {sc.DesiredSize, &into.DesiredSize}} {
		if f.v != nil {
			*f.into = *f.v
		}
	}
}

// checkScaling is EKS's rule for a scaling configuration, or "".
func checkScaling(sc v1alpha1.ScalingConfig) string {
	switch {
	case sc.MinSize < 0 || sc.DesiredSize < 0:
		return "minSize and desiredSize cannot be negative"
	case sc.MaxSize < 1:
		return "maxSize must be at least 1"
	case sc.MinSize > sc.DesiredSize:
		return fmt.Sprintf("Minimum capacity %d can't be greater than desired size %d", sc.MinSize, sc.DesiredSize)
	case sc.DesiredSize > sc.MaxSize:
		return fmt.Sprintf("Desired capacity %d can't be greater than max size %d", sc.DesiredSize, sc.MaxSize)
	}
	return ""
}
