package cli

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/fargo-dev/fargo/internal/agent"
	"github.com/fargo-dev/fargo/internal/version"
)

func newAgentCommand() *cobra.Command {
	o := &agent.Options{}
	var kubeconfig, dataDir string
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a host agent that runs Fargate sandboxes on this machine for a fargo server",
		Long: `Run a host agent on this machine for the fargo server the kubeconfig points at.

The agent registers this machine as a Host with the capacity it offers to sandboxes
(--host-cpu, --host-memory, --max-sandboxes) and renews its heartbeat; the
fargate-scheduler then places sandboxes on it. For each sandbox it prepares the
network, starts the runtime sandbox, registers the sandbox as its own node
(fargate-ip-…) with a lease, runs the pod and keeps its status current, and tears
everything down when the pod goes. It serves the kubelet API of its nodes (kubectl
logs and exec) on --kubelet-api-address, with serving certificates from the cluster's
CSR API, and runs the service proxy unless another agent on the machine does.
'fargo server' runs the same agent built in unless --runtime none; an agent may run
beside it on the same machine with its own --data-dir and --host-name.`,
		Example: `  fargo agent --kubeconfig admin.yaml --host-name worker-1 --kubelet-api-address 0.0.0.0:10250
  fargo agent --runtime fake --host-cpu 64 --host-memory 256Gi   # scale tests, no processes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := restConfig(kubeconfig)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return agent.Run(ctx, cfg, o, dataDir, version.Kubernetes, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", kubeconfigHelp)
	cmd.Flags().StringVar(&dataDir, "data-dir", "/var/lib/fargo-agent", "where the agent keeps its containerd (root, state, socket), sandbox records and logs")
	o.AddFlags(cmd.Flags(), "")
	return cmd
}
