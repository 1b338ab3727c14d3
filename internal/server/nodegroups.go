package server

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/airgap"
	"github.com/fargo-dev/fargo/internal/clusterconfig"
	"github.com/fargo-dev/fargo/internal/nodegroup"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// nodeGroupTimeout bounds how long start-up waits for a group's nodes.
const nodeGroupTimeout = 3 * time.Minute

// newNodeGroups prepares the node groups when this machine can run them: they
// need the built-in host with a runtime that runs processes, as root. Otherwise,
// when the config has groups, it says why they are not started.
func (s *started) newNodeGroups(ctx context.Context) error {
	if why := s.nodeGroupsBlocked(); why != "" {
		if len(s.cluster.ManagedNodeGroups) > 0 {
			fmt.Fprintf(s.out, "note: node groups not started: %s; pods that match no Fargate profile stay Pending\n", why)
		}
		s.nodesBlocked = why
		return nil
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the fargo binary for the node groups' kubelets: %w", err)
	}
	kube, err := kubernetes.NewForConfig(s.cp.AdminConfig)
	if err != nil {
		return fmt.Errorf("creating API client: %w", err)
	}
	token, err := nodegroup.BootstrapToken(ctx, kube)
	if err != nil {
		return err
	}
	m, err := nodegroup.NewManager(&nodegroup.Cluster{DataDir: s.cfg.DataDir, LogDir: s.cfg.LogDir, APIServer: s.cp.Endpoint,
		CA: s.cp.CA, CAKey: s.cp.CAKey, DNS: s.cluster.ClusterDNS(), Fargo: self, Token: token, Images: s.nodeImages()}, s.cluster.Metadata.Region)
	if err != nil {
		return err
	}
	s.nodes, s.kube = m, kube
	return nil
}

// nodeImages are the images every node carries besides its pause image.
func (s *started) nodeImages() []airgap.Image {
	if s.dnsImage == nil {
		return nil
	}
	return []airgap.Image{*s.dnsImage}
}

func (s *started) nodeGroupsBlocked() string {
	switch {
	case s.host == nil:
		return "--runtime none runs no node on this machine"
	case !s.host.Runtime.Capabilities().Processes:
		return "runtime " + s.host.Runtime.Name() + " runs no processes (use --runtime containerd)"
	case os.Geteuid() != 0:
		return "a node's kubelet and containerd need root"
	}
	return ""
}

// reserved is what Fargate pods leave of the subnets: the node groups' shares
// and the load balancers' addresses.
func (s *started) reserved(ip net.IP) bool { return s.nodeGroupReserved(ip) || s.lbs.Held(ip) }

// nodeGroupReserved is the node groups' shares of their subnets.
func (s *started) nodeGroupReserved(ip net.IP) bool { return s.nodes != nil && s.nodes.Reserved(ip) }

// setupNodeGroups registers the NodeGroup reconciler; on a machine that runs no
// nodes it marks every group DEGRADED, saying why.
func (s *started) setupNodeGroups(mgr ctrl.Manager) error {
	r := &nodegroup.Reconciler{Client: mgr.GetClient(), Kube: s.kube, Manager: s.nodes, Blocked: s.nodesBlocked,
		Group: func(ng *v1alpha1.NodeGroup) (nodegroup.Group, error) { return nodeGroup(s.cluster, ng) }}
	if err := r.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the node group controller: %w", err)
	}
	return nil
}

