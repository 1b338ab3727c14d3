// Command coredns is CoreDNS, from its Go module, with the plugins of the
// Corefile EKS's CoreDNS add-on ships (errors, health, ready, kubernetes,
// prometheus, forward, cache, loop, reload, loadbalance), log, hosts for the
// load balancers' hostnames (internal/network/lb), and template for the
// region's compute.internal zone (internal/clusterdns). It is the one
// binary of the cluster DNS image fargo builds (internal/clusterdns); a plugin
// not imported here is refused by name when a Corefile uses it.
package main

import (
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
	_ "github.com/coredns/coredns/plugin/template"
)

func main() { coremain.Run() }
