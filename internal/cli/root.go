// Package cli is fargo's command line: one cobra command per subcommand.
package cli

import (
	"github.com/spf13/cobra"
)

// NewRoot returns the `fargo` command with every subcommand.
func NewRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "fargo",
		Short: "Serverless pods for Kubernetes: EKS Fargate's model on your own machines",
		Long: `fargo runs a Kubernetes cluster in which pods that match a Fargate profile each get
their own isolated, right-sized sandbox that appears as its own node, as on EKS Fargate.

Start a cluster with 'fargo server', then use 'fargo kubectl' (or any kubectl with the
written kubeconfig).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServerCommand(), newAgentCommand(), newCreateCommand(), newGetCommand(), newDeleteCommand(), newScaleCommand(), newUsageCommand(), newUninstallCommand(), newCheckCommand(), newVersionCommand(), newKubectlCommand(), newKubeletCommand())
	return root
}
