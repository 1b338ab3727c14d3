package images

import (
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestServer is an image of the project's test server (test/testserver, built
// static at bin): /testserver, default command `testserver serve`.
func TestServer(bin string) (v1.Image, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("reading the test server binary (make bin/testserver): %w", err)
	}
	fs := rootfs{}
	fs.dir("tmp", "etc", "proc", "sys", "dev")
	fs.file("testserver", data, 0o755)
	return fs.image([]string{"/testserver", "serve"}, "PATH=/")
}
