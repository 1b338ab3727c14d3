// Package eksapi serves the Fargate-profile operations of the EKS REST API (API
// version 2017-11-01) as a façade over the FargateProfile objects, so the AWS CLI,
// SDKs, Terraform and CDK work against fargo with --endpoint-url. Requests must be
// SigV4-signed with the access key fargo generates (or is given).
package eksapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"reflect"
	"strings"
	"time"

	"golang.org/x/net/netutil"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/profile"
)

// maxBody bounds request bodies; the largest EKS request here is a few KiB.
const maxBody = 1 << 20

// ClusterDescription is what DescribeCluster reports beyond the profile rules' view.
type ClusterDescription struct {
	Version     string
	Endpoint    string
	ServiceCIDR string
	SubnetIDs   []string
	VPCID       string
	CABundle    []byte
	CreatedAt   time.Time
}

// Config is what the API needs.
type Config struct {
	Cluster     profile.Cluster
	Description ClusterDescription
	Keys        Keys
	// Client reads and writes FargateProfiles, uncached.
	Client client.Client
}

// Server is the EKS API handler.
type Server struct {
	cluster profile.Cluster
	desc    ClusterDescription
	creds   credentials
	client  client.Client
	mux     *http.ServeMux
	now     func() time.Time
}

// New builds the handler.
func New(cfg Config) *Server {
	s := &Server{cluster: cfg.Cluster, desc: cfg.Description, client: cfg.Client,
		creds: credentials{keys: map[string]string{cfg.Keys.AccessKeyID: cfg.Keys.SecretAccessKey}}, mux: http.NewServeMux(), now: time.Now}
	s.mux.HandleFunc("POST /clusters/{name}/fargate-profiles", s.clusterScoped(s.createProfile))
	s.mux.HandleFunc("GET /clusters/{name}/fargate-profiles", s.clusterScoped(s.listProfiles))
	s.mux.HandleFunc("GET /clusters/{name}/fargate-profiles/{profile}", s.clusterScoped(s.describeProfile))
	s.mux.HandleFunc("DELETE /clusters/{name}/fargate-profiles/{profile}", s.clusterScoped(s.deleteProfile))
	s.mux.HandleFunc("POST /clusters/{name}/node-groups", s.clusterScoped(s.createNodegroup))
	s.mux.HandleFunc("GET /clusters/{name}/node-groups", s.clusterScoped(s.listNodegroups))
	s.mux.HandleFunc("DELETE /clusters/{name}/node-groups/{nodegroup}", s.clusterScoped(s.deleteNodegroup))
	s.mux.HandleFunc("GET /clusters/{name}/node-groups/{nodegroup}", s.clusterScoped(s.describeNodegroup))
	s.mux.HandleFunc("POST /clusters/{name}/node-groups/{nodegroup}/update-config", s.clusterScoped(s.updateNodegroupConfig))
	s.mux.HandleFunc("GET /clusters/{name}", s.clusterScoped(s.describeCluster))
	s.mux.HandleFunc("POST /tags/{arn...}", s.handle(s.tagResource))
	s.mux.HandleFunc("DELETE /tags/{arn...}", s.handle(s.untagResource))
	s.mux.HandleFunc("GET /tags/{arn...}", s.handle(s.listTags))
	return s
}

// ServeHTTP authenticates every request before routing it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, aerr := s.authenticate(w, r)
	if aerr != nil {
		// Hang up rather than read an unauthenticated body to keep the connection.
		w.Header().Set("Connection", "close")
		klog.V(2).InfoS("EKS API request refused", "method", r.Method, "path", r.URL.Path, "error", aerr.Type)
		aerr.write(w)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.unrouted(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// unrouted answers a path or method the API does not have, as an EKS error.
func (s *Server) unrouted(w http.ResponseWriter, r *http.Request) {
	probe := &statusProbe{header: http.Header{}}
	s.mux.ServeHTTP(probe, r)
	if probe.code == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", probe.header.Get("Allow"))
		(&apiError{Status: http.StatusMethodNotAllowed, Type: "MethodNotAllowedException",
			Message: fmt.Sprintf("%s is not supported for %s.", r.Method, r.URL.Path)}).write(w)
		return
	}
	(&apiError{Status: http.StatusNotFound, Type: "UnknownOperationException",
		Message: fmt.Sprintf("No EKS operation at %s %s; fargo serves the Fargate profile, tag and DescribeCluster operations.", r.Method, r.URL.Path)}).write(w)
}

// statusProbe keeps what the mux would answer for an unrouted request.
type statusProbe struct {
	header http.Header
	code   int
}

func (p *statusProbe) Header() http.Header         { return p.header }
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *statusProbe) WriteHeader(code int)        { p.code = code }

// handlerFunc handles one operation, returning the response body or an error.
type handlerFunc func(ctx context.Context, r *http.Request) (any, *apiError)

func (s *Server) handle(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		out, aerr := h(r.Context(), r)
		if aerr != nil {
			aerr.write(w)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(out); err != nil {
			klog.ErrorS(err, "writing EKS API response", "path", r.URL.Path)
		}
	}
}

// clusterScoped answers ResourceNotFoundException for any cluster but this one.
func (s *Server) clusterScoped(h handlerFunc) http.HandlerFunc {
	return s.handle(func(ctx context.Context, r *http.Request) (any, *apiError) {
		if name := r.PathValue("name"); name != s.cluster.Name {
			return nil, &apiError{Status: http.StatusNotFound, Type: profile.ResourceNotFound, Message: fmt.Sprintf("No cluster found for name: %s.", name), ClusterName: name}
		}
		return h(ctx, r)
	})
}

// decode reads the body strictly, as AWS does: unknown fields, trailing data and
// wrong types are refused, in the API's terms rather than Go's.
func decode(r *http.Request, into any) *apiError {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(into)
	if errors.Is(err, io.EOF) {
		return nil // no body: every member is optional to the decoder
	}
	if err == nil && dec.More() {
		err = errors.New("data after the JSON object")
	} else if err == nil {
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = errors.New("data after the JSON object")
		}
	}
	if err == nil {
		return nil
	}
	return &apiError{Status: http.StatusBadRequest, Type: "BadRequestException", Message: jsonMessage(err)}
}

// jsonMessage explains a decoding error without naming Go types.
func jsonMessage(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return fmt.Sprintf("The request body must be a JSON object, not a %s.", typeErr.Value)
		}
		return fmt.Sprintf("Invalid type for member %s: got a JSON %s, expected %s.", field, typeErr.Value, jsonKind(typeErr.Type.Kind()))
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("The request body is not valid JSON (at byte %d).", syntaxErr.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Sprintf("Unknown member %s in the request body.", strings.TrimPrefix(err.Error(), "json: unknown field "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "The request body ends in the middle of the JSON object."
	}
	return "The request body is not a valid JSON object: " + err.Error()
}

func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Bool:
		return "a boolean"
	}
	return "a number"
}

// Limits on connections, so that slow or idle clients cannot hold the API: a
// request (TLS handshake, headers and body) must arrive within ReadTimeout.
var (
	ReadTimeout    = 20 * time.Second
	maxConnections = 256
)

// Serve serves the API over TLS on l until ctx ends.
func (s *Server) Serve(ctx context.Context, l net.Listener, certFile, keyFile string) error {
	l = netutil.LimitListener(l, maxConnections)
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: ReadTimeout,
		WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 64 << 10,
		ErrorLog: log.New(io.Discard, "", 0)}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.ServeTLS(l, certFile, keyFile); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving EKS API: %w", err)
	}
	return nil
}
