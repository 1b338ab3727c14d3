package controlplane

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
)

// etcdStartTimeout bounds how long a start waits for the embedded etcd to serve.
const etcdStartTimeout = 60 * time.Second

// embeddedEtcd is a single-member etcd run in-process, listening on loopback only,
// over TLS with client certificates: without them any local user could read every
// Secret or write any object.
type embeddedEtcd struct {
	etcd      *embed.Etcd
	clientURL string
}

func startEmbeddedEtcd(c *Config, cs *certs) (*embeddedEtcd, error) {
	cfg := embed.NewConfig()
	cfg.Name = "fargo"
	cfg.Dir = c.etcdDir()
	client := url.URL{Scheme: "https", Host: "127.0.0.1:" + strconv.Itoa(c.EtcdClientPort)}
	peer := url.URL{Scheme: "https", Host: "127.0.0.1:" + strconv.Itoa(c.EtcdPeerPort)}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.ClientTLSInfo = etcdTLS(cs.EtcdServer, cs.EtcdCA)
	cfg.PeerTLSInfo = etcdTLS(cs.EtcdPeer, cs.EtcdCA)
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogOutputs = []string{filepath.Join(c.LogDir, "etcd.log")}
	// Metrics are served by the apiserver side; keep etcd quiet and lean.
	cfg.Metrics = "basic"
	cfg.AutoCompactionMode = "periodic"
	cfg.AutoCompactionRetention = "1h"
	// A 2 GiB backend quota is plenty for one cluster and bounds disk use.
	cfg.QuotaBackendBytes = 2 << 30

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting embedded etcd in %s: %w (see %s)", cfg.Dir, err, cfg.LogOutputs[0])
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd failed: %w (see %s)", err, cfg.LogOutputs[0])
	case <-time.After(etcdStartTimeout):
		e.Server.Stop()
		e.Close()
		return nil, fmt.Errorf("embedded etcd not ready after %s (see %s)", etcdStartTimeout, cfg.LogOutputs[0])
	}
	return &embeddedEtcd{etcd: e, clientURL: client.String()}, nil
}

func (e *embeddedEtcd) Close() { e.etcd.Close() }

// etcdTLS serves with kp and accepts only clients with a certificate signed by ca.
func etcdTLS(kp, ca *keyPair) transport.TLSInfo {
	return transport.TLSInfo{CertFile: kp.CertFile, KeyFile: kp.KeyFile, TrustedCAFile: ca.CertFile, ClientCertAuth: true}
}
