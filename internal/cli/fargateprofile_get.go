package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/fargo-dev/fargo/internal/profile"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

func newGetProfileCommand() *cobra.Command {
	var (
		cf     clusterFlags
		name   string
		output string
	)
	cmd := &cobra.Command{
		Use:     "fargateprofile [NAME]",
		Aliases: []string{"fargateprofiles", "fp"},
		Short:   "Show Fargate profiles, as eksctl get fargateprofile does",
		Long: `Show the cluster's Fargate profiles: a table with one row per selector (eksctl's
columns), or YAML/JSON with the ClusterConfig field names.`,
		Example: `  fargo get fargateprofile --cluster eksworkshop
  fargo get fargateprofile --cluster eksworkshop --name fp-default -o yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				name = args[0]
			}
			ctx, cancel, c, err := cf.session(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			profiles, err := listProfiles(ctx, c, cf.cluster, name)
			if err != nil {
				return err
			}
			return printProfiles(cmd.OutOrStdout(), profiles, output)
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVar(&name, "name", "", "show only this profile")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, yaml or json")
	return cmd
}

func listProfiles(ctx context.Context, c client.Client, cluster, name string) ([]v1alpha1.FargateProfile, error) {
	if name != "" {
		p := &v1alpha1.FargateProfile{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, p); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("%s: No Fargate Profile found with name: %s in cluster %s", profile.ResourceNotFound, name, cluster)
			}
			return nil, err
		}
		return []v1alpha1.FargateProfile{*p}, nil
	}
	l := &v1alpha1.FargateProfileList{}
	if err := c.List(ctx, l); err != nil {
		return nil, err
	}
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Name < l.Items[j].Name })
	return l.Items, nil
}

// printedProfile has eksctl's ClusterConfig field names.
type printedProfile struct {
	Name                string                            `json:"name"`
	PodExecutionRoleARN string                            `json:"podExecutionRoleARN"`
	Selectors           []v1alpha1.FargateProfileSelector `json:"selectors"`
	Subnets             []string                          `json:"subnets,omitempty"`
	Tags                map[string]string                 `json:"tags,omitempty"`
	Status              string                            `json:"status"`
}

func printProfiles(w io.Writer, profiles []v1alpha1.FargateProfile, format string) error {
	out := make([]printedProfile, 0, len(profiles))
	for _, p := range profiles {
		out = append(out, printedProfile{Name: p.Name, PodExecutionRoleARN: p.Spec.PodExecutionRoleArn, Selectors: p.Spec.Selectors,
			Subnets: p.Spec.Subnets, Tags: p.Spec.Tags, Status: string(profile.State(&p))})
	}
	switch format {
	case "json":
		data, err := json.MarshalIndent(out, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(data))
		return err
	case "yaml":
		data, err := yaml.Marshal(out)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	case "table", "":
		if len(out) == 0 {
			_, err := fmt.Fprintln(w, "No Fargate profiles found")
			return err
		}
		tw := tabwriter.NewWriter(w, 0, 8, 1, ' ', 0)
		fmt.Fprintln(tw, "NAME\tSELECTOR_NAMESPACE\tSELECTOR_LABELS\tPOD_EXECUTION_ROLE_ARN\tSUBNETS\tTAGS\tSTATUS")
		for _, p := range out {
			for _, s := range p.Selectors {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, s.Namespace, kv(s.Labels), p.PodExecutionRoleARN, orNone(strings.Join(p.Subnets, ",")), kv(p.Tags), p.Status)
			}
		}
		return tw.Flush()
	}
	return fmt.Errorf("unknown output format %q: use table, yaml or json", format)
}

// kv prints a map as k=v,k2=v2 sorted by key, or <none>.
func kv(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return orNone(strings.Join(parts, ","))
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// deadline is the time left on ctx (the --timeout).
func deadline(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return time.Until(d)
	}
	return 25 * time.Minute
}
