package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/scheme"
	"github.com/fargo-dev/fargo/internal/server"
)

// clusterFlags are shared by the fargateprofile commands: which server, which cluster.
type clusterFlags struct {
	cluster    string
	kubeconfig string
	timeout    time.Duration
}

func (f *clusterFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.cluster, "cluster", "", "name of the cluster (the fargo server's cluster name); required")
	cmd.Flags().StringVar(&f.kubeconfig, "kubeconfig", "", kubeconfigHelp)
	cmd.Flags().DurationVar(&f.timeout, "timeout", 25*time.Minute, "how long to wait for the operation, as eksctl's --timeout")
}

// kubeconfigHelp documents the --kubeconfig flag of the client commands.
const kubeconfigHelp = "kubeconfig of the fargo server (default: $KUBECONFIG, else $FARGO_DATA_DIR/kubeconfig.yaml, else /var/lib/fargo/kubeconfig.yaml)"

// restConfig loads the kubeconfig at path, or the default one.
func restConfig(path string) (*rest.Config, error) {
	if path == "" {
		path = os.Getenv("KUBECONFIG")
	}
	if path == "" {
		dir := os.Getenv("FARGO_DATA_DIR")
		if dir == "" {
			dir = server.DefaultDataDir
		}
		path = filepath.Join(dir, "kubeconfig.yaml")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig %s (is a fargo server running? pass --kubeconfig): %w", path, err)
	}
	return cfg, nil
}

// session is a command's context, bounded by --timeout, and its client.
func (f *clusterFlags) session(cmd *cobra.Command) (context.Context, context.CancelFunc, client.Client, error) {
	ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
	c, err := f.connect(ctx, cmd.ErrOrStderr())
	if err != nil {
		cancel()
		return nil, nil, nil, err
	}
	return ctx, cancel, c, nil
}

// nameArg takes the NAME argument into name, refusing a second, different one.
func nameArg(args []string, name *string) error {
	if len(args) == 1 {
		if *name != "" && *name != args[0] {
			return fmt.Errorf("the name is given twice (%q and --name %q); give it once", args[0], *name)
		}
		*name = args[0]
	}
	return nil
}

// connect returns a client for the server after checking it runs --cluster.
// It waits while the server is starting, saying so on w.
func (f *clusterFlags) connect(ctx context.Context, w io.Writer) (client.Client, error) {
	if f.cluster == "" {
		return nil, fmt.Errorf("--cluster is required: name the cluster the fargo server runs")
	}
	cfg, err := restConfig(f.kubeconfig)
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", cfg.Host, err)
	}
	info, err := waitReady(ctx, c, cfg.Host, w)
	if err != nil {
		return nil, err
	}
	if name := info.Data["name"]; name != f.cluster {
		return nil, fmt.Errorf("ResourceNotFoundException: No cluster found for name: %s (the fargo server at %s runs cluster %q)", f.cluster, cfg.Host, name)
	}
	return c, nil
}

func newCreateCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "create", Short: "Create resources (fargateprofile, nodegroup)"}
	cmd.AddCommand(newCreateProfileCommand(), newCreateNodeGroupCommand())
	return cmd
}

func newGetCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "get", Short: "Show resources (fargateprofile, nodegroup)"}
	cmd.AddCommand(newGetProfileCommand(), newGetNodeGroupCommand())
	return cmd
}

func newDeleteCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "delete", Short: "Delete resources (fargateprofile, nodegroup)"}
	cmd.AddCommand(newDeleteProfileCommand(), newDeleteNodeGroupCommand())
	return cmd
}

// generatedName is eksctl's prefix (fp-, ng-) plus 8 hex characters.
func generatedName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// apiMessage strips the webhook wrapping so users see EKS's exception and message.
func apiMessage(err error) error {
	msg := err.Error()
	if _, after, ok := strings.Cut(msg, "denied the request: "); ok {
		return fmt.Errorf("%s", after)
	}
	if apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("ResourceInUseException: %s", msg)
	}
	return err
}
