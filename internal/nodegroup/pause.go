package nodegroup

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// busybox is Debian's busybox-static, the pause image's one binary.
const busybox = "/bin/busybox"

// criNamespace is where the CRI plugin keeps its images and containers.
const criNamespace = "k8s.io"

// pauseScript holds a pod's namespaces until the pod is stopped, and exits at once
// on SIGTERM (as PID 1 it would otherwise ignore it).
const pauseScript = "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait; done"

// buildPause is the sandbox image: no registry is needed for any pod to start, as
// k3s imports its air-gap images.
func buildPause() (v1.Image, error) {
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return nil, fmt.Errorf("reading %s for the pause image (install Debian's busybox-static): %w", busybox, err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []tar.Header{
		{Typeflag: tar.TypeDir, Name: "bin/", Mode: 0o755},
		{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(bin))},
		{Typeflag: tar.TypeSymlink, Name: "bin/sh", Linkname: "busybox", Mode: 0o777},
		{Typeflag: tar.TypeSymlink, Name: "bin/sleep", Linkname: "busybox", Mode: 0o777},
	} {
		if err := tw.WriteHeader(&h); err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(bin); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		return nil, fmt.Errorf("building the pause image: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
	cfg.Config.Entrypoint = []string{"/bin/sh", "-c", pauseScript}
	cfg.Config.Env = []string{"PATH=/bin"}
	return mutate.ConfigFile(img, cfg)
}

// importPause puts the pause image into the node's containerd, unpacked, unless
// it is there already.
func importPause(ctx context.Context, socket string) error {
	c, err := containerd.New(socket)
	if err != nil {
		return fmt.Errorf("connecting to the node's containerd: %w", err)
	}
	defer c.Close()
	ctx = namespaces.WithNamespace(ctx, criNamespace)
	if _, err := c.GetImage(ctx, pauseImage); err == nil {
		return nil
	}
	img, err := buildPause()
	if err != nil {
		return err
	}
	ref, err := name.NewTag(pauseImage)
	if err != nil {
		return err
	}
	var archive bytes.Buffer
	if err := tarball.Write(ref, img, &archive); err != nil {
		return fmt.Errorf("writing the pause image: %w", err)
	}
	imgs, err := c.Import(ctx, &archive)
	if err != nil {
		return fmt.Errorf("importing the pause image: %w", err)
	}
	for _, i := range imgs {
		if err := containerd.NewImage(c, i).Unpack(ctx, "overlayfs"); err != nil {
			return fmt.Errorf("unpacking the pause image: %w", err)
		}
	}
	return nil
}
