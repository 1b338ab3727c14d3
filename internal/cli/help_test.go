package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Every subcommand's --help documents every one of its flags.
func TestHelpDocumentsEveryFlag(t *testing.T) {
	root := NewRoot()
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Short == "" {
			t.Errorf("%q has no short description", c.CommandPath())
		}
		var out bytes.Buffer
		c.SetOut(&out)
		if err := c.Help(); err != nil {
			t.Fatal(err)
		}
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Name == "help" {
				return
			}
			if strings.TrimSpace(f.Usage) == "" {
				t.Errorf("%s --%s has no description", c.CommandPath(), f.Name)
			}
			if !strings.Contains(out.String(), "--"+f.Name) {
				t.Errorf("%s --help does not mention --%s", c.CommandPath(), f.Name)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func TestServerFlags(t *testing.T) {
	cmd, _, err := NewRoot().Find([]string{"server"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"data-dir", "api-port", "bind-address", "cluster-name", "region", "service-cidr", "config",
		"etcd-servers", "write-kubeconfig", "etcd-client-port", "etcd-peer-port", "controller-manager-port", "scheduler-port"} {
		if cmd.Flags().Lookup(name) == nil {
			t.Errorf("fargo server has no --%s", name)
		}
	}
	if d := cmd.Flags().Lookup("data-dir").DefValue; d != "/var/lib/fargo" {
		t.Errorf("--data-dir default = %s", d)
	}
	if d := cmd.Flags().Lookup("api-port").DefValue; d != "6443" {
		t.Errorf("--api-port default = %s", d)
	}
}
