package controlplane

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// writeKubeconfig writes a kubeconfig for user kp at path, with the CA and the
// client credentials embedded so the file can be copied elsewhere.
func writeKubeconfig(path, cluster, server string, ca, kp *keyPair) error {
	keyPEM, err := encodeKeyPEM(kp.Key)
	if err != nil {
		return err
	}
	user := kp.Cert.Subject.CommonName
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[cluster] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: encodeCertPEM(ca.Cert)}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: encodeCertPEM(kp.Cert), ClientKeyData: keyPEM}
	cfg.Contexts[cluster] = &clientcmdapi.Context{Cluster: cluster, AuthInfo: user}
	cfg.CurrentContext = cluster
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("encoding kubeconfig %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating directory for %s: %w", path, err)
	}
	return writeFileAtomic(path, data, 0o600)
}
