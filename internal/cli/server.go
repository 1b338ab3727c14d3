package cli

import (
	"github.com/spf13/cobra"

	"github.com/fargo-dev/fargo/internal/server"
)

func newServerCommand() *cobra.Command {
	o := &server.Options{}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run a fargo cluster: embedded etcd, kube-apiserver, controller-manager and scheduler",
		Long: `Run a fargo cluster on this machine.

The server keeps all state under --data-dir: an embedded etcd (or an external etcd
cluster with --etcd-servers), the cluster PKI created on first start, and the admin
kubeconfig at DATA/kubeconfig.yaml. It prints one line per component as it becomes
ready, then the kubeconfig path. SIGINT or SIGTERM stops it cleanly; a later start on
the same data dir finds every object again.`,
		Example: `  fargo server --data-dir /tmp/fargo --api-port 7443
  fargo server --config cluster.yaml
  fargo server --etcd-servers https://10.0.0.5:2379 --etcd-cafile ca.pem --etcd-certfile c.pem --etcd-keyfile k.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return server.Run(o, cmd.OutOrStdout())
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}
