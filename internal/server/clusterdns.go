package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/airgap"
	"github.com/fargo-dev/fargo/internal/clusterdns"
	"github.com/fargo-dev/fargo/internal/profile"
	"github.com/fargo-dev/fargo/internal/runtime/containerd"
	"github.com/fargo-dev/fargo/internal/scheme"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// prepareDNS makes the cluster DNS image from the CoreDNS binary, for the
// nodes and hosts to carry; without the binary the cluster has no DNS, which
// start-up says.
func (s *started) prepareDNS() {
	if s.o.WithoutDNS {
		return
	}
	bin := s.o.CoreDNSBinary
	if bin == "" {
		self, err := os.Executable()
		if err != nil {
			fmt.Fprintf(s.out, "warning: no cluster DNS: finding the fargo binary: %v\n", err)
			return
		}
		bin = filepath.Join(filepath.Dir(self), "coredns")
	}
	img, err := clusterdns.Image(bin)
	if err != nil {
		fmt.Fprintf(s.out, "warning: no cluster DNS: %v\n", err)
		return
	}
	s.dnsImage = &img
}

// startDNS puts the image into this host's containerd (for CoreDNS on Fargate)
// and deploys CoreDNS, on Fargate when a profile selects it.
func (s *started) startDNS(ctx context.Context) (string, error) {
	if s.dnsImage == nil {
		return "", nil
	}
	if s.host != nil {
		if r, ok := s.host.Runtime.(interface{ Socket() string }); ok && r.Socket() != "" {
			if err := airgap.Import(ctx, r.Socket(), containerd.Namespace, *s.dnsImage); err != nil {
				return "", err
			}
		}
	}
	c, err := client.New(s.cp.AdminConfig, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		return "", fmt.Errorf("creating API client: %w", err)
	}
	var list v1alpha1.FargateProfileList
	if err := c.List(ctx, &list); err != nil {
		return "", fmt.Errorf("listing Fargate profiles: %w", err)
	}
	var live []*v1alpha1.FargateProfile
	for i := range list.Items {
		if st := profile.State(&list.Items[i]); st == v1alpha1.ProfileActive || st == v1alpha1.ProfileCreating {
			live = append(live, &list.Items[i])
		}
	}
	fp := clusterdns.FargateProfile(live)
	cfg := clusterdns.Config{Address: s.cluster.ClusterDNS(), Upstream: s.o.DNSUpstream, Region: s.cluster.Metadata.Region, Image: s.dnsImage.Ref, Fargate: fp != nil}
	if err := clusterdns.Install(ctx, c, cfg); err != nil {
		return "", err
	}
	where := "on the node groups"
	if fp != nil {
		where = "on Fargate (profile " + fp.Name + ")"
	} else if why, err := s.noNodeForDNS(ctx, c); err != nil {
		return "", err
	} else if why != "" {
		fix := "fargo create nodegroup --cluster " + s.cluster.Metadata.Name + " --name ng-1 --nodes 2"
		fmt.Fprintf(s.out, "note: CoreDNS has no node to run on (%s), so names in the cluster do not resolve; to fix: %s\n", why, fix)
		if err := clusterdns.Warn(ctx, c, "NoNodeForCoreDNS", "CoreDNS has no node to run on ("+why+"); to fix: "+fix); err != nil {
			return "", err
		}
		where = "waiting for a node group"
	}
	return fmt.Sprintf("CoreDNS %s/%s %s, Service %s at %s", clusterdns.Namespace, clusterdns.Name, where, clusterdns.Service, cfg.Address), nil
}

// noNodeForDNS says why CoreDNS, bound for the node groups, has none to run
// on, or "".
func (s *started) noNodeForDNS(ctx context.Context, c client.Client) (string, error) {
	var groups v1alpha1.NodeGroupList
	if err := c.List(ctx, &groups); err != nil {
		return "", fmt.Errorf("listing node groups: %w", err)
	}
	switch {
	case len(groups.Items) == 0:
		return "the cluster has no node group and no Fargate profile selects it", nil
	case s.nodesBlocked != "":
		return "node groups do not run here: " + s.nodesBlocked, nil
	}
	return "", nil
}
