package sigv4

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzParse: any header either parses into a complete authorization or is refused;
// verifying a parsed one against any request never panics.
func FuzzParse(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20261201/us-west-2/eks/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=" + strings.Repeat("ab", 32))
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20261201/us-west-2/eks/aws4_request,SignedHeaders=host,Signature=")
	f.Add("AWS4-HMAC-SHA256 ,,,==")
	f.Fuzz(func(t *testing.T, header string) {
		a, err := Parse(header)
		if err != nil {
			return
		}
		if a.AccessKeyID == "" || a.Date == "" || a.Region == "" || a.Service == "" || len(a.Signature) != 64 || len(a.SignedHeaders) == 0 {
			t.Fatalf("%q parsed into an incomplete %+v", header, a)
		}
		r, _ := http.NewRequest("GET", "https://127.0.0.1/clusters/x?a=b&a=", nil)
		r.Header.Set("X-Amz-Date", a.Date+"T000000Z")
		if a.Verify(r, "secret", HashHex(nil)) && a.Signature == strings.Repeat("0", 64) {
			t.Fatal("an all-zero signature verified")
		}
	})
}

// FuzzCanonicalQuery: the canonical query is sorted and fully encoded.
func FuzzCanonicalQuery(f *testing.F) {
	f.Add("tagKeys=b&tagKeys=a&maxResults=1")
	f.Add("a%20b=c+d&=&&x")
	f.Add("%zz=1")
	f.Fuzz(func(t *testing.T, raw string) {
		q := canonicalQuery(raw)
		for _, c := range q {
			if !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~%=&", c) {
				t.Fatalf("canonicalQuery(%q) = %q has an unencoded %q", raw, q, c)
			}
		}
	})
}
