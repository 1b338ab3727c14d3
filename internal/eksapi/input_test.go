package eksapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/fargo-dev/fargo/internal/eksapi/sigv4"
)

// signedCall sends a request signed as aws-sdk-go-v2 signs, with the real clock.
func signedCall(t testing.TB, s *Server, method, target, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, "https://127.0.0.1:8443"+target, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	creds := aws.Credentials{AccessKeyID: recordedKey, SecretAccessKey: recordedSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, sigv4.HashHex([]byte(body)), "eks", "us-west-2", time.Now()); err != nil {
		t.Fatal(err)
	}
	s.now = time.Now
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

// Every refusal is an EKS error: a status, X-Amzn-ErrorType and a JSON message,
// in the API's words (no Go type names).
func TestInputRefusedAsEKSDoes(t *testing.T) {
	const role = `"podExecutionRoleArn":"arn:aws:iam::123456789012:role/r"`
	const sel = `"selectors":[{"namespace":"a"}]`
	cases := []struct {
		name, method, path, body string
		status                   int
		errType, message         string
	}{
		{"trailing data", "POST", "/clusters/demo/fargate-profiles", `{"fargateProfileName":"a",` + role + `,` + sel + `} garbage`, 400, "BadRequestException", "data after the JSON object"},
		{"a second object", "POST", "/clusters/demo/fargate-profiles", `{"fargateProfileName":"a",` + role + `,` + sel + `}{}`, 400, "BadRequestException", "data after the JSON object"},
		{"unknown member", "POST", "/clusters/demo/fargate-profiles", `{"fargateProfileName":"a",` + role + `,` + sel + `,"podExecutionRole":"x"}`, 400, "BadRequestException", "Unknown member \"podExecutionRole\""},
		{"wrong type", "POST", "/clusters/demo/fargate-profiles", `{"fargateProfileName":"a",` + role + `,"selectors":["a"]}`, 400, "BadRequestException", "Invalid type for member selectors"},
		{"not an object", "POST", "/clusters/demo/fargate-profiles", `[1]`, 400, "BadRequestException", "must be a JSON object"},
		{"cut short", "POST", "/clusters/demo/fargate-profiles", `{"fargateProfileName":`, 400, "BadRequestException", "ends in the middle"},
		{"900 KB role", "POST", "/clusters/demo/fargate-profiles", `{"fargateProfileName":"a","podExecutionRoleArn":"arn:aws:iam::123456789012:role/` + strings.Repeat("r", 900<<10) + `",` + sel + `}`, 400, "InvalidParameterException", "at most 2048"},
		{"NUL in a tag key", "POST", "/clusters/demo/fargate-profiles", `{"fargateProfileName":"a",` + role + `,` + sel + `,"tags":{"a\u0000b":"v"}}`, 400, "InvalidParameterException", "tag key"},
		{"long token", "POST", "/clusters/demo/fargate-profiles", `{"fargateProfileName":"a",` + role + `,` + sel + `,"clientRequestToken":"` + strings.Repeat("t", 65) + `"}`, 400, "InvalidParameterException", "clientRequestToken"},
		{"%2F in a profile name", "GET", "/clusters/demo/fargate-profiles/a%2Fb", "", 404, "ResourceNotFoundException", "No Fargate Profile found with name: a/b."},
		{"unknown path", "GET", "/clusters/demo/addons", "", 404, "UnknownOperationException", "No EKS operation at GET /clusters/demo/addons"},
		{"unknown method", "PUT", "/clusters/demo/fargate-profiles", "", 405, "MethodNotAllowedException", "PUT is not supported"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, _ := testServer(t)
			w := signedCall(t, s, c.method, c.path, c.body)
			var body map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body is not JSON: %q", w.Body)
			}
			if w.Code != c.status || w.Header().Get("X-Amzn-ErrorType") != c.errType || !strings.Contains(body["message"], c.message) {
				t.Errorf("got %d %s %q; want %d %s containing %q", w.Code, w.Header().Get("X-Amzn-ErrorType"), body["message"], c.status, c.errType, c.message)
			}
			if strings.Contains(body["message"], "eksapi.") || strings.Contains(body["message"], "Go ") {
				t.Errorf("message names Go types: %q", body["message"])
			}
		})
	}
}

// FuzzRequests: no input, once authenticated, is a 500 or a non-EKS answer.
func FuzzRequests(f *testing.F) {
	f.Add("POST", "/clusters/demo/fargate-profiles", `{"fargateProfileName":"a","podExecutionRoleArn":"arn:aws:iam::123456789012:role/r","selectors":[{"namespace":"a","labels":{"k":"v"}}],"tags":{"t":"v"}}`)
	f.Add("GET", "/clusters/demo/fargate-profiles?maxResults=1&nextToken=YQ", "")
	f.Add("GET", "/clusters/demo/fargate-profiles/a", "")
	f.Add("DELETE", "/clusters/demo/fargate-profiles/a", "")
	f.Add("POST", "/tags/arn:aws:eks:us-west-2:123456789012:fargateprofile/demo/a/x", `{"tags":{"k":"v"}}`)
	f.Add("DELETE", "/tags/arn:aws:eks:us-west-2:123456789012:fargateprofile/demo/a/x?tagKeys=k", "")
	f.Add("GET", "/clusters/demo", "")
	f.Add("POST", "/clusters/demo/node-groups", `{"nodegroupName":"ng","nodeRole":"r","subnets":["subnet-a"],"scalingConfig":{"minSize":0,"maxSize":3,"desiredSize":1},"taints":[{"key":"k","effect":"NO_EXECUTE"}]}`)
	f.Add("DELETE", "/clusters/demo/node-groups/ng", "")
	f.Fuzz(func(t *testing.T, method, target, body string) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\t#") || len(method) == 0 || strings.ContainsAny(method, " \r\n\t/:") {
			return // not a request a client can send
		}
		r, err := http.NewRequest(method, "https://127.0.0.1:8443"+target, strings.NewReader(body))
		if err != nil {
			return
		}
		_ = r
		s, _ := testServer(t)
		w := signedCall(t, s, method, target, body)
		if w.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, target, body, w.Code, w.Body)
		}
		if w.Code >= 400 {
			var out map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || out["message"] == "" || w.Header().Get("X-Amzn-ErrorType") == "" {
				t.Fatalf("%s %s: %d answer is not an EKS error: %q", method, target, w.Code, w.Body)
			}
		}
	})
}
