// Package sigv4 verifies AWS Signature Version 4 on incoming requests.
//
// The canonical request is rebuilt from the headers the client says it signed
// (SignedHeaders), as AWS does. Re-signing with an SDK's signer is not the same:
// aws-sdk-go-v2 always signs content-length and never user-agent, while botocore
// (the AWS CLI) signs content-type;host;x-amz-date, so a re-signed request only
// matches clients that happen to choose the same headers. No maintained Go
// library verifies SigV4 server-side; the algorithm is small and public:
// https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Algorithm is the only signing algorithm accepted.
const Algorithm = "AWS4-HMAC-SHA256"

// TimeFormat is the layout of X-Amz-Date.
const TimeFormat = "20060102T150405Z"

// UnsignedPayload is the X-Amz-Content-Sha256 value of a request that does not sign
// its body; AWS accepts it only for Amazon S3.
const UnsignedPayload = "UNSIGNED-PAYLOAD"

// Authorization is a parsed SigV4 Authorization header.
type Authorization struct {
	AccessKeyID, Date, Region, Service string
	// SignedHeaders are the lower-case header names, in the order given.
	SignedHeaders []string
	Signature     string
}

// ErrMalformed is returned, wrapped, for an Authorization header that cannot be parsed.
var ErrMalformed = errors.New("malformed authorization header")

// maxHeader bounds what is parsed; a real header is a few hundred bytes.
const maxHeader = 4096

// Parse reads "AWS4-HMAC-SHA256 Credential=id/date/region/service/aws4_request,
// SignedHeaders=a;b, Signature=hex".
func Parse(header string) (*Authorization, error) {
	if len(header) > maxHeader {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, maxHeader)
	}
	rest, ok := strings.CutPrefix(header, Algorithm+" ")
	if !ok {
		return nil, fmt.Errorf("%w: the algorithm must be %s", ErrMalformed, Algorithm)
	}
	a := &Authorization{}
	seen := map[string]bool{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || seen[k] {
			return nil, fmt.Errorf("%w: %q is not a single key=value", ErrMalformed, part)
		}
		seen[k] = true
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != "aws4_request" || slices.Contains(f, "") {
				return nil, fmt.Errorf("%w: Credential must be id/date/region/service/aws4_request", ErrMalformed)
			}
			a.AccessKeyID, a.Date, a.Region, a.Service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			a.SignedHeaders = strings.Split(v, ";")
			for _, h := range a.SignedHeaders {
				if h == "" || h != strings.ToLower(h) {
					return nil, fmt.Errorf("%w: SignedHeaders must be lower-case names separated by ';'", ErrMalformed)
				}
			}
		case "Signature":
			if len(v) != 64 {
				return nil, fmt.Errorf("%w: Signature must be 64 hex digits", ErrMalformed)
			}
			if _, err := hex.DecodeString(v); err != nil {
				return nil, fmt.Errorf("%w: Signature must be 64 hex digits", ErrMalformed)
			}
			a.Signature = v
		}
	}
	if a.AccessKeyID == "" || a.Signature == "" || len(a.SignedHeaders) == 0 {
		return nil, fmt.Errorf("%w: Credential, SignedHeaders and Signature are all required", ErrMalformed)
	}
	return a, nil
}

// Signs reports whether name is among the signed headers.
func (a *Authorization) Signs(name string) bool { return slices.Contains(a.SignedHeaders, name) }

// Scope is date/region/service/aws4_request.
func (a *Authorization) Scope() string {
	return a.Date + "/" + a.Region + "/" + a.Service + "/aws4_request"
}

// CanonicalRequest builds the canonical form of r for the signed headers and the
// payload hash (hex SHA-256 of the body, or what X-Amz-Content-Sha256 says).
func CanonicalRequest(r *http.Request, signed []string, payloadHash string) string {
	var b strings.Builder
	b.WriteString(r.Method + "\n")
	b.WriteString(canonicalURI(r) + "\n")
	b.WriteString(canonicalQuery(r.URL.RawQuery) + "\n")
	for _, h := range signed {
		b.WriteString(h + ":" + headerValue(r, h) + "\n")
	}
	b.WriteString("\n" + strings.Join(signed, ";") + "\n")
	b.WriteString(payloadHash)
	return b.String()
}

// Verify reports whether r carries a's signature made with secret, for the body
// whose hex SHA-256 is payloadHash. The caller checks the scope and the time.
func (a *Authorization) Verify(r *http.Request, secret, payloadHash string) bool {
	canonical := CanonicalRequest(r, a.SignedHeaders, payloadHash)
	want := sign(secret, a, r.Header.Get("X-Amz-Date"), canonical)
	return hmac.Equal([]byte(want), []byte(a.Signature))
}

// sign returns the signature of canonical under the secret key, for a request
// signed at amzDate (X-Amz-Date) with a's scope.
func sign(secret string, a *Authorization, amzDate, canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	toSign := Algorithm + "\n" + amzDate + "\n" + a.Scope() + "\n" + hex.EncodeToString(sum[:])
	key := mac([]byte("AWS4"+secret), a.Date)
	for _, part := range []string{a.Region, a.Service, "aws4_request"} {
		key = mac(key, part)
	}
	return hex.EncodeToString(mac(key, toSign))
}

// HashHex is the hex SHA-256 of body.
func HashHex(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

func mac(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// canonicalURI is the path as the client sent it, URI-encoded once more: every AWS
// service but S3 encodes the already-encoded path again.
func canonicalURI(r *http.Request) string {
	path := r.URL.EscapedPath()
	if r.RequestURI != "" && !strings.Contains(r.RequestURI, "://") {
		path, _, _ = strings.Cut(r.RequestURI, "?")
	}
	if path == "" {
		return "/"
	}
	return escape(path, true)
}

// canonicalQuery sorts the decoded parameters by name, then value, each encoded.
func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	var pairs [][2]string
	for _, p := range strings.Split(raw, "&") {
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			dk, dv = k, v // undecodable: sign as sent, the signature will tell
		}
		pairs = append(pairs, [2]string{escape(dk, false), escape(dv, false)})
	}
	slices.SortFunc(pairs, func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
	out := make([]string, len(pairs))
	for i, p := range pairs {
		out[i] = p[0] + "=" + p[1]
	}
	return strings.Join(out, "&")
}

// headerValue is a signed header's canonical value: values trimmed, inner runs of
// spaces collapsed, repeated headers joined by commas.
func headerValue(r *http.Request, name string) string {
	var values []string
	switch name {
	case "host":
		values = []string{r.Host}
	case "transfer-encoding":
		values = r.TransferEncoding
		if len(values) == 0 {
			values = r.Header.Values(name)
		}
	case "content-length":
		values = r.Header.Values(name)
		if len(values) == 0 && r.ContentLength >= 0 {
			values = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	default:
		values = r.Header.Values(name)
	}
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(out, ",")
}

// escape percent-encodes everything but the unreserved characters (and '/' in paths).
func escape(s string, path bool) string {
	const hexUpper = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~', path && c == '/':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexUpper[c>>4])
			b.WriteByte(hexUpper[c&15])
		}
	}
	return b.String()
}

// ParseTime reads X-Amz-Date.
func ParseTime(v string) (time.Time, error) { return time.Parse(TimeFormat, v) }
