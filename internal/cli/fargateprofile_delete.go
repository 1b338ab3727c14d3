package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/profile"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

func newDeleteProfileCommand() *cobra.Command {
	var (
		cf       clusterFlags
		name     string
		waitGone bool
	)
	cmd := &cobra.Command{
		Use:     "fargateprofile [NAME]",
		Aliases: []string{"fargateprofiles", "fp"},
		Short:   "Delete a Fargate profile, as eksctl delete fargateprofile does",
		Long: `Delete a Fargate profile. It goes through DELETING while the pods scheduled through
it are deleted (their controllers re-create them, and they then match another profile
or run on node groups). Without --wait the command returns once the delete is accepted.`,
		Example: `  fargo delete fargateprofile --cluster eksworkshop --name test3-mixed --wait`,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				name = args[0]
			}
			if name == "" {
				return fmt.Errorf("--name is required: which Fargate profile to delete")
			}
			ctx, cancel, c, err := cf.session(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			out := cmd.OutOrStdout()
			p := &v1alpha1.FargateProfile{}
			p.Name = name
			if err := c.Delete(ctx, p); err != nil {
				if apierrors.IsNotFound(err) {
					return fmt.Errorf("%s: No Fargate Profile found with name: %s in cluster %s", profile.ResourceNotFound, name, cf.cluster)
				}
				return apiMessage(err)
			}
			fmt.Fprintf(out, "deleting Fargate profile %q on cluster %q\n", name, cf.cluster)
			if !waitGone {
				return nil
			}
			err = wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
				err := c.Get(ctx, client.ObjectKey{Name: name}, p)
				if apierrors.IsNotFound(err) {
					return true, nil
				}
				if err == nil && p.Status.Status == v1alpha1.ProfileDeleteFailed {
					return false, fmt.Errorf("Fargate profile %s is DELETE_FAILED", name)
				}
				return false, nil
			})
			if err != nil {
				return fmt.Errorf("waiting for Fargate profile %s to be deleted: %w", name, err)
			}
			fmt.Fprintf(out, "deleted Fargate profile %q on cluster %q\n", name, cf.cluster)
			return nil
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVar(&name, "name", "", "name of the Fargate profile to delete")
	cmd.Flags().BoolVar(&waitGone, "wait", false, "wait until the profile and its pods are gone")
	return cmd
}
