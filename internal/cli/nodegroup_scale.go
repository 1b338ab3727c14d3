package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

func newScaleCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "scale", Short: "Scale resources (nodegroup)"}
	cmd.AddCommand(newScaleNodeGroupCommand())
	return cmd
}

// scaling is what `scale|create nodegroup` ask for; a negative value keeps the
// group's (or takes the default).
type scaling struct{ nodes, min, max int }

// unset marks the sizes whose flags were not given as negative.
func unset(cmd *cobra.Command, want *scaling) {
	for _, f := range []struct {
		flag string
		v    *int
	}{{"nodes", &want.nodes}, {"nodes-min", &want.min}, {"nodes-max", &want.max}} {
		if !cmd.Flags().Changed(f.flag) {
			*f.v = -1
		}
	}
}

// anyChanged reports whether any of the flags was given.
func anyChanged(cmd *cobra.Command, flags ...string) bool {
	for _, f := range flags {
		if cmd.Flags().Changed(f) {
			return true
		}
	}
	return false
}

func newScaleNodeGroupCommand() *cobra.Command {
	var (
		cf   clusterFlags
		name string
		want scaling
		wait bool
	)
	cmd := &cobra.Command{
		Use:     "nodegroup [NAME]",
		Aliases: []string{"nodegroups", "ng"},
		Short:   "Scale a managed node group, as eksctl scale nodegroup does",
		Long: `Set a managed node group's desired size (and optionally its minimum and maximum) and
wait until it has that many nodes. A node taken away is drained first: cordoned, its
pods evicted through the Eviction API (PodDisruptionBudgets hold), then removed.`,
		Example: `  fargo scale nodegroup --cluster eksworkshop --name managed-ng --nodes 3 --nodes-max 3
  fargo scale nodegroup --cluster eksworkshop managed-ng --nodes 2`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := nameArg(args, &name); err != nil {
				return err
			}
			if name == "" {
				return fmt.Errorf("--name is required: name the node group to scale")
			}
			if !anyChanged(cmd, "nodes", "nodes-min", "nodes-max") {
				return fmt.Errorf("at least one of --nodes, --nodes-min and --nodes-max is required")
			}
			unset(cmd, &want)
			ctx, cancel, c, err := cf.session(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			return scaleNodeGroup(ctx, c, cf.cluster, name, want, wait, cmd.OutOrStdout())
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVarP(&name, "name", "n", "", "name of the node group to scale")
	cmd.Flags().IntVarP(&want.nodes, "nodes", "N", 0, "desired number of nodes")
	cmd.Flags().IntVarP(&want.min, "nodes-min", "m", 0, "minimum number of nodes")
	cmd.Flags().IntVarP(&want.max, "nodes-max", "M", 0, "maximum number of nodes")
	cmd.Flags().BoolVar(&wait, "wait", true, "wait until the group has the desired number of nodes")
	return cmd
}

func scaleNodeGroup(ctx context.Context, c client.Client, cluster, name string, want scaling, wait bool, out io.Writer) error {
	ng, err := getNodeGroup(ctx, c, cluster, name)
	if err != nil {
		return err
	}
	sc := ng.Spec.ScalingConfig
	for _, f := range []struct {
		v    int
		into *int
	}{{want.nodes, &sc.DesiredSize}, {want.min, &sc.MinSize}, {want.max, &sc.MaxSize}} {
		if f.v >= 0 {
			*f.into = f.v
		}
	}
	if sc.MinSize > sc.DesiredSize || sc.DesiredSize > sc.MaxSize {
		return fmt.Errorf("InvalidParameterException: the number of nodes (%d) must be within the minimum (%d) and maximum (%d) of node group %s; set --nodes-min or --nodes-max too",
			sc.DesiredSize, sc.MinSize, sc.MaxSize, name)
	}
	fmt.Fprintf(out, "scaling nodegroup %q in cluster %s to %d nodes (min %d, max %d)\n", name, cluster, sc.DesiredSize, sc.MinSize, sc.MaxSize)
	patch := client.MergeFrom(ng.DeepCopy())
	ng.Spec.ScalingConfig = sc
	if err := c.Patch(ctx, ng, patch); err != nil {
		return fmt.Errorf("scaling node group %s: %w", name, err)
	}
	if !wait {
		fmt.Fprintln(out, "initiated scaling of nodegroup")
		return nil
	}
	fmt.Fprintf(out, "waiting for scaling of nodegroup %q to complete\n", name)
	var final *v1alpha1.NodeGroup
	err = waitNodeGroup(ctx, c, name, func(g *v1alpha1.NodeGroup) (bool, error) {
		if g.Status.ObservedGeneration < ng.Generation {
			return false, nil // the controller has not seen this change yet
		}
		if g.Status.Status == v1alpha1.NodeGroupDegraded {
			return false, fmt.Errorf("node group %s is DEGRADED: %s", name, g.Status.Message)
		}
		final = g
		return g.Status.Status == v1alpha1.NodeGroupActive && len(g.Status.Nodes) == sc.DesiredSize, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for node group %s: %w", name, err)
	}
	fmt.Fprintf(out, "nodegroup successfully scaled: %s\n", strings.Join(final.Status.Nodes, ", "))
	return nil
}

// waitNodeGroup polls the group until done says so (or fails); a group that
// is gone ends the wait with its NotFound error.
func waitNodeGroup(ctx context.Context, c client.Client, name string, done func(*v1alpha1.NodeGroup) (bool, error)) error {
	return wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		g := &v1alpha1.NodeGroup{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, g); err != nil {
			if apierrors.IsNotFound(err) {
				return false, err
			}
			return false, nil
		}
		return done(g)
	})
}
