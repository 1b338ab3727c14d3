package eksapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// signingName is the SigV4 service name of EKS.
const signingName = "eks"

// maxSkew is how far a request's signing time may be from now, as AWS allows.
const maxSkew = 15 * time.Minute

// authorization is a parsed SigV4 Authorization header.
type authorization struct {
	AccessKeyID, Date, Region, Service string
	SignedHeaders                      []string
	Signature                          string
}

func parseAuthorization(h string) (*authorization, bool) {
	rest, ok := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	if !ok {
		return nil, false
	}
	a := &authorization{}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != "aws4_request" {
				return nil, false
			}
			a.AccessKeyID, a.Date, a.Region, a.Service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			a.SignedHeaders = strings.Split(v, ";")
		case "Signature":
			a.Signature = v
		}
	}
	return a, a.AccessKeyID != "" && a.Signature != "" && len(a.SignedHeaders) > 0
}

// verify checks the request's SigV4 signature by signing an equivalent request
// with the AWS SDK's own signer and comparing, so the canonicalisation is exactly
// the one clients use. body is the request body, already read.
func (s *Server) verify(ctx context.Context, r *http.Request, body []byte) *apiError {
	header := r.Header.Get("Authorization")
	if header == "" {
		return &apiError{Status: http.StatusForbidden, Type: "MissingAuthenticationTokenException", Message: "Missing Authentication Token"}
	}
	a, ok := parseAuthorization(header)
	if !ok {
		return &apiError{Status: http.StatusBadRequest, Type: "IncompleteSignatureException", Message: "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters (AWS4-HMAC-SHA256)."}
	}
	secret, ok := s.creds.secretFor(a.AccessKeyID)
	if !ok {
		return &apiError{Status: http.StatusForbidden, Type: "UnrecognizedClientException", Message: "The security token included in the request is invalid."}
	}
	if a.Service != signingName || a.Region != s.cluster.Region {
		return &apiError{Status: http.StatusForbidden, Type: "InvalidSignatureException",
			Message: fmt.Sprintf("Credential should be scoped to a valid region and service (%s/%s), not '%s/%s'.", s.cluster.Region, signingName, a.Region, a.Service)}
	}
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return &apiError{Status: http.StatusBadRequest, Type: "IncompleteSignatureException", Message: "Missing or invalid X-Amz-Date header."}
	}
	if d := time.Since(when); d > maxSkew || d < -maxSkew {
		return &apiError{Status: http.StatusForbidden, Type: "InvalidSignatureException", Message: fmt.Sprintf("Signature expired: %s is now earlier or later than %s +/- 15 min.", when.Format("20060102T150405Z"), time.Now().UTC().Format("20060102T150405Z"))}
	}

	clone, err := http.NewRequestWithContext(ctx, r.Method, "https://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return &apiError{Status: http.StatusBadRequest, Type: "InvalidSignatureException", Message: "Malformed request URI."}
	}
	clone.Host = r.Host
	for _, h := range a.SignedHeaders {
		if h != "host" && h != "x-amz-date" && h != "content-length" {
			clone.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	clone.ContentLength = int64(len(body))
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: a.AccessKeyID, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(ctx, creds, clone, hex.EncodeToString(sum[:]), signingName, a.Region, when); err != nil {
		return &apiError{Status: http.StatusInternalServerError, Type: "ServerException", Message: "verifying signature: " + err.Error()}
	}
	want, _ := parseAuthorization(clone.Header.Get("Authorization"))
	if want == nil || subtle.ConstantTimeCompare([]byte(want.Signature), []byte(a.Signature)) != 1 {
		return &apiError{Status: http.StatusForbidden, Type: "InvalidSignatureException",
			Message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
	}
	return nil
}
