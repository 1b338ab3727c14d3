package nodegroup

import (
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fargo-dev/fargo/internal/airgap"
)

// busybox is Debian's busybox-static, the pause image's one binary.
const busybox = "/bin/busybox"

// criNamespace is where the CRI plugin keeps its images and containers.
const criNamespace = "k8s.io"

// pauseScript holds a pod's namespaces until the pod is stopped, and exits at once
// on SIGTERM (as PID 1 it would otherwise ignore it).
const pauseScript = "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait; done"

// pause is the sandbox image: no registry is needed for any pod to start.
func pause() airgap.Image {
	return airgap.Image{Ref: pauseImage, Build: func() (v1.Image, error) {
		bin, err := os.ReadFile(busybox)
		if err != nil {
			return nil, fmt.Errorf("reading %s for the pause image (install Debian's busybox-static): %w", busybox, err)
		}
		return airgap.SingleLayer([]airgap.File{
			{Name: "bin/", Mode: 0o755},
			{Name: "bin/busybox", Mode: 0o755, Data: bin},
			{Name: "bin/sh", Mode: 0o777, Link: "busybox"},
			{Name: "bin/sleep", Mode: 0o777, Link: "busybox"},
		}, func(c *v1.Config) {
			c.Entrypoint, c.Env = []string{"/bin/sh", "-c", pauseScript}, []string{"PATH=/bin"}
		})
	}}
}
