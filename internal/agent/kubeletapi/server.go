// Package kubeletapi is the part of kubelet's HTTP API the apiserver uses for
// `kubectl logs`, `exec`, `cp`, `attach` (output only) and `port-forward`, and
// that metrics-server scrapes for `kubectl top`, served by a host agent for the Fargate nodes on
// its host: /containerLogs/{namespace}/{pod}/{container}, /exec/…, /attach/…,
// /portForward/{namespace}/{pod}, /stats/summary and /metrics/resource, with
// kubelet's query parameters and streaming protocols (k8s.io/cri-streaming).
//
// The apiserver reaches a node at its InternalIP, which for a Fargate node is the
// pod's own address inside the sandbox; so it does not dial the host directly but
// tunnels through fargo's egress proxy (controlplane), which finds the node's
// host and dials the agent's listener there (the Host's kubeletEndpoint), naming
// the node in an HTTP CONNECT preamble (Dial). Each connection then gets a
// serving certificate for that node IP, signed by the cluster CA (the apiserver
// verifies it): minted locally where the agent has the CA key, else requested
// through the CSR API as kubelet's serverTLSBootstrap does. The client must
// present a certificate of the cluster CA in group system:masters (the
// apiserver's kubelet client).
//
// Pods reach a Fargate node's kubelet API at the node's own address, as on any
// node: Endpoints listen on <pod IP>:10250 inside each sandbox's network
// namespace, where requests are authenticated and authorized by the apiserver
// (TokenReview, SubjectAccessReview) as kubelet's webhook modes do (Access), so
// metrics-server scrapes Fargate nodes with its service account.
//
// Logs are CRI-format files, read with kubelet's own reader
// (k8s.io/cri-client/pkg/logs), so every option of kubectl logs behaves as on
// a node-group node.
package kubeletapi

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/klog/v2"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// Port is the kubelet port Fargate nodes advertise.
const Port = 10250

// PodLookup finds the sandbox that runs pod namespace/name on the node at nodeIP:
// a connection addressed to one node serves only that node's pod, so RBAC on
// nodes/proxy scoped by node name holds.
type PodLookup func(ctx context.Context, nodeIP net.IP, namespace, name string) (sandbox string, err error)

// NodeCheck says whether the node at ip is one of this host's: connections for
// any other address are refused before a certificate is made for it.
type NodeCheck func(ctx context.Context, ip net.IP) bool

// maxPreamble bounds the CONNECT request a connection opens with.
const maxPreamble = 4096

// Issuer hands out the serving certificate of a node IP.
type Issuer interface {
	ForIP(ctx context.Context, ip net.IP) (*tls.Certificate, error)
}

// Server serves the kubelet API for one host.
type Server struct {
	runtime runtime.Runtime
	pods    PodLookup
	nodes   NodeCheck
	certs   Issuer
	tls     *tls.Config
	http    *http.Server
	mux     *http.ServeMux
	conns   chan net.Conn
	nodePod NodePod
	rates   rates
}

// New returns a server for rt's containers with serving certificates from
// certs, letting in clients with certificates of clientCA.
func New(rt runtime.Runtime, pods PodLookup, nodes NodeCheck, nodePod NodePod, certs Issuer, clientCA *x509.Certificate) (*Server, error) {
	if certs == nil || clientCA == nil || nodes == nil {
		return nil, errors.New("kubelet API: no serving certificates, client CA or node check")
	}
	s := &Server{runtime: rt, pods: pods, nodes: nodes, nodePod: nodePod, certs: certs, conns: make(chan net.Conn)}
	clients := x509.NewCertPool()
	clients.AddCert(clientCA)
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
			return s.certs.ForIP(hello.Context(), net.ParseIP(host))
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
	mux.HandleFunc("GET /stats/summary", s.statsSummary)
	mux.HandleFunc("GET /metrics/resource", s.metricsResource)
	// The process's own metrics (the agent's sandbox steps; in the server, all of fargo's).
	mux.Handle("GET /metrics", legacyregistry.Handler())
	for _, p := range []string{"/exec/{namespace}/{pod}/{container}", "/exec/{namespace}/{pod}/{uid}/{container}"} {
		mux.HandleFunc("GET "+p, s.exec)
		mux.HandleFunc("POST "+p, s.exec)
	}
	for _, p := range []string{"/attach/{namespace}/{pod}/{container}", "/attach/{namespace}/{pod}/{uid}/{container}"} {
		mux.HandleFunc("GET "+p, s.attach)
		mux.HandleFunc("POST "+p, s.attach)
	}
	for _, p := range []string{"/portForward/{namespace}/{pod}", "/portForward/{namespace}/{pod}/{uid}"} {
		mux.HandleFunc("GET "+p, s.portForward)
		mux.HandleFunc("POST "+p, s.portForward)
	}
	s.mux = mux
	s.http = &http.Server{Handler: logged(mux), ReadHeaderTimeout: 30 * time.Second,
		ErrorLog: nil}
	return s, nil
}

