package kubeletapi

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// Requests at a node's address are authorized as kubelet does: the node by
// name, the verb by method, the subresource by path; no user is 401, a denied
// one 403 in kubelet's words.
func TestAccessFilter(t *testing.T) {
	var asked authorizer.Attributes
	access := Access{
		Authenticator: authenticator.RequestFunc(func(r *http.Request) (*authenticator.Response, bool, error) {
			if r.Header.Get("Authorization") != "Bearer good" {
				return nil, false, nil
			}
			return &authenticator.Response{User: &user.DefaultInfo{Name: "system:serviceaccount:kube-system:metrics-server"}}, true, nil
		}),
		Authorizer: authorizer.AuthorizerFunc(func(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
			asked = a
			if a.GetSubresource() == "metrics" || a.GetSubresource() == "stats" {
				return authorizer.DecisionAllow, "", nil
			}
			return authorizer.DecisionNoOpinion, "no rule", nil
		}),
		NodeName: func(ip net.IP) string { return "fargate-ip-" + strings.ReplaceAll(ip.String(), ".", "-") },
	}
	h := access.filter(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("served")) }))
	call := func(method, path, token string) (int, string) {
		r := httptest.NewRequest(method, path, nil)
		r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.ParseIP("192.168.100.7"), Port: Port}))
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code, strings.TrimSpace(w.Body.String())
	}
	if code, _ := call("GET", "/metrics/resource", ""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", code)
	}
	if code, _ := call("GET", "/metrics/resource", "bad"); code != http.StatusUnauthorized {
		t.Errorf("a token the apiserver does not confirm: %d, want 401", code)
	}
	for path, sub := range map[string]string{"/metrics/resource": "metrics", "/stats/summary": "stats"} {
		if code, body := call("GET", path, "good"); code != 200 || body != "served" {
			t.Errorf("%s: %d %q, want it served", path, code, body)
		}
		if asked.GetSubresource() != sub || asked.GetResource() != "nodes" || asked.GetVerb() != "get" || asked.GetName() != "fargate-ip-192-168-100-7" {
			t.Errorf("%s asked for %s %s/%s %s, want get nodes/%s fargate-ip-192-168-100-7", path, asked.GetVerb(), asked.GetResource(), asked.GetSubresource(), asked.GetName(), sub)
		}
	}
	code, body := call("POST", "/exec/default/p/c", "good")
	if want := "Forbidden (user=system:serviceaccount:kube-system:metrics-server, verb=create, resource=nodes, subresource=proxy)"; code != http.StatusForbidden || body != want {
		t.Errorf("exec without the right: %d %q, want 403 %q", code, body, want)
	}
}
