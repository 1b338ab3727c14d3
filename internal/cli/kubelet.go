package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

func newKubeletCommand() *cobra.Command {
	// Only for help: main runs `fargo kubelet ...` before cobra parses anything, so
	// the kubelet sees its arguments untouched.
	return &cobra.Command{
		Use:                "kubelet [kubelet flags]",
		Short:              "Run the embedded upstream kubelet (fargo starts one per node-group node)",
		Long:               kubeletLong,
		DisableFlagParsing: true,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("fargo kubelet is run by main; this command only documents it")
		},
	}
}

const kubeletLong = `Run the upstream kubelet built into fargo, unchanged, as 'k3s agent' runs its own.

fargo server starts one for each node of a managed node group, with its own
containerd, address, directories and cgroups under DATA/nodes/<node IP>; there is
no need to run it by hand. Its flags are the upstream kubelet's (see the kubelet
reference at kubernetes.io); 'fargo kubelet --version' shows which.`
