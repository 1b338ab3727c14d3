package controlplane

import (
	"fmt"

	"github.com/spf13/pflag"
	cliflag "k8s.io/component-base/cli/flag"
)

// parseComponentFlags parses args into a component's named flag sets, exactly as the
// upstream command line would, so every upstream flag keeps its meaning and defaults.
func parseComponentFlags(component string, fss cliflag.NamedFlagSets, args []string) error {
	fs := pflag.NewFlagSet(component, pflag.ContinueOnError)
	for _, f := range fss.FlagSets {
		fs.AddFlagSet(f)
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("parsing %s flags %q: %w", component, args, err)
	}
	return nil
}
