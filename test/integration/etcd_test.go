//go:build integration

package integration

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

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

// etcdKeyCount asks etcd's v3 JSON gateway how many keys equal key.
func etcdKeyCount(t *testing.T, endpoint, key string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"key": base64.StdEncoding.EncodeToString([]byte(key)), "count_only": true})
	resp, err := http.Post(endpoint+"/v3/kv/range", "application/json", bytes.NewReader(body))
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
