//go:build integration

package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/fargo-dev/fargo/test/harness"
)

func TestExternalEtcd(t *testing.T) {
	etcd := harness.StartEtcd(t)
	s := harness.StartServer(t, "--etcd-servers", etcd.ClientURL)
	if !strings.Contains(s.Output(), "etcd") || !strings.Contains(s.Output(), "external") {
		t.Errorf("progress does not say etcd is external:\n%s", s.Output())
	}
	if _, err := os.Stat(filepath.Join(s.DataDir, "etcd")); !os.IsNotExist(err) {
		t.Errorf("an embedded etcd data dir exists with --etcd-servers (stat err %v)", err)
	}
	s.Kubectl("create", "deployment", "ext", "--image=y")
	if n := etcdKeyCount(t, etcd.ClientURL, "/registry/deployments/default/ext"); n != 1 {
		t.Errorf("deployment not stored in the external etcd: %d keys", n)
	}
}

func TestUnreachableExternalEtcdIsAClearError(t *testing.T) {
	url := "http://127.0.0.1:" + strconv.Itoa(harness.FreePort(t))
	s := harness.Launch(t, append(harness.ServerArgs(t, t.TempDir()), "--etcd-servers", url))
	if err := s.WaitExit(60 * time.Second); err == nil {
		t.Fatalf("server with an unreachable etcd exited 0:\n%s", s.Output())
	}
	if !strings.Contains(s.Output(), "cannot reach etcd") || !strings.Contains(s.Output(), url) {
		t.Errorf("error does not say which etcd is unreachable:\n%s", s.Output())
	}
}

func etcdRangeBody(key string) string {
	body, _ := json.Marshal(map[string]any{"key": base64.StdEncoding.EncodeToString([]byte(key)), "count_only": true})
	return string(body)
}

// etcdKeyCount asks etcd's v3 JSON gateway how many keys equal key.
func etcdKeyCount(t *testing.T, endpoint, key string) int {
	t.Helper()
	return etcdKeyCountWith(t, http.DefaultClient, endpoint, key)
}

func etcdKeyCountWith(t *testing.T, c *http.Client, endpoint, key string) int {
	t.Helper()
	resp, err := c.Post(endpoint+"/v3/kv/range", "application/json", strings.NewReader(etcdRangeBody(key)))
	if err != nil {
		t.Fatalf("querying etcd: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		Count string `json:"count"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("decoding etcd range response: %v", err)
	}
	if out.Count == "" {
		return 0 // proto3 JSON omits zero
	}
	n, err := strconv.Atoi(out.Count)
	if err != nil {
		t.Fatalf("etcd count %q: %v", out.Count, err)
	}
	return n
}

// The embedded etcd serves only clients holding a certificate from its own CA: not
// plain HTTP, not TLS without a certificate, not a certificate from the cluster CA
// (which signs users and nodes), and not a local unprivileged user.
func TestEmbeddedEtcdNeedsItsClientCertificate(t *testing.T) {
	s := harness.StartServer(t)
	port := harness.ArgValue(s.Args, "--etcd-client-port")
	s.Kubectl("create", "secret", "generic", "hidden", "--from-literal=k=v")
	const key = "/registry/secrets/default/hidden"
	pki := filepath.Join(s.DataDir, "pki")
	https := "https://127.0.0.1:" + port

	if n := etcdKeyCountWith(t, etcdClient(t, pki, "etcd-ca", "apiserver-etcd-client"), https, key); n != 1 {
		t.Fatalf("with the apiserver's etcd certificate the secret is not found: %d keys", n)
	}
	tries := map[string]func() (*http.Response, error){
		"plain HTTP": func() (*http.Response, error) {
			return http.Post("http://127.0.0.1:"+port+"/v3/kv/range", "application/json", strings.NewReader(etcdRangeBody(key)))
		},
		"TLS without a client certificate": func() (*http.Response, error) {
			return etcdClient(t, pki, "etcd-ca", "").Post(https+"/v3/kv/range", "application/json", strings.NewReader(etcdRangeBody(key)))
		},
		"a certificate from the cluster CA": func() (*http.Response, error) {
			return etcdClient(t, pki, "etcd-ca", "admin").Post(https+"/v3/kv/range", "application/json", strings.NewReader(etcdRangeBody(key)))
		},
	}
	for name, try := range tries {
		resp, err := try()
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Errorf("%s: etcd answered 200: %s", name, body)
			}
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("the unprivileged-user check needs root to switch to nobody")
	}
	for _, args := range [][]string{
		{"-s", "-m", "5", "-X", "POST", "-d", etcdRangeBody(key), "http://127.0.0.1:" + port + "/v3/kv/range"},
		{"-s", "-m", "5", "--cacert", filepath.Join(pki, "etcd-ca.crt"), "--cert", filepath.Join(pki, "apiserver-etcd-client.crt"),
			"--key", filepath.Join(pki, "apiserver-etcd-client.key"), "-d", etcdRangeBody(key), https + "/v3/kv/range"},
	} {
		cmd := exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "curl"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err == nil || strings.Contains(string(out), "count") {
			t.Errorf("as nobody, curl %v succeeded: %s", args, out)
		}
	}
	for _, name := range []string{"etcd-ca.key", "etcd-server.key", "apiserver-etcd-client.key"} {
		if fi, err := os.Stat(filepath.Join(pki, name)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, err %v; want 0600", name, fi.Mode().Perm(), err)
		}
	}
}

// etcdClient trusts pki/ca.crt and presents pki/cert.{crt,key} when cert is set.
func etcdClient(t *testing.T, pki, ca, cert string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(pki, ca+".crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cfg := &tls.Config{RootCAs: pool}
	if cert != "" {
		kp, err := tls.LoadX509KeyPair(filepath.Join(pki, cert+".crt"), filepath.Join(pki, cert+".key"))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{kp}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

// DATA is tightened to 0700 at start even when it was made wider, and the EKS API's
// secret comes from a file, never the command line (where ps shows it).
func TestDataDirPrivateAndSecretFromFile(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	const secret = "s3cret-from-a-file/abcdefghijklmnopqrstuvw"
	secretFile := filepath.Join(t.TempDir(), "secret")
	writeFile(t, secretFile, secret+"\n")
	s := harness.StartServerWith(t, append(harness.ServerArgs(t, dataDir), "--eks-access-key-id", "AKIAFROMFILE00000000", "--eks-secret-access-key-file", secretFile))
	for path, want := range map[string]os.FileMode{dataDir: 0o700, filepath.Join(dataDir, "pki"): 0o700, filepath.Join(dataDir, "aws-credentials"): 0o600} {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm() != want {
			t.Errorf("%s: mode %o, want %o", path, fi.Mode().Perm(), want)
		}
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(s.Pid()) + "/cmdline")
	if err != nil || strings.Contains(string(cmdline), secret) {
		t.Errorf("the secret is on the command line (err %v)", err)
	}
	c := eksClient(t, s, "local-1", "AKIAFROMFILE00000000", secret)
	if _, err := c.ListFargateProfiles(context.Background(), &eks.ListFargateProfilesInput{ClusterName: aws.String("fargo")}); err != nil {
		t.Errorf("the key from the file is not accepted: %v", err)
	}
}
