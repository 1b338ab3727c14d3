package server

import (
	"github.com/fargo-dev/fargo/internal/preflight"
)

// Preflight is what `fargo check` looks for on this host for a server started
// with these options: its ports and data dir, and, with a runtime that runs
// processes, what sandboxes and node groups need.
func (o *Options) Preflight() preflight.Host {
	sandboxes := o.Host.Enabled() && o.Host.Runtime != "fake"
	return preflight.Host{
		Ports:      o.ports(),
		DataDir:    o.DataDir,
		Sandboxes:  sandboxes,
		NodeGroups: sandboxes && !o.Fargate && !(o.WithoutNodeGroup && o.ConfigFile == ""),
	}
}
