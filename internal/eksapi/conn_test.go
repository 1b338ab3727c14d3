package eksapi

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// serveTLS serves s on a loopback port with a throw-away certificate.
func serveTLS(t *testing.T, s *Server) string {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.crt"), filepath.Join(dir, "c.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(ctx, l, certFile, keyFile) }()
	t.Cleanup(func() { cancel(); <-done })
	return l.Addr().String()
}

func dialTLS(t *testing.T, addr string) *tls.Conn {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Clients trickling a body byte by byte are cut off after the read timeout instead
// of holding their connections open for as long as they like.
func TestSlowClientsAreCutOff(t *testing.T) {
	defer func(d time.Duration) { ReadTimeout = d }(ReadTimeout)
	ReadTimeout = 2 * time.Second
	s, _ := testServer(t)
	addr := serveTLS(t, s)
	const n = 20
	closed := make(chan time.Duration, n)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		c := dialTLS(t, addr)
		fmt.Fprintf(c, "POST /clusters/demo/fargate-profiles HTTP/1.1\r\nHost: %s\r\nContent-Length: 1000\r\n"+
			"Authorization: AWS4-HMAC-SHA256 Credential=%s/20261201/us-west-2/eks/aws4_request, SignedHeaders=host;x-amz-date, Signature=%s\r\n"+
			"X-Amz-Date: %s\r\n\r\n", addr, recordedKey, strings.Repeat("0", 64), time.Now().UTC().Format("20060102T150405Z"))
		wg.Add(2)
		go func() { // a byte every 500 ms, until the server hangs up
			defer wg.Done()
			for range 40 {
				if _, err := c.Write([]byte("{")); err != nil {
					return
				}
				time.Sleep(500 * time.Millisecond)
			}
		}()
		go func() {
			defer wg.Done()
			_, _ = io.Copy(io.Discard, c)
			closed <- time.Since(start)
		}()
		_ = i
	}
	deadline := time.After(10 * time.Second)
	for range n {
		select {
		case d := <-closed:
			if d < ReadTimeout-time.Second {
				t.Errorf("a connection was closed after %s, before the read timeout", d)
			}
		case <-deadline:
			t.Fatalf("slow connections still open 10 s after a %s read timeout", ReadTimeout)
		}
	}
	wg.Wait()
}

// With X-Amz-Content-Sha256 the signature is checked before the body is read: a
// forged request is answered at once, with the body never sent.
func TestForgedSignatureRefusedBeforeBody(t *testing.T) {
	s, _ := testServer(t)
	addr := serveTLS(t, s)
	c := dialTLS(t, addr)
	fmt.Fprintf(c, "POST /clusters/demo/fargate-profiles HTTP/1.1\r\nHost: %s\r\nContent-Length: 1000\r\n"+
		"Authorization: AWS4-HMAC-SHA256 Credential=%s/%s/us-west-2/eks/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=%s\r\n"+
		"X-Amz-Content-Sha256: %s\r\nX-Amz-Date: %s\r\n\r\n", addr, recordedKey, time.Now().UTC().Format("20060102"),
		strings.Repeat("0", 64), strings.Repeat("a", 64), time.Now().UTC().Format("20060102T150405Z"))
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	line := make([]byte, 12)
	if _, err := io.ReadFull(c, line); err != nil {
		t.Fatalf("no answer before the body was sent: %v", err)
	}
	if string(line) != "HTTP/1.1 403" {
		t.Errorf("answer %q, want HTTP/1.1 403", line)
	}
}
