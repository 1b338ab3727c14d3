// Command fargo is the multicall binary: server, CLI and, when called as kubectl or
// as `fargo kubectl`, the upstream kubectl.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/fargo-dev/fargo/internal/cli"
	"github.com/fargo-dev/fargo/internal/kubelet"
	// The runtime backends register themselves for --runtime.
	_ "github.com/fargo-dev/fargo/internal/runtime/containerd"
	_ "github.com/fargo-dev/fargo/internal/runtime/fake"
	_ "github.com/fargo-dev/fargo/internal/runtime/microvm"
)

func main() {
	if filepath.Base(os.Args[0]) == "kubectl" {
		os.Exit(cli.RunKubectl(os.Args[1:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "kubectl" && !isHelp(os.Args[2:]) {
		os.Exit(cli.RunKubectl(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "kubelet" && !isHelp(os.Args[2:]) {
		os.Exit(kubelet.Run(os.Args[2:]))
	}
	if err := cli.NewRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// isHelp keeps `fargo kubectl --help` and `fargo kubelet --help` on fargo's help,
// which says what fargo gives them; `fargo kubectl get --help` is kubectl's.
func isHelp(args []string) bool {
	return len(args) == 1 && (args[0] == "--help" || args[0] == "-h")
}
