package kubeletapi

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"sync"
	"time"
)

// CAIssuer mints a serving certificate per node IP, signed by the cluster CA,
// all with one key; they live in memory and are reminted after a restart. It is
// for an agent that holds the CA key (the one inside `fargo server`).
type CAIssuer struct {
	ca    *x509.Certificate
	caKey crypto.Signer
	key   *ecdsa.PrivateKey

	mu    sync.Mutex
	certs map[string]*tls.Certificate
}

// certLife is how long a serving certificate is valid; reminted a day before.
const certLife = 365 * 24 * time.Hour

// NewCAIssuer returns an issuer signing with ca and caKey.
func NewCAIssuer(ca *x509.Certificate, caKey crypto.Signer) (*CAIssuer, error) {
	if ca == nil || caKey == nil {
		return nil, fmt.Errorf("kubelet API: no cluster CA to sign serving certificates with")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("kubelet API: generating the serving key: %w", err)
	}
	return &CAIssuer{ca: ca, caKey: caKey, key: key, certs: map[string]*tls.Certificate{}}, nil
}

// ForIP implements Issuer.
func (i *CAIssuer) ForIP(_ context.Context, ip net.IP) (*tls.Certificate, error) {
	if ip == nil {
		return nil, fmt.Errorf("kubelet API: connection without a node address")
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if c, ok := i.certs[ip.String()]; ok && time.Until(c.Leaf.NotAfter) > 24*time.Hour {
		return c, nil
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "system:node:" + ip.String(), Organization: []string{"system:nodes"}},
		IPAddresses:  []net.IP{ip},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.Add(certLife),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, i.ca, &i.key.PublicKey, i.caKey)
	if err != nil {
		return nil, fmt.Errorf("kubelet API: signing a serving certificate for %s: %w", ip, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	c := &tls.Certificate{Certificate: [][]byte{der, i.ca.Raw}, PrivateKey: i.key, Leaf: leaf}
	i.certs[ip.String()] = c
	return c, nil
}
