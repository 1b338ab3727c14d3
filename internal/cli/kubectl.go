package cli

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	kubectl "k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"

	"github.com/fargo-dev/fargo/internal/server"
)

func newKubectlCommand() *cobra.Command {
	// Only for help: main dispatches `fargo kubectl ...` to RunKubectl before cobra
	// parses anything, so kubectl sees its arguments untouched.
	return &cobra.Command{
		Use:                "kubectl [kubectl arguments]",
		Short:              "Run the embedded upstream kubectl against the fargo cluster",
		Long:               kubectlLong,
		DisableFlagParsing: true,
		Run:                func(_ *cobra.Command, args []string) { os.Exit(RunKubectl(args)) },
	}
}

const kubectlLong = `Run the upstream kubectl built into fargo, as 'k3s kubectl' does.

Unless KUBECONFIG is set or --kubeconfig is given, it uses the admin kubeconfig of the
local server: $FARGO_DATA_DIR/kubeconfig.yaml, default /var/lib/fargo/kubeconfig.yaml.
fargo also runs as kubectl when invoked through a link named kubectl.`

// RunKubectl runs kubectl with args and returns its exit code.
func RunKubectl(args []string) int {
	if os.Getenv("KUBECONFIG") == "" && !hasKubeconfigFlag(args) {
		dir := os.Getenv("FARGO_DATA_DIR")
		if dir == "" {
			dir = server.DefaultDataDir
		}
		if path := filepath.Join(dir, "kubeconfig.yaml"); fileExists(path) {
			os.Setenv("KUBECONFIG", path)
		}
	}
	// kubectl reads os.Args itself (plugins, flag parsing), so present the call as
	// a plain kubectl invocation.
	os.Args = append([]string{"kubectl"}, args...)
	command := kubectl.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		util.CheckErr(err) // prints kubectl's own error message and exits non-zero
	}
	return 0
}

func hasKubeconfigFlag(args []string) bool {
	for _, a := range args {
		if a == "--kubeconfig" || strings.HasPrefix(a, "--kubeconfig=") {
			return true
		}
	}
	return false
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
