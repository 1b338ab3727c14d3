package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/clusterconfig"
	"github.com/fargo-dev/fargo/internal/instancetype"
	"github.com/fargo-dev/fargo/internal/server"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

func newCreateNodeGroupCommand() *cobra.Command {
	var (
		cf                      clusterFlags
		name, nodeType, cfgFile string
		want                    scaling
		labels                  map[string]string
		subnets                 []string
		private, managed        bool
		wait                    bool
	)
	cmd := &cobra.Command{
		Use:     "nodegroup [NAME]",
		Aliases: []string{"nodegroups", "ng"},
		Short:   "Create a managed node group, as eksctl create nodegroup does",
		Long: `Create a managed node group and wait until its nodes are Ready. Each node is an upstream
kubelet with its own containerd on the fargo server's machine, sized by its instance
type (fargo get nodegroup shows the group; fargo scale nodegroup resizes it).

Without -f it creates one group from the flags; with -f it creates every group under
managedNodeGroups of the cluster config file. A group without a name gets
ng-<8 hex characters>; without --subnet-ids its nodes go in the public subnets, or the
private ones with --node-private-networking, as eksctl does.`,
		Example: `  fargo create nodegroup --cluster eksworkshop --name managed-ng --node-type t3.xlarge --nodes 2
  fargo create nodegroup --cluster eksworkshop --node-labels team=web --node-private-networking
  fargo create nodegroup -f cluster.yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := nameArg(args, &name); err != nil {
				return err
			}
			if !managed {
				return fmt.Errorf("--managed=false: fargo has managed node groups only")
			}
			var groups []*v1alpha1.NodeGroup
			if cfgFile != "" {
				if name != "" || anyChanged(cmd, "node-type", "node-labels", "subnet-ids", "nodes", "nodes-min", "nodes-max") {
					return fmt.Errorf("the node group flags cannot be used with -f; put the groups under managedNodeGroups in %s", cfgFile)
				}
				cfg, err := clusterconfig.Load(cfgFile, clusterconfig.Overrides{})
				if err != nil {
					return err
				}
				if cf.cluster == "" {
					cf.cluster = cfg.Metadata.Name
				}
				if len(cfg.ManagedNodeGroups) == 0 {
					return fmt.Errorf("%s has no managedNodeGroups", cfgFile)
				}
				for _, ng := range cfg.ManagedNodeGroups {
					groups = append(groups, server.NodeGroupObject(cfg, ng))
				}
			} else {
				unset(cmd, &want)
				ng, err := flagNodeGroup(name, nodeType, want, labels, subnets, private)
				if err != nil {
					return err
				}
				groups = append(groups, ng)
			}
			ctx, cancel, c, err := cf.session(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			for _, ng := range groups {
				if err := createNodeGroup(ctx, c, cf.cluster, ng, wait, cmd.OutOrStdout()); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created %d managed nodegroup(s) in cluster %q\n", len(groups), cf.cluster)
			return nil
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVarP(&name, "name", "n", "", "name of the node group (default: generated ng-xxxxxxxx)")
	cmd.Flags().StringVarP(&nodeType, "node-type", "t", clusterconfig.DefaultInstanceType, "instance type of the nodes ("+strings.Join(instancetype.Names(), ", ")+")")
	cmd.Flags().IntVarP(&want.nodes, "nodes", "N", 2, "desired number of nodes")
	cmd.Flags().IntVarP(&want.min, "nodes-min", "m", 0, "minimum number of nodes (default: --nodes)")
	cmd.Flags().IntVarP(&want.max, "nodes-max", "M", 0, "maximum number of nodes (default: --nodes)")
	cmd.Flags().StringToStringVar(&labels, "node-labels", nil, "labels of the nodes, k1=v1,k2=v2")
	cmd.Flags().StringSliceVar(&subnets, "subnet-ids", nil, "subnet ids of the cluster's VPC for the nodes, comma-separated")
	cmd.Flags().BoolVarP(&private, "node-private-networking", "P", false, "put the nodes in the private subnets")
	cmd.Flags().BoolVar(&managed, "managed", true, "create a managed node group (the only kind fargo has)")
	cmd.Flags().StringVarP(&cfgFile, "config-file", "f", "", "create the managedNodeGroups of this eksctl-style cluster config")
	cmd.Flags().BoolVar(&wait, "wait", true, "wait until the group's nodes are Ready")
	return cmd
}

// flagNodeGroup is the group the flags describe, with eksctl's defaults:
// 2 nodes, min and max following the desired size.
func flagNodeGroup(name, nodeType string, want scaling, labels map[string]string, subnets []string, private bool) (*v1alpha1.NodeGroup, error) {
	if name == "" {
		name = generatedName("ng-")
	}
	if _, err := instancetype.Lookup(nodeType); err != nil {
		return nil, fmt.Errorf("--node-type: %w", err)
	}
	mng := clusterconfig.ManagedNodeGroup{Name: name, InstanceType: nodeType, Labels: labels, Subnets: subnets, PrivateNetworking: private}
	for _, f := range []struct {
		v    int
		into **int
	}{{want.nodes, &mng.DesiredCapacity}, {want.min, &mng.MinSize}, {want.max, &mng.MaxSize}} {
		if f.v >= 0 {
			v := f.v
			*f.into = &v
		}
	}
	clusterconfig.DefaultSizes(&mng)
	sc := v1alpha1.ScalingConfig{MinSize: *mng.MinSize, MaxSize: *mng.MaxSize, DesiredSize: *mng.DesiredCapacity}
	if sc.MinSize > sc.DesiredSize || sc.DesiredSize > sc.MaxSize {
		return nil, fmt.Errorf("the number of nodes (%d) must be within --nodes-min (%d) and --nodes-max (%d)", sc.DesiredSize, sc.MinSize, sc.MaxSize)
	}
	ng := &v1alpha1.NodeGroup{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.NodeGroupSpec{InstanceType: nodeType, ScalingConfig: sc, Labels: labels, Subnets: subnets, PrivateNetworking: private}}
	return ng, nil
}

func createNodeGroup(ctx context.Context, c client.Client, cluster string, ng *v1alpha1.NodeGroup, wait bool, out io.Writer) error {
	sc := ng.Spec.ScalingConfig
	fmt.Fprintf(out, "creating managed nodegroup %q in cluster %q: %d × %s (min %d, max %d)\n", ng.Name, cluster, sc.DesiredSize, ng.Spec.InstanceType, sc.MinSize, sc.MaxSize)
	if err := c.Create(ctx, ng); err != nil {
		return fmt.Errorf("creating node group %s: %w", ng.Name, apiMessage(err))
	}
	if !wait {
		fmt.Fprintf(out, "nodegroup %q is CREATING\n", ng.Name)
		return nil
	}
	fmt.Fprintf(out, "waiting for the nodes of nodegroup %q to be Ready\n", ng.Name)
	var final *v1alpha1.NodeGroup
	err := waitNodeGroup(ctx, c, ng.Name, func(g *v1alpha1.NodeGroup) (bool, error) {
		if g.Status.ObservedGeneration < ng.Generation || g.Status.ObservedGeneration == 0 {
			return false, nil
		}
		if g.Status.Status == v1alpha1.NodeGroupDegraded {
			return false, fmt.Errorf("node group %s is DEGRADED: %s", ng.Name, g.Status.Message)
		}
		final = g
		return g.Status.Status == v1alpha1.NodeGroupActive && len(g.Status.Nodes) == g.Spec.ScalingConfig.DesiredSize, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for node group %s: %w", ng.Name, err)
	}
	fmt.Fprintf(out, "nodegroup %q has %d node(s): %s\n", ng.Name, len(final.Status.Nodes), strings.Join(final.Status.Nodes, ", "))
	return nil
}
