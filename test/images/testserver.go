package images

import (
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// TestServer is an image of the project's test server (test/testserver, built
// static at bin): /testserver, default command `testserver serve`.
func TestServer(bin string) (v1.Image, error) {
	return static(bin, "make bin/testserver", "serve")
}

// MetricsServer is an image of upstream metrics-server (built static at bin by
// make bin/metrics-server): entrypoint /metrics-server, as upstream's image, so
// a pod's args are its flags.
func MetricsServer(bin string) (v1.Image, error) {
	img, err := static(bin, "make bin/metrics-server")
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	c := cfg.Config
	c.Entrypoint, c.Cmd = c.Cmd, nil
	return mutate.Config(img, c)
}

// static is an image of one static binary, at /<its name>, run with args.
func static(bin, makeIt string, args ...string) (v1.Image, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("reading %s (%s): %w", bin, makeIt, err)
	}
	name := filepath.Base(bin)
	fs := rootfs{}
	fs.dir("tmp", "etc", "proc", "sys", "dev")
	fs.file(name, data, 0o755)
	return fs.image(append([]string{"/" + name}, args...), "PATH=/")
}
