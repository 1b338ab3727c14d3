// Package kubeletapi is the part of kubelet's HTTP API the apiserver uses for
// `kubectl logs` and `kubectl exec`, served by a host agent for the Fargate nodes
// on its host: GET /containerLogs/{namespace}/{pod}/{container} and
// /exec/{namespace}/{pod}/{container}, with kubelet's query parameters and
// streaming protocols (k8s.io/cri-streaming).
//
// The apiserver reaches a node at its InternalIP, which for a Fargate node is the
// pod's own address inside the sandbox; so it does not dial the host directly but
// tunnels through fargo's egress proxy (controlplane), which hands connections
// for a node's kubelet port to Connect. Each connection gets a serving
// certificate for the node IP it was meant for, signed by the cluster CA (the
// apiserver verifies it), and must present a client certificate of the cluster CA
// in group system:masters (the apiserver's kubelet client).
package kubeletapi

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"k8s.io/klog/v2"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// Port is the kubelet port Fargate nodes advertise.
const Port = 10250

// PodLookup finds the sandbox that runs pod namespace/name on this host.
type PodLookup func(ctx context.Context, namespace, name string) (sandbox string, err error)

// Server serves the kubelet API for one host.
type Server struct {
	runtime runtime.Runtime
	pods    PodLookup
	certs   *issuer
	tls     *tls.Config
	http    *http.Server
	conns   chan net.Conn
	once    sync.Once
}

// New returns a server for rt's containers, minting serving certificates with
// the cluster CA.
func New(rt runtime.Runtime, pods PodLookup, ca *x509.Certificate, caKey crypto.Signer) (*Server, error) {
	certs, err := newIssuer(ca, caKey)
	if err != nil {
		return nil, err
	}
	s := &Server{runtime: rt, pods: pods, certs: certs, conns: make(chan net.Conn)}
	clients := x509.NewCertPool()
	clients.AddCert(ca)
	s.tls = &tls.Config{
		MinVersion: tls.VersionTLS12,
		ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs:  clients,
		NextProtos: []string{"http/1.1"}, // streaming upgrades need HTTP/1.1
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			host, _, err := net.SplitHostPort(hello.Conn.LocalAddr().String())
			if err != nil {
				return nil, err
			}
			return s.certs.forIP(net.ParseIP(host))
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !slices.Contains(cs.PeerCertificates[0].Subject.Organization, "system:masters") {
				return errors.New("kubelet API: client is not in group system:masters")
			}
			return nil
		},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", s.containerLogs)
	for _, p := range []string{"/exec/{namespace}/{pod}/{container}", "/exec/{namespace}/{pod}/{uid}/{container}"} {
		mux.HandleFunc("GET "+p, s.exec)
		mux.HandleFunc("POST "+p, s.exec)
	}
	s.http = &http.Server{Handler: logged(mux), ReadHeaderTimeout: 30 * time.Second,
		ErrorLog: nil}
	return s, nil
}

// Serve serves connections handed over by Connect until ctx ends.
func (s *Server) Serve(ctx context.Context) {
	l := &chanListener{conns: s.conns, done: ctx.Done()}
	go func() {
		<-ctx.Done()
		_ = s.http.Close()
	}()
	_ = s.http.Serve(tls.NewListener(l, s.tls))
}

// Connect returns a connection to the kubelet API of the node with address ip,
// as if dialled at ip:Port.
func (s *Server) Connect(ctx context.Context, ip net.IP) (net.Conn, error) {
	client, server := net.Pipe()
	addr := &net.TCPAddr{IP: ip, Port: Port}
	select {
	case s.conns <- &addressedConn{Conn: server, local: addr}:
		return &addressedConn{Conn: client, remote: addr}, nil
	case <-ctx.Done():
		client.Close()
		server.Close()
		return nil, fmt.Errorf("connecting to the kubelet API of %s: %w", ip, ctx.Err())
	}
}

// addressedConn is one end of a pipe with the addresses of the connection it
// stands for (the serving certificate follows LocalAddr).
type addressedConn struct {
	net.Conn
	local, remote net.Addr
}

func (c *addressedConn) LocalAddr() net.Addr {
	if c.local != nil {
		return c.local
	}
	return c.Conn.LocalAddr()
}

func (c *addressedConn) RemoteAddr() net.Addr {
	if c.remote != nil {
		return c.remote
	}
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}
}

type chanListener struct {
	conns <-chan net.Conn
	done  <-chan struct{}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error   { return nil }
func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4zero, Port: Port} }

// logged logs each request at -v 2, as kubelet's server does.
func logged(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h.ServeHTTP(w, r)
		klog.V(2).InfoS("kubelet API", "method", r.Method, "path", r.URL.Path, "duration", time.Since(start).String())
	})
}

// httpError writes err with the status it maps to: 404 for a missing pod or
// container, 400 for bad input, 500 otherwise.
func httpError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	var bad badRequest
	switch {
	case errors.Is(err, runtime.ErrNotFound):
		code = http.StatusNotFound
	case errors.As(err, &bad):
		code = http.StatusBadRequest
	}
	http.Error(w, err.Error(), code)
}

type badRequest struct{ error }

func intParam(r *http.Request, name string) (int64, bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, false, badRequest{fmt.Errorf("query parameter %s=%q: want a non-negative integer", name, v)}
	}
	return n, true, nil
}
