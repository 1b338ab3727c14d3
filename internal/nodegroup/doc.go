// Package nodegroup runs the nodes of managed node groups as EKS does: each node
// is one upstream kubelet (`fargo kubelet`) with its own containerd (CRI on), its
// own address in the group's subnet on a host-side interface, its own root, cert
// and cgroup directories, and a share of the subnet for its pods' addresses
// (routed, no overlay, as the AWS VPC CNI gives them).
//
// Layout of one node, under DATA/nodes/<node IP>/: containerd/ (config, root,
// state, socket), kubelet/ (the kubelet's root dir), pki/, kubeconfig.yaml,
// kubelet.yaml, cni/ (network config and address store), manifests/ (static pods).
// Its cgroups are under /fargo-nodes/<node IP>; its logs are
// DATA/logs/node-<node IP>-kubelet.log and -containerd.log.
package nodegroup
