// Package airgap puts the images fargo builds itself into a containerd without
// any registry, as k3s imports its air-gap images: the node-group nodes' pause
// image and the cluster DNS image. An image already there is left alone, so a
// restart costs one lookup per image.
package airgap

import (
	"bytes"
	"context"
	"fmt"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Image is one image fargo builds: its reference and how to build it (called
// only when the image is missing).
type Image struct {
	Ref   string
	Build func() (v1.Image, error)
}

// Import puts each image into the containerd serving socket, in namespace ns,
// unpacked for the overlayfs snapshotter, unless it is there already.
func Import(ctx context.Context, socket, ns string, images ...Image) error {
	c, err := containerd.New(socket)
	if err != nil {
		return fmt.Errorf("connecting to containerd at %s: %w", socket, err)
	}
	defer c.Close()
	ctx = namespaces.WithNamespace(ctx, ns)
	for _, im := range images {
		if err := importOne(ctx, c, im); err != nil {
			return err
		}
	}
	return nil
}

func importOne(ctx context.Context, c *containerd.Client, im Image) error {
	if img, err := c.GetImage(ctx, im.Ref); err == nil {
		if ok, _ := img.IsUnpacked(ctx, "overlayfs"); ok {
			return nil
		}
	}
	ref, err := name.NewTag(im.Ref)
	if err != nil {
		return fmt.Errorf("image %s: %w", im.Ref, err)
	}
	img, err := im.Build()
	if err != nil {
		return fmt.Errorf("building image %s: %w", im.Ref, err)
	}
	var archive bytes.Buffer
	if err := tarball.Write(ref, img, &archive); err != nil {
		return fmt.Errorf("writing image %s: %w", im.Ref, err)
	}
	imgs, err := c.Import(ctx, &archive)
	if err != nil {
		return fmt.Errorf("importing image %s: %w", im.Ref, err)
	}
	for _, i := range imgs {
		if err := containerd.NewImage(c, i).Unpack(ctx, "overlayfs"); err != nil {
			return fmt.Errorf("unpacking image %s: %w", im.Ref, err)
		}
	}
	return nil
}
