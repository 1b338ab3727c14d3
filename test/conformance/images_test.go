//go:build conformance

package conformance

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fargo-dev/fargo/test/harness"
	"github.com/fargo-dev/fargo/test/images"
)

// repoList points every registry the suite knows at the loopback registry, so
// no image is fetched from the internet: the "invalid" and private registries
// are a loopback port nothing listens on, so pulls from them fail at once, as
// the tests expect of a pull without credentials.
func repoList(t *testing.T, dir, registry string) string {
	list := `promoterE2eRegistry: REG/e2e-test-images
buildImageRegistry: REG/build-image
invalidRegistry: 127.0.0.1:1/invalid
gcEtcdRegistry: REG
gcRegistry: REG
sigStorageRegistry: REG/sig-storage
privateRegistry: 127.0.0.1:1/k8s-authenticated-test
dockerLibraryRegistry: REG/library
cloudProviderGcpRegistry: REG/cloud-provider-gcp
`
	p := filepath.Join(dir, "repo-list.yaml")
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(list, "REG", registry)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// kubernetesDir is k8s.io/kubernetes in the module cache, at the embedded
// version (make conformance downloaded it to build e2e.test).
func kubernetesDir(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOMODCACHE: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "k8s.io", "kubernetes@"+kubernetesVersion(t))
}

// pushImages builds the images the suite names (e2e.test --list-images) that
// fargo can build without the internet, and pushes each under the reference the
// suite asks for; the others are logged (their tests fail with ErrImagePull).
func pushImages(t *testing.T, e2eTest, list, registry string) {
	agnhost := harness.Bin(t, "agnhost")
	html := func(name string) string { return filepath.Join(kubernetesDir(t), "test", "images", name, "html") }
	nginx := filepath.Join(harness.Root(), "bin", "image-cache", "nginx")
	builders := map[string]func() (v1.Image, error){
		"agnhost":           func() (v1.Image, error) { return images.Agnhost(agnhost) },
		"busybox":           images.BusyboxAll,
		"nginx":             func() (v1.Image, error) { return images.Nginx(nginx) },
		"pause":             func() (v1.Image, error) { return images.Pause(agnhost) },
		"kitten":            func() (v1.Image, error) { return images.WebServer(agnhost, html("kitten")) },
		"nautilus":          func() (v1.Image, error) { return images.WebServer(agnhost, html("nautilus")) },
		"glibc-dns-testing": func() (v1.Image, error) { return images.DNSTools(agnhost) },
		"nonroot":           images.NonRoot,
		"nonewprivs":        func() (v1.Image, error) { return images.NoNewPrivs(harness.Bin(t, "nnp")) },
	}
	cmd := exec.Command(e2eTest, "--list-images")
	cmd.Env = append(os.Environ(), "KUBE_TEST_REPO_LIST="+list)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("e2e.test --list-images: %v", err)
	}
	built := map[string]v1.Image{}
	var skipped []string
	for _, ref := range strings.Fields(string(out)) {
		repo := ref
		if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
			repo = ref[:i]
		}
		build, ok := builders[path.Base(repo)]
		if !ok || !strings.HasPrefix(ref, registry+"/") {
			skipped = append(skipped, ref)
			continue
		}
		img, ok := built[path.Base(repo)]
		if !ok {
			if img, err = build(); err != nil {
				t.Fatalf("building %s: %v", path.Base(repo), err)
			}
			built[path.Base(repo)] = img
		}
		if err := images.Push(ref, img); err != nil {
			t.Fatal(err)
		}
		t.Logf("image %s", ref)
	}
	t.Logf("images not built here (tests that use them fail to pull): %s", strings.Join(skipped, " "))
}
