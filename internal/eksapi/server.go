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
	"net"
	"net/http"
	"time"

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
}

// New builds the handler.
func New(cfg Config) *Server {
	s := &Server{cluster: cfg.Cluster, desc: cfg.Description, client: cfg.Client,
		creds: credentials{keys: map[string]string{cfg.Keys.AccessKeyID: cfg.Keys.SecretAccessKey}}, mux: http.NewServeMux()}
	s.mux.HandleFunc("POST /clusters/{name}/fargate-profiles", s.clusterScoped(s.createProfile))
	s.mux.HandleFunc("GET /clusters/{name}/fargate-profiles", s.clusterScoped(s.listProfiles))
	s.mux.HandleFunc("GET /clusters/{name}/fargate-profiles/{profile}", s.clusterScoped(s.describeProfile))
	s.mux.HandleFunc("DELETE /clusters/{name}/fargate-profiles/{profile}", s.clusterScoped(s.deleteProfile))
	s.mux.HandleFunc("GET /clusters/{name}", s.clusterScoped(s.describeCluster))
	s.mux.HandleFunc("POST /tags/{arn...}", s.handle(s.tagResource))
	s.mux.HandleFunc("DELETE /tags/{arn...}", s.handle(s.untagResource))
	s.mux.HandleFunc("GET /tags/{arn...}", s.handle(s.listTags))
	return s
}

// ServeHTTP authenticates every request before routing it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		(&apiError{Status: http.StatusBadRequest, Type: "InvalidRequestException", Message: "request body unreadable or larger than 1 MiB"}).write(w)
		return
	}
	if aerr := s.verify(r.Context(), r, body); aerr != nil {
		klog.V(2).InfoS("EKS API request refused", "method", r.Method, "path", r.URL.Path, "error", aerr.Type)
		aerr.write(w)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	s.mux.ServeHTTP(w, r)
}

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

func decode(r *http.Request, into any) *apiError {
	if err := json.NewDecoder(r.Body).Decode(into); err != nil && !errors.Is(err, io.EOF) {
		return &apiError{Status: http.StatusBadRequest, Type: "InvalidRequestException", Message: "request body is not valid JSON: " + err.Error()}
	}
	return nil
}

// Serve serves the API over TLS on addr until ctx ends.
func (s *Server) Serve(ctx context.Context, l net.Listener, certFile, keyFile string) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
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