// Serve serves the connections l accepts until ctx ends; each opens with an
// HTTP CONNECT naming the node it is for (Dial).
func (s *Server) Serve(ctx context.Context, l net.Listener) {
	go func() {
		<-ctx.Done()
		_ = s.http.Close()
		_ = l.Close()
	}()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go s.accept(ctx, c)
		}
	}()
	_ = s.http.Serve(tls.NewListener(&chanListener{conns: s.conns, done: ctx.Done()}, s.tls))
}

// accept reads a connection's CONNECT preamble and hands it to the TLS server
// as a connection to that node's kubelet port; only this host's nodes are
// served.
func (s *Server) accept(ctx context.Context, c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(&io.LimitedReader{R: c, N: maxPreamble})
	req, err := http.ReadRequest(br)
	if err != nil {
		c.Close()
		return
	}
	host, port, _ := net.SplitHostPort(req.Host)
	ip := net.ParseIP(host)
	if req.Method != http.MethodConnect || ip == nil || port != strconv.Itoa(Port) {
		_, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\n\r\nCONNECT <node-ip>:10250 only\n")
		c.Close()
		return
	}
	if !s.nodes(ctx, ip) {
		_, _ = io.WriteString(c, "HTTP/1.1 404 Not Found\r\n\r\nno node of this host at "+ip.String()+"\n")
		c.Close()
		return
	}
	// What the client sent past the preamble is in br; the rest is unlimited.
	early, _ := br.Peek(br.Buffered())
	rest := io.MultiReader(bytes.NewReader(append([]byte(nil), early...)), c)
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	conn := &addressedConn{Conn: &bufferedConn{Conn: c, r: rest}, local: &net.TCPAddr{IP: ip, Port: Port}, remote: c.RemoteAddr()}
	select {
	case s.conns <- conn:
	case <-ctx.Done():
		c.Close()
	}
}

// sandboxFor finds the sandbox of the request's pod on the node it came to,
// after the request's options parsed (optsErr); else it answers with the error.
func (s *Server) sandboxFor(w http.ResponseWriter, r *http.Request, optsErr error) (string, bool) {
	if optsErr != nil {
		httpError(w, badRequest{optsErr})
		return "", false
	}
	sandbox, err := s.pods(r.Context(), nodeOf(r), r.PathValue("namespace"), r.PathValue("pod"))
	if err != nil {
		httpError(w, err)
		return "", false
	}
	return sandbox, true
}

// nodeOf is the node a request came to: the address its connection was for.
func nodeOf(r *http.Request) net.IP {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok {
		return a.IP
	}
	return nil
}

// Dial connects to the kubelet API of the node at ip through the agent
// listening at endpoint, as the apiserver's egress proxy does.
func Dial(ctx context.Context, endpoint string, ip net.IP) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", endpoint)
	if err != nil {
		return nil, fmt.Errorf("dialling the kubelet API of %s at %s: %w", ip, endpoint, err)
	}
	target := net.JoinHostPort(ip.String(), strconv.Itoa(Port))
	if deadline, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(deadline)
	}
	if _, err := fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target); err != nil {
		c.Close()
		return nil, fmt.Errorf("dialling the kubelet API of %s at %s: %w", ip, endpoint, err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != http.StatusOK {
		c.Close()
		if err == nil {
			err = errors.New(resp.Status)
		}
		return nil, fmt.Errorf("dialling the kubelet API of %s at %s: %w", ip, endpoint, err)
	}
	_ = c.SetDeadline(time.Time{})
	return &bufferedConn{Conn: c, r: br}, nil
}

// bufferedConn reads what its reader buffered before the rest of the connection.
type bufferedConn struct {
	net.Conn
	r io.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// addressedConn is a connection with the addresses of the one it stands for
// (the serving certificate follows LocalAddr).
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
	return c.Conn.RemoteAddr()
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
