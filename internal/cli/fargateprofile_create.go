package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/clusterconfig"
	"github.com/fargo-dev/fargo/internal/clusterdns"
	"github.com/fargo-dev/fargo/internal/server"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

func newCreateProfileCommand() *cobra.Command {
	var (
		cf                          clusterFlags
		name, namespace, configFile string
		labels, tags                map[string]string
		wait                        bool
	)
	cmd := &cobra.Command{
		Use:     "fargateprofile [NAME]",
		Aliases: []string{"fargateprofiles", "fp"},
		Short:   "Create a Fargate profile, as eksctl create fargateprofile does",
		Long: `Create a Fargate profile on the fargo server's cluster and wait until it is ACTIVE.

Without -f it creates one profile with one selector (--namespace and optional --labels);
with -f it creates every profile under fargateProfiles of the cluster config file, one
at a time. A profile without a name gets fp-<8 hex characters>; without subnets it uses
every private subnet of the cluster.

As eksctl does, when a new profile selects CoreDNS's pods (namespace kube-system with
no labels, or labels they carry such as k8s-app=kube-dns), the coredns Deployment is
annotated eks.amazonaws.com/compute-type: fargate and the command waits until its pods
run on Fargate.`,
		Example: `  fargo create fargateprofile --cluster eksworkshop --name test3-mixed --namespace test3-mixed --labels runon=fargate
  fargo create fargateprofile --cluster fargo -f cluster.yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := nameArg(args, &name); err != nil {
				return err
			}
			var profiles []clusterconfig.FargateProfile
			if configFile != "" {
				if name != "" || namespace != "" || len(labels) > 0 {
					return fmt.Errorf("--name, --namespace and --labels cannot be used with -f; put the profiles under fargateProfiles in %s", configFile)
				}
				cfg, err := clusterconfig.Load(configFile, clusterconfig.Overrides{})
				if err != nil {
					return err
				}
				if cf.cluster == "" {
					cf.cluster = cfg.Metadata.Name
				} else if cf.cluster != cfg.Metadata.Name {
					return fmt.Errorf("--cluster %q does not match metadata.name %q in %s", cf.cluster, cfg.Metadata.Name, configFile)
				}
				if len(cfg.FargateProfiles) == 0 {
					return fmt.Errorf("%s has no fargateProfiles", configFile)
				}
				profiles = cfg.FargateProfiles
			} else {
				if namespace == "" {
					return fmt.Errorf("--namespace is required: a Fargate profile selects pods by namespace (or use -f with a cluster config)")
				}
				if name == "" {
					name = generatedName("fp-")
				}
				profiles = []clusterconfig.FargateProfile{{Name: name, Selectors: []clusterconfig.Selector{{Namespace: namespace, Labels: labels}}, Tags: tags}}
			}
			ctx, cancel, c, err := cf.session(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			for _, fp := range profiles {
				if err := createProfile(ctx, c, cf.cluster, fp, wait, cmd.OutOrStdout()); err != nil {
					return err
				}
			}
			return moveCoreDNS(ctx, c, profiles, wait, cmd.OutOrStdout())
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVar(&name, "name", "", "name of the Fargate profile (default: generated fp-xxxxxxxx)")
	cmd.Flags().StringVar(&namespace, "namespace", "", "namespace the profile's selector matches (* and ? allowed)")
	cmd.Flags().StringToStringVarP(&labels, "labels", "l", nil, "labels the selector requires, k1=v1,k2=v2 (* and ? allowed)")
	cmd.Flags().StringToStringVarP(&tags, "tags", "t", nil, "tags of the profile, k1=v1,k2=v2")
	cmd.Flags().StringVarP(&configFile, "config-file", "f", "", "create the fargateProfiles of this eksctl-style cluster config")
	cmd.Flags().BoolVar(&wait, "wait", true, "wait until each profile is ACTIVE")
	return cmd
}

func createProfile(ctx context.Context, c client.Client, cluster string, fp clusterconfig.FargateProfile, wait bool, out io.Writer) error {
	obj := server.ProfileObject(fp)
	fmt.Fprintf(out, "creating Fargate profile %q on cluster %q\n", fp.Name, cluster)
	if err := c.Create(ctx, obj); err != nil {
		return apiMessage(err)
	}
	if !wait {
		fmt.Fprintf(out, "Fargate profile %q is %s\n", fp.Name, v1alpha1.ProfileCreating)
		return nil
	}
	if err := server.WaitProfileState(ctx, c, fp.Name, v1alpha1.ProfileActive, deadline(ctx)); err != nil {
		return err
	}
	sels := make([]string, 0, len(fp.Selectors))
	for _, s := range fp.Selectors {
		sels = append(sels, s.Namespace)
	}
	fmt.Fprintf(out, "created Fargate profile %q on cluster %q (namespaces: %s); it is ACTIVE\n", fp.Name, cluster, strings.Join(sels, ", "))
	return nil
}

// moveCoreDNS schedules CoreDNS onto Fargate when one of the new profiles
// selects it, as eksctl create fargateprofile does, and waits for the pods to
// be there (unless told not to wait).
func moveCoreDNS(ctx context.Context, c client.Client, profiles []clusterconfig.FargateProfile, wait bool, out io.Writer) error {
	objs := make([]*v1alpha1.FargateProfile, 0, len(profiles))
	for _, fp := range profiles {
		objs = append(objs, server.ProfileObject(fp))
	}
	fp := clusterdns.FargateProfile(objs)
	if fp == nil {
		return nil
	}
	moved, err := clusterdns.ScheduleOnFargate(ctx, c)
	if err != nil || !moved {
		return err
	}
	fmt.Fprintf(out, "Fargate profile %q selects CoreDNS: scheduling the %q pods onto Fargate\n", fp.Name, clusterdns.Name)
	if !wait {
		return nil
	}
	if err := clusterdns.WaitOnFargate(ctx, c, deadline(ctx)); err != nil {
		return err
	}
	fmt.Fprintf(out, "%q pods are now scheduled onto Fargate\n", clusterdns.Name)
	return nil
}
