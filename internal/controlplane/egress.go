package controlplane

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/klog/v2"
)

// The apiserver's traffic to the cluster (kubelets for logs and exec, webhooks,
// node and pod proxies) goes through an HTTP CONNECT proxy on a unix socket, as
// through konnectivity: the "cluster" egress selector. The proxy asks
// the function SetEgressDial set for each connection, so fargo can route a Fargate node's
// kubelet port (the node's address is the pod's, inside its sandbox) to the host
// agent that serves it; everything else is dialled directly.

// DialFunc opens a connection to addr (host:port) for the apiserver.
type DialFunc func(ctx context.Context, addr string) (net.Conn, error)

// egressSocket is DATA/egress.sock, or, when that path is too long for a unix
// socket (108 bytes on Linux), one named after the data dir under /run.
func (c *Config) egressSocket() string {
	p := filepath.Join(c.DataDir, "egress.sock")
	if len(p) < 100 {
		return p
	}
	sum := sha256.Sum256([]byte(c.DataDir))
	return filepath.Join("/run", fmt.Sprintf("fargo-egress-%x.sock", sum[:8]))
}

func (c *Config) egressConfigPath() string {
	return filepath.Join(c.credsDir(), "egress-selector.yaml")
}

// writeEgressConfig writes the apiserver's EgressSelectorConfiguration.
func writeEgressConfig(c *Config) error {
	cfg := fmt.Sprintf(`apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
- name: cluster
  connection:
    proxyProtocol: HTTPConnect
    transport:
      uds:
        udsName: %s
`, c.egressSocket())
	return writeFileAtomic(c.egressConfigPath(), []byte(cfg), 0o600)
}

// SetEgressDial routes the apiserver's connections to the cluster through dial
// from now on (the default dials directly).
func (cp *ControlPlane) SetEgressDial(dial DialFunc) { cp.egressDial.Store(&dial) }

// serveEgress serves the CONNECT proxy until ctx ends.
func (cp *ControlPlane) serveEgress(ctx context.Context, c *Config) error {
	dial := func(ctx context.Context, addr string) (net.Conn, error) {
		if d := cp.egressDial.Load(); d != nil {
			return (*d)(ctx, addr)
		}
		return DirectDial(ctx, addr)
	}
	if err := os.Remove(c.egressSocket()); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("removing the old egress socket: %w", err)
	}
	l, err := net.Listen("unix", c.egressSocket())
	if err != nil {
		return fmt.Errorf("serving the apiserver's egress proxy: %w", err)
	}
	if err := os.Chmod(c.egressSocket(), 0o600); err != nil {
		l.Close()
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		dctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
		defer cancel()
		upstream, err := dial(dctx, r.Host)
		if err != nil {
			klog.V(2).InfoS("egress: dial failed", "address", r.Host, "err", err)
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		client, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			upstream.Close()
			return
		}
		if _, err := client.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
			client.Close()
			upstream.Close()
			return
		}
		go splice(upstream, client, buf)
	}), ReadHeaderTimeout: 30 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	go func() { _ = srv.Serve(l) }()
	return nil
}

// splice copies both ways until either side is done, then closes both.
func splice(upstream, client net.Conn, buffered io.Reader) {
	var once sync.Once
	done := func() {
		once.Do(func() {
			upstream.Close()
			client.Close()
		})
	}
	go func() {
		_, _ = io.Copy(upstream, buffered)
		done()
	}()
	_, _ = io.Copy(client, upstream)
	done()
}

// DirectDial connects as the apiserver would without a proxy.
func DirectDial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}
