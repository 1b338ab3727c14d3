package eksapi

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/fargo-dev/fargo/internal/datadir"
)

// credentialsProfile is the section name in the shared-credentials file fargo writes.
const credentialsProfile = "fargo"

// credentials are the access keys the API accepts.
type credentials struct {
	keys map[string]string // access key id → secret
}

func (c *credentials) secretFor(id string) (string, bool) {
	s, ok := c.keys[id]
	return s, ok
}

// Keys are one access key pair.
type Keys struct {
	AccessKeyID, SecretAccessKey string
}

// EnsureCredentials returns the API's access key: the one given, else the one in
// path (an AWS shared-credentials file, profile "fargo"), else a new one written
// there on first start.
func EnsureCredentials(path string, given Keys) (Keys, error) {
	if given.AccessKeyID != "" || given.SecretAccessKey != "" {
		if given.AccessKeyID == "" || given.SecretAccessKey == "" {
			return Keys{}, errors.New("give both --eks-access-key-id and its secret (--eks-secret-access-key-file or FARGO_EKS_SECRET_ACCESS_KEY), or neither")
		}
		return given, nil
	}
	if data, err := os.ReadFile(path); err == nil {
		if err := datadir.Private(path); err != nil {
			return Keys{}, err
		}
		k := parseCredentials(string(data))
		if k.AccessKeyID != "" && k.SecretAccessKey != "" {
			return k, nil
		}
		return Keys{}, fmt.Errorf("%s has no [%s] access key; delete it to have fargo create one", path, credentialsProfile)
	} else if !errors.Is(err, os.ErrNotExist) {
		return Keys{}, fmt.Errorf("reading EKS API credentials %s: %w", path, err)
	}
	k := Keys{AccessKeyID: "AKIA" + randomString(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
		SecretAccessKey: randomString(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
	content := fmt.Sprintf("# Access key of the fargo EKS API; use with AWS_SHARED_CREDENTIALS_FILE=%s AWS_PROFILE=%s\n[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
		path, credentialsProfile, credentialsProfile, k.AccessKeyID, k.SecretAccessKey)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return Keys{}, fmt.Errorf("writing EKS API credentials: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return Keys{}, fmt.Errorf("writing EKS API credentials: %w", err)
	}
	return k, nil
}

// parseCredentials reads the [fargo] keys of the shared-credentials file fargo wrote.
func parseCredentials(data string) Keys {
	var k Keys
	section := ""
	for _, line := range strings.Split(data, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = strings.TrimSpace(line[1 : len(line)-1])
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok || section != credentialsProfile {
			continue
		}
		switch strings.TrimSpace(key) {
		case "aws_access_key_id":
			k.AccessKeyID = strings.TrimSpace(value)
		case "aws_secret_access_key":
			k.SecretAccessKey = strings.TrimSpace(value)
		}
	}
	return k
}

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	var sb strings.Builder
	for _, c := range b {
		sb.WriteByte(alphabet[int(c)%len(alphabet)])
	}
	return sb.String()
}
