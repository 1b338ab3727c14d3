package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

func newGetNodeGroupCommand() *cobra.Command {
	var (
		cf     clusterFlags
		name   string
		output string
	)
	cmd := &cobra.Command{
		Use:     "nodegroup [NAME]",
		Aliases: []string{"nodegroups", "ng"},
		Short:   "Show managed node groups, as eksctl get nodegroup does",
		Long: `Show the cluster's managed node groups: a table with eksctl's columns, or YAML/JSON
with the ClusterConfig field names and the group's nodes.`,
		Example: `  fargo get nodegroup --cluster eksworkshop
  fargo get nodegroup --cluster eksworkshop --name managed-ng -o yaml`,
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
			groups, err := listNodeGroups(ctx, c, cf.cluster, name)
			if err != nil {
				return err
			}
			return printNodeGroups(cmd.OutOrStdout(), cf.cluster, groups, output)
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVarP(&name, "name", "n", "", "show only this node group")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, yaml or json")
	return cmd
}

func listNodeGroups(ctx context.Context, c client.Client, cluster, name string) ([]v1alpha1.NodeGroup, error) {
	if name != "" {
		ng, err := getNodeGroup(ctx, c, cluster, name)
		if err != nil {
			return nil, err
		}
		return []v1alpha1.NodeGroup{*ng}, nil
	}
	l := &v1alpha1.NodeGroupList{}
	if err := c.List(ctx, l); err != nil {
		return nil, err
	}
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Name < l.Items[j].Name })
	return l.Items, nil
}

// getNodeGroup reads one group, with EKS's error when there is none.
func getNodeGroup(ctx context.Context, c client.Client, cluster, name string) (*v1alpha1.NodeGroup, error) {
	ng := &v1alpha1.NodeGroup{}
	if err := c.Get(ctx, client.ObjectKey{Name: name}, ng); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("ResourceNotFoundException: No node group found for name: %s in cluster %s", name, cluster)
		}
		return nil, err
	}
	return ng, nil
}

// printedNodeGroup has eksctl's ClusterConfig field names.
type printedNodeGroup struct {
	Name            string            `json:"name"`
	Status          string            `json:"status"`
	InstanceType    string            `json:"instanceType"`
	MinSize         int               `json:"minSize"`
	MaxSize         int               `json:"maxSize"`
	DesiredCapacity int               `json:"desiredCapacity"`
	Labels          map[string]string `json:"labels,omitempty"`
	Subnets         []string          `json:"subnets,omitempty"`
	Nodes           []string          `json:"nodes,omitempty"`
	CreatedAt       time.Time         `json:"createdAt"`
}

func printNodeGroups(w io.Writer, cluster string, groups []v1alpha1.NodeGroup, format string) error {
	out := make([]printedNodeGroup, 0, len(groups))
	for _, g := range groups {
		sc := g.Spec.ScalingConfig
		out = append(out, printedNodeGroup{Name: g.Name, Status: string(g.Status.Status), InstanceType: g.Spec.InstanceType,
			MinSize: sc.MinSize, MaxSize: sc.MaxSize, DesiredCapacity: sc.DesiredSize, Labels: g.Spec.Labels, Subnets: g.Spec.Subnets,
			Nodes: g.Status.Nodes, CreatedAt: g.CreationTimestamp.UTC()})
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
			_, err := fmt.Fprintln(w, "No nodegroups found")
			return err
		}
		tw := tabwriter.NewWriter(w, 0, 8, 1, '\t', 0)
		fmt.Fprintln(tw, "CLUSTER\tNODEGROUP\tSTATUS\tCREATED\tMIN SIZE\tMAX SIZE\tDESIRED CAPACITY\tINSTANCE TYPE\tTYPE")
		for _, g := range out {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\tmanaged\n", cluster, g.Name, g.Status, g.CreatedAt.Format(time.RFC3339),
				g.MinSize, g.MaxSize, g.DesiredCapacity, g.InstanceType)
		}
		return tw.Flush()
	}
	return fmt.Errorf("unknown output format %q: use table, yaml or json", format)
}
