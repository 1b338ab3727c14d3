package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fargo-dev/fargo/internal/uninstall"
)

func newUninstallCommand() *cobra.Command {
	o := uninstall.Options{}
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Stop everything fargo runs on this host and remove what it left there",
		Long: `uninstall stops every fargo server and agent on this host (SIGTERM, then SIGKILL after
--grace), every sandbox, container, node-group kubelet and containerd that fargo started,
and removes what they leave: mounts, the sandboxes' network namespaces (/run/netns/fargo-*),
the cgroups /fargo and /fargo-nodes, node-group interfaces (fgn*, fgp*), fargo's routes
(ip route show table all proto 250: the VPC's blackhole, load balancers' and the service
CIDR's local routes), kube-proxy's nftables table and kubelet log links. It finds them
by their marks (the data dirs of servers that are gone by their mounts' layout:
DIR/containerd/ns, DIR/containerd/lxcfs, DIR/nodes/<node IP>/kubelet), so it works after
a server and everything it started were killed and its data dir deleted.

State (etcd's data, certificates, images) stays in the data dirs unless --data-dir names
them: those are deleted too. It reports each thing it removes. Run it as root.`,
		Example: `  fargo uninstall --dry-run
  fargo uninstall
  fargo uninstall --data-dir /var/lib/fargo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if os.Geteuid() != 0 {
				return errors.New("fargo uninstall removes network namespaces, cgroups and routes: run it as root")
			}
			for i, d := range o.DataDirs {
				abs, err := filepath.Abs(d)
				if err != nil || d == "" || abs == "/" {
					return fmt.Errorf("--data-dir %q: want the path of a fargo data dir", d)
				}
				o.DataDirs[i] = abs
			}
			o.Out = cmd.OutOrStdout()
			rep := uninstall.Run(o)
			var kinds []string
			for k, n := range rep.Removed {
				kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
			}
			sort.Strings(kinds)
			verb := "removed"
			if o.DryRun {
				verb = "would remove"
			}
			if len(kinds) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "nothing of fargo's found on this host")
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", verb, strings.Join(kinds, ", "))
			}
			if len(rep.Errors) > 0 {
				return fmt.Errorf("uninstall left %d things (listed above); run it again, or remove them by hand", len(rep.Errors))
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&o.DataDirs, "data-dir", nil, "data dir to delete as well, repeatable (default: none, state is kept)")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "list what would be stopped and removed, and change nothing")
	cmd.Flags().DurationVar(&o.Grace, "grace", 10*time.Second, "how long servers and agents get to stop on SIGTERM before SIGKILL")
	return cmd
}
