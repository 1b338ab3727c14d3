// Package dns renders the files kubelet manages in every container, as data the
// runtime backend writes where its containers see them: /etc/hosts,
// /etc/hostname and (the CRI runtime's part) /etc/resolv.conf.
package dns

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// clusterDomain is the DNS domain of services, as on EKS.
const clusterDomain = "cluster.local"

// Config is what pods' resolvers are built from.
type Config struct {
	// ClusterDNS is the cluster DNS service's address (nil: pods with dnsPolicy
	// ClusterFirst get no nameserver).
	ClusterDNS net.IP
	// Region adds EKS's <region>.compute.internal to the search path.
	Region string
	// HostResolvConf is read for dnsPolicy Default, as kubelet's --resolv-conf
	// (default /etc/resolv.conf).
	HostResolvConf string
}

func (c Config) hostResolvConf() string {
	if c.HostResolvConf == "" {
		return "/etc/resolv.conf"
	}
	return c.HostResolvConf
}

// Files are the pod's hosts, hostname and resolv.conf at address ip.
func (c Config) Files(pod *corev1.Pod, ip string) (runtime.PodFiles, error) {
	resolv, err := c.resolvConf(pod)
	if err != nil {
		return runtime.PodFiles{}, err
	}
	return runtime.PodFiles{Hosts: hostsFile(pod, ip), Hostname: Hostname(pod) + "\n", ResolvConf: resolv}, nil
}

// Hostname is spec.hostname or the pod's name, at most 63 characters.
func Hostname(pod *corev1.Pod) string {
	h := pod.Spec.Hostname
	if h == "" {
		h = pod.Name
	}
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-.")
	}
	return h
}

// hostsFile is kubelet's managed /etc/hosts: localhost, the pod's own name (with
// its subdomain's FQDN when it has one) and spec.hostAliases.
func hostsFile(pod *corev1.Pod, ip string) string {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
	host := Hostname(pod)
	if sub := pod.Spec.Subdomain; sub != "" {
		fmt.Fprintf(&b, "%s\t%s.%s.%s.svc.%s\t%s\n", ip, host, sub, pod.Namespace, clusterDomain, host)
	} else {
		fmt.Fprintf(&b, "%s\t%s\n", ip, host)
	}
	if len(pod.Spec.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, h := range pod.Spec.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", h.IP, strings.Join(h.Hostnames, "\t"))
		}
	}
	return b.String()
}

// resolvConf renders the pod's resolv.conf per dnsPolicy and dnsConfig, as
// kubelet does: ClusterFirst (the default) asks the cluster DNS service with the
// namespace's search path and ndots:5; Default uses the host's resolver; None
// only dnsConfig. EKS adds the region's compute.internal domain to the search.
func (c Config) resolvConf(pod *corev1.Pod) (string, error) {
	var servers, search, options []string
	switch pod.Spec.DNSPolicy {
	case corev1.DNSNone:
	case corev1.DNSDefault:
		var err error
		if servers, search, options, err = parseResolvConf(c.hostResolvConf()); err != nil {
			return "", err
		}
	default: // ClusterFirst, ClusterFirstWithHostNet
		if c.ClusterDNS != nil {
			servers = []string{c.ClusterDNS.String()}
		}
		ns := pod.Namespace
		search = []string{ns + ".svc." + clusterDomain, "svc." + clusterDomain, clusterDomain}
		if c.Region != "" {
			search = append(search, c.Region+".compute.internal")
		}
		options = []string{"ndots:5"}
	}
	if dc := pod.Spec.DNSConfig; dc != nil {
		servers = append(servers, dc.Nameservers...)
		search = append(search, dc.Searches...)
		for _, o := range dc.Options {
			options = mergeOption(options, o)
		}
	}
	var b strings.Builder
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	return b.String(), nil
}

// mergeOption sets o in options, replacing an option of the same name.
func mergeOption(options []string, o corev1.PodDNSConfigOption) []string {
	s := o.Name
	if o.Value != nil {
		s += ":" + *o.Value
	}
	for i, existing := range options {
		if strings.SplitN(existing, ":", 2)[0] == o.Name {
			options[i] = s
			return options
		}
	}
	return append(options, s)
}

func parseResolvConf(path string) (servers, search, options []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reading the host's resolver for dnsPolicy Default: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "nameserver":
			servers = append(servers, fields[1])
		case "search":
			search = fields[1:]
		case "options":
			options = append(options, fields[1:]...)
		}
	}
	return servers, search, options, sc.Err()
}
