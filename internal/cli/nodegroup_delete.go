package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

func newDeleteNodeGroupCommand() *cobra.Command {
	var (
		cf       clusterFlags
		name     string
		waitGone bool
	)
	cmd := &cobra.Command{
		Use:     "nodegroup [NAME]",
		Aliases: []string{"nodegroups", "ng"},
		Short:   "Delete a managed node group, as eksctl delete nodegroup does",
		Long: `Delete a managed node group. It is DELETING while each node is drained (cordoned, its
pods evicted through the Eviction API, so PodDisruptionBudgets hold) and removed from
the machine; then it is gone. Without --wait the command returns once the delete is
accepted.`,
		Example: `  fargo delete nodegroup --cluster eksworkshop --name managed-ng --wait`,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				name = args[0]
			}
			if name == "" {
				return fmt.Errorf("--name is required: which node group to delete")
			}
			ctx, cancel, c, err := cf.session(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			out := cmd.OutOrStdout()
			ng, err := getNodeGroup(ctx, c, cf.cluster, name)
			if err != nil {
				return err
			}
			if err := c.Delete(ctx, ng); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("deleting node group %s: %w", name, apiMessage(err))
			}
			fmt.Fprintf(out, "deleting nodegroup %q in cluster %q: draining %d node(s)\n", name, cf.cluster, len(ng.Status.Nodes))
			if !waitGone {
				return nil
			}
			err = waitNodeGroup(ctx, c, name, func(g *v1alpha1.NodeGroup) (bool, error) {
				if g.Status.Status == v1alpha1.NodeGroupDeleteFailed {
					return false, fmt.Errorf("node group %s is DELETE_FAILED: %s", name, g.Status.Message)
				}
				return false, nil
			})
			if err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("waiting for node group %s to be deleted: %w", name, err)
			}
			fmt.Fprintf(out, "deleted 1 nodegroup(s) from cluster %q\n", cf.cluster)
			return nil
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVarP(&name, "name", "n", "", "name of the node group to delete")
	cmd.Flags().BoolVar(&waitGone, "wait", false, "wait until the group's nodes are drained and removed and the group is gone")
	return cmd
}
