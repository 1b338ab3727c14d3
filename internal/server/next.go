package server

import (
	"fmt"
	"io"
)

// printNext prints the three commands a new user types next, once the server
// is ready: point kubectl at the cluster, send a namespace to Fargate, run a
// pod there and see its own fargate-ip-… node.
func printNext(out io.Writer, kubeconfig, cluster string) {
	fmt.Fprintf(out, `next, in another shell (kubectl: any, or fargo kubectl):
  export KUBECONFIG=%s
  fargo create fargateprofile --cluster %s --name apps --namespace apps
  kubectl create namespace apps && kubectl run web -n apps --image <image> && kubectl get pods -n apps -o wide
`, kubeconfig, cluster)
}
