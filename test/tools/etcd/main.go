// Command etcd is upstream etcd (etcdmain) built from the module fargo already
// depends on, for tests of --etcd-servers: Debian's etcd-server is 3.4, too old for
// Kubernetes 1.37.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
