// Package uninstall removes what fargo leaves on a host. Sandboxes, node-group
// kubelets and containerd outlive a stopped server by design (the next start
// adopts them), so a server killed and its data dir deleted leaves them with
// nobody to adopt them; `fargo uninstall` finds them by their marks, not by a
// data dir that may be gone:
//
//   - processes: fargo's own (`fargo server|agent|kubelet`), the containerd
//     daemons and shims fargo started (environment datadir.StartedByEnv, the
//     data dir they serve, which shims inherit from their containerd), and whatever runs in fargo's
//     cgroups (/fargo for sandboxes, /fargo-nodes for node-group nodes);
//   - mounts under the data dirs those processes name (containers' root
//     filesystems, volumes, node-group pods' network namespaces), and the
//     sandboxes' network namespaces, /run/netns/fargo-*;
//   - the cgroups /fargo and /fargo-nodes in every hierarchy;
//   - node-group interfaces (fgn…/fgp…);
//   - routes fargo made, marked with cni.RouteProtocol (250): the VPC's
//     blackhole, load balancers' and the service CIDR's local routes;
//   - kube-proxy's nftables table (ip kube-proxy);
//   - kubelet log links in /var/log/containers that point into a data dir or
//     nowhere.
//
// Steps run in that order, so nothing is removed while a process can remake it.
package uninstall
