package kubeletapi

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/fargo-dev/fargo/internal/runtime"
)

func testCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	return ca, key
}

func clientCert(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, org string) tls.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "client", Organization: []string{org}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// serve runs s on a loopback port until the test ends.
func serve(t *testing.T, s *Server) (context.Context, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ctx, l)
	return ctx, l.Addr().String()
}

// The server presents a certificate for the node IP the connection was meant
// for, and only lets the apiserver's kind of client (system:masters) in.
func TestServerTLS(t *testing.T) {
	ca, caKey := testCA(t)
	certs, err := NewCAIssuer(ca, caKey)
	if err != nil {
		t.Fatal(err)
	}
	node := net.ParseIP("192.168.64.9")
	s, err := New(nil, nil, func(_ context.Context, ip net.IP) bool { return ip.Equal(node) }, nil, certs, ca)
	if err != nil {
		t.Fatal(err)
	}
	ctx, addr := serve(t, s)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	get := func(org string) (string, error) {
		tr := &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{clientCert(t, ca, caKey, org)}},
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return Dial(ctx, addr, net.ParseIP("192.168.64.9"))
			},
		}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://192.168.64.9:10250/healthz")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), nil
	}
	if got, err := get("system:masters"); err != nil || got != "ok" {
		t.Errorf("apiserver client: %q, %v; want ok over a certificate valid for 192.168.64.9", got, err)
	}
	if _, err := get("system:authenticated"); err == nil {
		t.Error("a client outside system:masters got in")
	}
	// Only this host's nodes are served: no certificate is made for another address.
	if c, err := Dial(ctx, addr, net.ParseIP("10.0.0.1")); err == nil {
		c.Close()
		t.Error("a connection for an address that is not this host's node was accepted")
	}
}

// A connection addressed to node A serves only A's pod: the pod lookup is asked
// for the node the connection came to, and another node's pod is a 404.
func TestRequestsScopedToTheAddressedNode(t *testing.T) {
	ca, caKey := testCA(t)
	certs, err := NewCAIssuer(ca, caKey)
	if err != nil {
		t.Fatal(err)
	}
	nodeA, nodeB := net.ParseIP("192.168.64.9"), net.ParseIP("192.168.64.10")
	podNode := map[string]net.IP{"pod-a": nodeA, "pod-b": nodeB}
	var asked []string
	lookup := func(_ context.Context, node net.IP, _, name string) (string, error) {
		asked = append(asked, name+"@"+node.String())
		return "", fmt.Errorf("pod %s is not on node %s: %w", name, node, runtime.ErrNotFound)
	}
	isNode := func(_ context.Context, ip net.IP) bool { return ip.Equal(nodeA) || ip.Equal(nodeB) }
	s, err := New(nil, lookup, isNode, nil, certs, ca)
	if err != nil {
		t.Fatal(err)
	}
	_, addr := serve(t, s)
	resp, err := apiserverClient(t, ca, caKey, addr, nodeA).Get("https://192.168.64.9:10250/containerLogs/default/pod-b/c")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("pod-b (on %s) through node A: %d, want 404", podNode["pod-b"], resp.StatusCode)
	}
	if len(asked) != 1 || asked[0] != "pod-b@"+nodeA.String() {
		t.Errorf("lookups %v, want pod-b asked for node A", asked)
	}
}

// apiserverClient talks to node's kubelet API through the agent at addr, as the
// apiserver does (a system:masters client certificate of the cluster CA).
func apiserverClient(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, addr string, node net.IP) *http.Client {
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{clientCert(t, ca, caKey, "system:masters")}},
		DialContext:     func(ctx context.Context, _, _ string) (net.Conn, error) { return Dial(ctx, addr, node) },
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}
