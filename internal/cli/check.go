package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fargo-dev/fargo/internal/preflight"
	"github.com/fargo-dev/fargo/internal/server"
)

func newCheckCommand() *cobra.Command {
	o := &server.Options{}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Report what this host lacks to run fargo server, with the fix for each",
		Long: `check looks at this host for what 'fargo server' needs with the same flags: root,
free ports, disk for --data-dir, and, with a runtime that runs containers (the
default, containerd), the cgroup v1 controllers, nft, iproute2, the CNI plugins,
containerd and runc; LXCFS (pods see their size) and KVM are optional. Each line is
ok, warn (fargo runs without it) or FAIL (fargo cannot run so), with the fix beside
it. It changes nothing. The exit status is 1 when anything FAILs.`,
		Example: `  fargo check
  fargo check --api-port 7443 --data-dir /tmp/fargo
  fargo check --runtime none`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rs := o.Preflight().Run()
			preflight.Print(cmd.OutOrStdout(), rs)
			if n := preflight.Failed(rs); n > 0 {
				return fmt.Errorf("%d of %d checks failed: fix them (above) and run fargo check again", n, len(rs))
			}
			fmt.Fprintln(cmd.OutOrStdout(), "this host can run fargo server with these flags")
			return nil
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}
