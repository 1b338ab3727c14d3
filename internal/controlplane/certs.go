package controlplane

import (
	"crypto/x509"
	"fmt"
	"net"
	"os"
)

// certs are the files the components are started with.
type certs struct {
	CA                *keyPair
	APIServer         *keyPair
	KubeletClient     *keyPair
	Admin             *keyPair
	ControllerManager *keyPair
	Scheduler         *keyPair
	// FrontProxyCA and FrontProxyClient authenticate the apiserver to aggregated
	// API servers (metrics-server and the like) through request headers.
	FrontProxyCA     *keyPair
	FrontProxyClient *keyPair
	// Webhook serves fargo's admission webhooks to the apiserver on loopback.
	Webhook *keyPair
	// EtcdCA is etcd's own CA, apart from the cluster CA, so that no certificate the
	// cluster signs (users, nodes, CSRs) is accepted by etcd.
	EtcdCA *keyPair
	// EtcdServer and EtcdPeer serve the embedded etcd; EtcdClient is the apiserver's.
	EtcdServer, EtcdPeer, EtcdClient *keyPair
	// ServiceAccountKey signs service-account tokens; the apiserver verifies with it too.
	ServiceAccountKey string
}

// ensureCerts creates the cluster PKI on first start and reuses it afterwards,
// re-issuing only leaf certificates that no longer fit (expiry, new addresses).
func ensureCerts(c *Config, advertise net.IP) (*certs, error) {
	dir := c.pkiDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	ca, err := ensureCA(dir, "ca", "fargo-ca")
	if err != nil {
		return nil, err
	}
	out := &certs{CA: ca}
	server := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	client := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	hostname, _ := os.Hostname()
	dnsNames := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
	if hostname != "" {
		dnsNames = append(dnsNames, hostname)
	}
	ips := []net.IP{net.ParseIP("127.0.0.1"), c.serviceIP()}
	for _, ip := range []net.IP{c.BindAddress, advertise} {
		if ip != nil && !ip.IsUnspecified() {
			ips = append(ips, ip)
		}
	}
	specs := []struct {
		into **keyPair
		spec leafSpec
	}{
		{&out.APIServer, leafSpec{Name: "apiserver", CommonName: "kube-apiserver", DNSNames: dnsNames, IPs: ips, Usages: server}},
		{&out.KubeletClient, leafSpec{Name: "apiserver-kubelet-client", CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}, Usages: client}},
		{&out.Admin, leafSpec{Name: "admin", CommonName: "fargo-admin", Organization: []string{"system:masters"}, Usages: client}},
		{&out.ControllerManager, leafSpec{Name: "controller-manager", CommonName: "system:kube-controller-manager", Usages: client}},
		{&out.Scheduler, leafSpec{Name: "scheduler", CommonName: "system:kube-scheduler", Usages: client}},
		{&out.Webhook, leafSpec{Name: "webhook", CommonName: "fargo-webhook", DNSNames: []string{"localhost"}, IPs: []net.IP{net.ParseIP("127.0.0.1")}, Usages: server}},
	}
	for _, s := range specs {
		if *s.into, err = ensureLeaf(dir, ca, s.spec); err != nil {
			return nil, err
		}
	}
	if out.FrontProxyCA, err = ensureCA(dir, "front-proxy-ca", "fargo-front-proxy-ca"); err != nil {
		return nil, err
	}
	if out.FrontProxyClient, err = ensureLeaf(dir, out.FrontProxyCA, leafSpec{Name: "front-proxy-client", CommonName: "front-proxy-client", Usages: client}); err != nil {
		return nil, err
	}
	if err := ensureEtcdCerts(dir, out); err != nil {
		return nil, err
	}
	if out.ServiceAccountKey, err = ensureSigningKey(dir, "service-account"); err != nil {
		return nil, err
	}
	return out, nil
}

// ensureEtcdCerts issues the embedded etcd's certificates. etcd listens on loopback
// only and requires a client certificate from its CA on both the client and peer URLs.
func ensureEtcdCerts(dir string, out *certs) (err error) {
	if out.EtcdCA, err = ensureCA(dir, "etcd-ca", "fargo-etcd-ca"); err != nil {
		return err
	}
	loopback := []net.IP{net.ParseIP("127.0.0.1")}
	both := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	specs := []struct {
		into **keyPair
		spec leafSpec
	}{
		{&out.EtcdServer, leafSpec{Name: "etcd-server", CommonName: "fargo-etcd", DNSNames: []string{"localhost"}, IPs: loopback, Usages: both}},
		{&out.EtcdPeer, leafSpec{Name: "etcd-peer", CommonName: "fargo-etcd-peer", DNSNames: []string{"localhost"}, IPs: loopback, Usages: both}},
		{&out.EtcdClient, leafSpec{Name: "apiserver-etcd-client", CommonName: "kube-apiserver-etcd-client", Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}},
	}
	for _, s := range specs {
		if *s.into, err = ensureLeaf(dir, out.EtcdCA, s.spec); err != nil {
			return err
		}
	}
	return nil
}
