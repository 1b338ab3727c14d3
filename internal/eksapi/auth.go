package eksapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"time"

	"github.com/fargo-dev/fargo/internal/eksapi/sigv4"
)

// signingName is the SigV4 service name of EKS.
const signingName = "eks"

// maxSkew is how far a request's signing time may be from now, as AWS allows.
const maxSkew = 15 * time.Minute

var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

func signatureMismatch() *apiError {
	return &apiError{Status: http.StatusForbidden, Type: "InvalidSignatureException",
		Message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
}

func bodyTooLarge() *apiError {
	return &apiError{Status: http.StatusRequestEntityTooLarge, Type: "InvalidRequestException", Message: fmt.Sprintf("The request body is larger than %d bytes.", maxBody)}
}

// authenticate checks the signature and returns the body. Everything that does
// not need the body (header, key, scope, time, declared length) is checked before a
// byte of it is read, and so is the signature itself when the client declares the
// payload hash in X-Amz-Content-Sha256.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) ([]byte, *apiError) {
	a, secret, aerr := s.checkHeader(r)
	if aerr != nil {
		return nil, aerr
	}
	if r.ContentLength > maxBody {
		return nil, bodyTooLarge()
	}
	declared := r.Header.Get("X-Amz-Content-Sha256")
	switch {
	case declared == sigv4.UnsignedPayload:
		return nil, &apiError{Status: http.StatusBadRequest, Type: "InvalidSignatureException", Message: "UNSIGNED-PAYLOAD is not accepted by Amazon EKS; sign the request body."}
	case declared != "" && !hexSHA256.MatchString(declared):
		return nil, &apiError{Status: http.StatusBadRequest, Type: "InvalidSignatureException", Message: "x-amz-content-sha256 must be the lower-case hex SHA-256 of the body."}
	case declared != "" && !a.Verify(r, secret, declared):
		return nil, signatureMismatch()
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, bodyTooLarge()
		}
		return nil, &apiError{Status: http.StatusBadRequest, Type: "InvalidRequestException", Message: "The request body could not be read: " + err.Error()}
	}
	sum := sigv4.HashHex(body)
	switch {
	case declared != "" && declared != sum:
		return nil, &apiError{Status: http.StatusBadRequest, Type: "InvalidSignatureException", Message: "The provided 'x-amz-content-sha256' header does not match what was computed."}
	case declared == "" && !a.Verify(r, secret, sum):
		return nil, signatureMismatch()
	}
	return body, nil
}

// checkHeader validates the Authorization header, the key, the scope and the time.
func (s *Server) checkHeader(r *http.Request) (*sigv4.Authorization, string, *apiError) {
	header := r.Header.Get("Authorization")
	if header == "" {
		return nil, "", &apiError{Status: http.StatusForbidden, Type: "MissingAuthenticationTokenException", Message: "Missing Authentication Token"}
	}
	a, err := sigv4.Parse(header)
	if err != nil {
		return nil, "", &apiError{Status: http.StatusBadRequest, Type: "IncompleteSignatureException",
			Message: "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters (AWS4-HMAC-SHA256): " + err.Error()}
	}
	for _, h := range []struct{ name, shown string }{{"host", "Host"}, {"x-amz-date", "X-Amz-Date"}} {
		if !a.Signs(h.name) {
			return nil, "", &apiError{Status: http.StatusBadRequest, Type: "IncompleteSignatureException",
				Message: fmt.Sprintf("'%s' must be a 'SignedHeader' in the AWS Authorization.", h.shown)}
		}
	}
	secret, ok := s.creds.secretFor(a.AccessKeyID)
	if !ok {
		return nil, "", &apiError{Status: http.StatusForbidden, Type: "UnrecognizedClientException", Message: "The security token included in the request is invalid."}
	}
	if a.Service != signingName || a.Region != s.cluster.Region {
		return nil, "", &apiError{Status: http.StatusForbidden, Type: "InvalidSignatureException",
			Message: fmt.Sprintf("Credential should be scoped to a valid region and service (%s/%s), not '%s/%s'.", s.cluster.Region, signingName, a.Region, a.Service)}
	}
	amzDate := r.Header.Get("X-Amz-Date")
	when, err := sigv4.ParseTime(amzDate)
	if err != nil {
		return nil, "", &apiError{Status: http.StatusBadRequest, Type: "IncompleteSignatureException", Message: "Missing or invalid X-Amz-Date header; it must be YYYYMMDD'T'HHMMSS'Z'."}
	}
	if day := when.Format("20060102"); day != a.Date {
		return nil, "", &apiError{Status: http.StatusForbidden, Type: "InvalidSignatureException",
			Message: fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", a.Date, day, amzDate)}
	}
	now := s.now().UTC()
	switch f := sigv4.TimeFormat; {
	case now.Sub(when) > maxSkew:
		return nil, "", &apiError{Status: http.StatusForbidden, Type: "InvalidSignatureException",
			Message: fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)", amzDate, now.Add(-maxSkew).Format(f), now.Format(f))}
	case when.Sub(now) > maxSkew:
		return nil, "", &apiError{Status: http.StatusForbidden, Type: "InvalidSignatureException",
			Message: fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 15 min.)", amzDate, now.Add(maxSkew).Format(f), now.Format(f))}
	}
	return a, secret, nil
}