// startNodeGroups creates a NodeGroup for each group of the config (one that
// exists is kept: it may have been scaled since) and waits until each is ACTIVE
// (or DEGRADED, a warning), one line per group.
func (s *started) startNodeGroups(ctx context.Context) (string, error) {
	for _, cng := range s.cluster.ManagedNodeGroups {
		ng := NodeGroupObject(s.cluster, cng)
		if err := s.ctrls.client.Create(ctx, ng); err != nil && !apierrors.IsAlreadyExists(err) {
			return "", fmt.Errorf("creating node group %s: %w", ng.Name, err)
		}
	}
	if s.nodes == nil {
		return "", nil // the note at start says why; the groups are DEGRADED
	}
	for _, cng := range s.cluster.ManagedNodeGroups {
		ng := &v1alpha1.NodeGroup{}
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, nodeGroupTimeout, true, func(ctx context.Context) (bool, error) {
			if err := s.ctrls.client.Get(ctx, client.ObjectKey{Name: cng.Name}, ng); err != nil {
				return false, nil
			}
			if ng.Status.Status == v1alpha1.NodeGroupDegraded && ng.Status.ObservedGeneration == ng.Generation {
				return true, nil
			}
			return ng.Status.Status == v1alpha1.NodeGroupActive && len(ng.Status.Nodes) == ng.Spec.ScalingConfig.DesiredSize, nil
		})
		if err == nil && ng.Status.Status == v1alpha1.NodeGroupDegraded {
			// The cluster is still of use (Fargate pods, the other groups); the
			// reconciler keeps retrying.
			fmt.Fprintf(s.out, "warning: %s; node group %s is DEGRADED, retried every 30 s (kubectl get nodegroup %s)\n", ng.Status.Message, ng.Name, ng.Name)
			continue
		}
		if err != nil {
			return "", fmt.Errorf("node group %s not ACTIVE after %s (status %s: %s)", cng.Name, nodeGroupTimeout, ng.Status.Status, ng.Status.Message)
		}
		s.progress("node group "+ng.Name, fmt.Sprintf("%d × %s: %s", len(ng.Status.Nodes), ng.Spec.InstanceType, strings.Join(ng.Status.Nodes, ", ")))
	}
	return "", nil
}

// stopNodeGroups ends the nodes' kubelets and containerds; their pods run on.
func (s *started) stopNodeGroups() {
	if s.nodes != nil {
		if err := s.nodes.Stop(); err != nil {
			fmt.Fprintf(s.out, "warning: %v\n", err)
		}
	}
}

// NodeGroupObject is a config's group as a NodeGroup.
func NodeGroupObject(c *clusterconfig.Cluster, ng clusterconfig.ManagedNodeGroup) *v1alpha1.NodeGroup {
	obj := &v1alpha1.NodeGroup{ObjectMeta: metav1.ObjectMeta{Name: ng.Name},
		Spec: v1alpha1.NodeGroupSpec{InstanceType: ng.InstanceType, Labels: ng.Labels, Tags: ng.Tags,
			ScalingConfig: v1alpha1.ScalingConfig{MinSize: *ng.MinSize, MaxSize: *ng.MaxSize, DesiredSize: *ng.DesiredCapacity}}}
	if obj.Spec.InstanceType == "" && len(ng.InstanceTypes) > 0 {
		obj.Spec.InstanceType = ng.InstanceTypes[0]
	}
	for _, t := range ng.Taints {
		obj.Spec.Taints = append(obj.Spec.Taints, corev1.Taint{Key: t.Key, Value: t.Value, Effect: corev1.TaintEffect(t.Effect)})
	}
	for _, s := range c.NodeGroupSubnets(ng) {
		obj.Spec.Subnets = append(obj.Spec.Subnets, s.ID)
	}
	return obj
}

// nodeGroup resolves a NodeGroup's subnets for the node manager.
func nodeGroup(c *clusterconfig.Cluster, ng *v1alpha1.NodeGroup) (nodegroup.Group, error) {
	sc := ng.Spec.ScalingConfig
	if sc.DesiredSize < sc.MinSize || sc.DesiredSize > sc.MaxSize {
		return nodegroup.Group{}, fmt.Errorf("desiredSize %d is outside minSize %d and maxSize %d", sc.DesiredSize, sc.MinSize, sc.MaxSize)
	}
	g := nodegroup.Group{Name: ng.Name, InstanceType: ng.Spec.InstanceType, Desired: sc.DesiredSize, Labels: ng.Spec.Labels, Taints: ng.Spec.Taints}
	byID := map[string]clusterconfig.SubnetRef{}
	for _, s := range c.Subnets() {
		byID[s.ID] = s
	}
	ids := ng.Spec.Subnets
	if len(ids) == 0 {
		for _, s := range c.NodeGroupSubnets(clusterconfig.ManagedNodeGroup{PrivateNetworking: ng.Spec.PrivateNetworking}) {
			ids = append(ids, s.ID)
		}
	}
	for _, id := range ids {
		s, ok := byID[id]
		if !ok {
			return g, fmt.Errorf("subnet %s is not in the cluster config", id)
		}
		if _, n, err := net.ParseCIDR(s.CIDR); err == nil {
			g.Subnets = append(g.Subnets, nodegroup.Subnet{ID: s.ID, Zone: s.AZ, Net: n})
		}
	}
	return g, nil
}
