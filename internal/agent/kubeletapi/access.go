package kubeletapi

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"k8s.io/apiserver/pkg/apis/apiserver"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/apiserver/pkg/server/options"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
)

// Access decides who may use the kubelet API at a node's own address, as
// kubelet's webhook modes do: a client certificate of the cluster CA or a
// bearer token the apiserver confirms (TokenReview) names the user, and the
// apiserver decides (SubjectAccessReview) on the node subresource the path
// maps to. Anonymous requests are refused.
type Access struct {
	Authenticator authenticator.Request
	Authorizer    authorizer.Authorizer
	// NodeName names the node at an address.
	NodeName func(ip net.IP) string
}

// NewAccess asks the apiserver behind cs, trusting client certificates of ca;
// answers are cached as kubelet's defaults (2 min for tokens, 5 min allowed,
// 30 s denied).
func NewAccess(cs kubernetes.Interface, ca *x509.Certificate, nodeName func(net.IP) string) (Access, error) {
	caContent, err := dynamiccertificates.NewStaticCAContent("cluster-ca", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}))
	if err != nil {
		return Access{}, fmt.Errorf("kubelet API access: %w", err)
	}
	authn, _, err := authenticatorfactory.DelegatingAuthenticatorConfig{
		Anonymous:                          &apiserver.AnonymousAuthConfig{Enabled: false},
		TokenAccessReviewClient:            cs.AuthenticationV1(),
		TokenAccessReviewTimeout:           10 * time.Second,
		WebhookRetryBackoff:                options.DefaultAuthWebhookRetryBackoff(),
		CacheTTL:                           2 * time.Minute,
		ClientCertificateCAContentProvider: caContent,
	}.New()
	if err != nil {
		return Access{}, fmt.Errorf("kubelet API authentication: %w", err)
	}
	authz, err := authorizerfactory.DelegatingAuthorizerConfig{
		SubjectAccessReviewClient: cs.AuthorizationV1(),
		AllowCacheTTL:             5 * time.Minute,
		DenyCacheTTL:              30 * time.Second,
		WebhookRetryBackoff:       options.DefaultAuthWebhookRetryBackoff(),
	}.New()
	if err != nil {
		return Access{}, fmt.Errorf("kubelet API authorization: %w", err)
	}
	return Access{Authenticator: authn, Authorizer: authz, NodeName: nodeName}, nil
}

// filter lets through the requests the user may make, answering others 401 or
// 403 with kubelet's words.
func (a Access) filter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, ok, err := a.Authenticator.AuthenticateRequest(r)
		if err != nil || !ok {
			if err != nil {
				klog.V(2).InfoS("kubelet API: unable to authenticate the request", "err", err)
			}
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		attrs := a.attributes(resp.User, r)
		decision, reason, err := a.Authorizer.Authorize(r.Context(), attrs)
		if err != nil {
			klog.ErrorS(err, "kubelet API: authorization error", "user", attrs.User.GetName(), "verb", attrs.Verb, "subresource", attrs.Subresource)
		}
		if decision != authorizer.DecisionAllow {
			klog.V(2).InfoS("kubelet API: forbidden", "user", attrs.User.GetName(), "verb", attrs.Verb, "subresource", attrs.Subresource, "reason", reason)
			http.Error(w, fmt.Sprintf("Forbidden (user=%s, verb=%s, resource=%s, subresource=%s)", attrs.User.GetName(), attrs.Verb, attrs.Resource, attrs.Subresource), http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// attributes are kubelet's for a request: the node by name, the verb from
// the method, the subresource from the path (stats, metrics, log, spec; the
// rest is proxy).
func (a Access) attributes(u user.Info, r *http.Request) authorizer.AttributesRecord {
	verb := map[string]string{http.MethodPost: "create", http.MethodPut: "update", http.MethodPatch: "patch", http.MethodDelete: "delete"}[r.Method]
	if verb == "" {
		verb = "get"
	}
	sub := "proxy"
	for prefix, s := range map[string]string{"/stats": "stats", "/metrics": "metrics", "/logs": "log", "/spec": "spec"} {
		if r.URL.Path == prefix || strings.HasPrefix(r.URL.Path, prefix+"/") {
			sub = s
		}
	}
	return authorizer.AttributesRecord{User: u, Verb: verb, APIVersion: "v1", Resource: "nodes", Subresource: sub,
		Name: a.NodeName(nodeOf(r)), ResourceRequest: true, Path: r.URL.Path}
}
