package kubeletapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"k8s.io/klog/v2"

	"github.com/fargo-dev/fargo/internal/network/netns"
)

// Endpoints serve the kubelet API at each Fargate node's own address: a
// listener on <pod IP>:10250 inside the sandbox's network namespace, where a
// kubelet listens on its node, so a pod (metrics-server) reaches a Fargate node
// at its InternalIP like any node. As on EKS Fargate, port 10250 of the pod's
// own address is the kubelet's. Requests there are authenticated and
// authorized by the apiserver (Access).
type Endpoints struct {
	conns chan net.Conn
	done  <-chan struct{}

	mu   sync.Mutex
	open map[string]net.Listener // by sandbox
}

// ServeEndpoints starts serving node endpoints until ctx ends; Open adds one.
func (s *Server) ServeEndpoints(ctx context.Context, access Access, clientCA *x509.Certificate) *Endpoints {
	e := &Endpoints{conns: make(chan net.Conn), done: ctx.Done(), open: map[string]net.Listener{}}
	clients := x509.NewCertPool()
	clients.AddCert(clientCA)
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		ClientAuth:     tls.VerifyClientCertIfGiven,
		ClientCAs:      clients,
		NextProtos:     []string{"http/1.1"},
		GetCertificate: s.tls.GetCertificate, // by the address the connection came to
	}
	srv := &http.Server{Handler: logged(access.filter(s.mux)), ReadHeaderTimeout: 30 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
		e.mu.Lock()
		defer e.mu.Unlock()
		for id, l := range e.open {
			_ = l.Close()
			delete(e.open, id)
		}
	}()
	go func() { _ = srv.Serve(tls.NewListener(&chanListener{conns: e.conns, done: ctx.Done()}, cfg)) }()
	return e
}

// Open listens at ip:10250 in sandbox id's network namespace, unless it
// already does.
func (e *Endpoints) Open(id, netnsPath string, ip net.IP) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.open[id]; ok {
		return nil
	}
	addr := net.JoinHostPort(ip.String(), strconv.Itoa(Port))
	var l net.Listener
	if err := netns.Do(netnsPath, func() (err error) { l, err = net.Listen("tcp", addr); return err }); err != nil {
		return fmt.Errorf("kubelet API at %s in sandbox %s: %w", addr, id, err)
	}
	e.open[id] = l
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			select {
			case e.conns <- c:
			case <-e.done:
				c.Close()
				return
			}
		}
	}()
	klog.V(2).InfoS("kubelet API listening in the sandbox", "sandbox", id, "address", addr)
	return nil
}

// Close stops listening in sandbox id's namespace (before it is torn down:
// the socket would keep the namespace alive).
func (e *Endpoints) Close(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if l, ok := e.open[id]; ok {
		_ = l.Close()
		delete(e.open, id)
	}
}
