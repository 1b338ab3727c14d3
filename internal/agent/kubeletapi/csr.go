package kubeletapi

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// CSRIssuer gets each node IP's serving certificate through the CSR API, as
// kubelet's serverTLSBootstrap does: a kubernetes.io/kubelet-serving request
// for system:node:<node>, approved by the agent (its credentials may approve)
// and signed by kube-controller-manager with the cluster CA. For agents without
// the CA key (`fargo agent`). Certificates live in memory.
type CSRIssuer struct {
	Client kubernetes.Interface
	// NodeName is the node at ip.
	NodeName func(ip net.IP) string

	mu       sync.Mutex
	certs    map[string]*tls.Certificate
	requests singleflight.Group // a burst for one node makes one CSR
}

// ForIP implements Issuer.
func (i *CSRIssuer) ForIP(ctx context.Context, ip net.IP) (*tls.Certificate, error) {
	if ip == nil {
		return nil, fmt.Errorf("kubelet API: connection without a node address")
	}
	key := ip.String()
	i.mu.Lock()
	c, ok := i.certs[key]
	i.mu.Unlock()
	if ok && time.Until(c.Leaf.NotAfter) > time.Hour {
		return c, nil
	}
	v, err, _ := i.requests.Do(key, func() (any, error) {
		c, err := i.request(context.WithoutCancel(ctx), ip)
		if err != nil {
			return nil, err
		}
		i.mu.Lock()
		if i.certs == nil {
			i.certs = map[string]*tls.Certificate{}
		}
		i.certs[key] = c
		i.mu.Unlock()
		return c, nil
	})
	if err != nil {
		return nil, fmt.Errorf("kubelet API: serving certificate for %s: %w", ip, err)
	}
	return v.(*tls.Certificate), nil
}

func (i *CSRIssuer) request(ctx context.Context, ip net.IP) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	node := i.NodeName(ip)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "system:node:" + node, Organization: []string{"system:nodes"}}, IPAddresses: []net.IP{ip}}, key)
	if err != nil {
		return nil, err
	}
	csr := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "fargo-serving-"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName: certificatesv1.KubeletServingSignerName,
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth},
		},
	}
	csrs := i.Client.CertificatesV1().CertificateSigningRequests()
	if csr, err = csrs.Create(ctx, csr, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("requesting a certificate for node %s: %w", node, err)
	}
	csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "FargoAgentApprove",
		Message: "the fargo agent that runs node " + node + " approved its serving certificate"})
	if _, err := csrs.UpdateApproval(ctx, csr.Name, csr, metav1.UpdateOptions{}); err != nil {
		return nil, fmt.Errorf("approving certificate request %s: %w", csr.Name, err)
	}
	var signed []byte
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		got, err := csrs.Get(ctx, csr.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, c := range got.Status.Conditions {
			if c.Type == certificatesv1.CertificateFailed || c.Type == certificatesv1.CertificateDenied {
				return false, fmt.Errorf("certificate request %s: %s: %s", csr.Name, c.Reason, c.Message)
			}
		}
		signed = got.Status.Certificate
		return len(signed) > 0, nil
	})
	if err != nil {
		return nil, fmt.Errorf("waiting for kube-controller-manager to sign %s: %w", csr.Name, err)
	}
	var chain [][]byte
	for rest := signed; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		chain = append(chain, b.Bytes)
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("certificate request %s: no certificate in the answer", csr.Name)
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}, nil
}
