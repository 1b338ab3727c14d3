package controlplane

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// checkExternalEtcd fails early, with the endpoints named, when the external etcd
// cluster cannot be reached; kube-apiserver would otherwise retry silently.
func checkExternalEtcd(ctx context.Context, c *Config) error {
	var tlsConfig *tls.Config
	if c.EtcdCAFile != "" || c.EtcdCertFile != "" {
		info := transport.TLSInfo{TrustedCAFile: c.EtcdCAFile, CertFile: c.EtcdCertFile, KeyFile: c.EtcdKeyFile}
		var err error
		if tlsConfig, err = info.ClientConfig(); err != nil {
			return fmt.Errorf("loading etcd TLS files: %w", err)
		}
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.EtcdServers, DialTimeout: 5 * time.Second, TLS: tlsConfig})
	if err != nil {
		return fmt.Errorf("connecting to etcd %v: %w", c.EtcdServers, err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var lastErr error
	for _, ep := range c.EtcdServers {
		st, err := cli.Status(ctx, ep)
		if err != nil {
			lastErr = err
			continue
		}
		if v := st.Version; !etcdVersionOK(v) {
			return fmt.Errorf("etcd at %s is version %s; Kubernetes 1.37 needs etcd 3.5 or newer", ep, v)
		}
		return nil
	}
	return fmt.Errorf("cannot reach etcd at %v (check --etcd-servers and the etcd TLS flags): %w", c.EtcdServers, lastErr)
}

// etcdVersionOK reports whether v (major.minor.patch) is 3.5 or newer.
func etcdVersionOK(v string) bool {
	var major, minor int
	if _, err := fmt.Sscanf(v, "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 3 || major == 3 && minor >= 5
}
