// Package preflight is `fargo check`: it looks at this host for what a fargo
// server or agent needs (root, cgroup v1 controllers, nft, CNI plugins,
// containerd and runc, LXCFS, free ports, free disk, KVM) and says, for each
// thing missing, how to fix it. Each check is one function of a Host, whose
// paths tests point at directories of their own.
package preflight
