package clusterdns

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fargo-dev/fargo/internal/airgap"
)

// imageRepo names the image; no registry serves it: it is imported.
const imageRepo = "fargo.local/coredns"

// Image is the cluster DNS image made of the CoreDNS binary at bin (make
// build's bin/coredns), tagged by the binary's digest so that a new binary
// is a new image and the Deployment rolls to it.
func Image(bin string) (airgap.Image, error) {
	f, err := os.Open(bin)
	if err != nil {
		return airgap.Image{}, fmt.Errorf("opening the CoreDNS binary (make build builds bin/coredns beside bin/fargo; or set --coredns-binary): %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return airgap.Image{}, fmt.Errorf("reading %s: %w", bin, err)
	}
	ref := imageRepo + ":" + hex.EncodeToString(h.Sum(nil))[:16]
	return airgap.Image{Ref: ref, Build: func() (v1.Image, error) {
		data, err := os.ReadFile(bin)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", bin, err)
		}
		return airgap.SingleLayer([]airgap.File{
			{Name: "coredns", Mode: 0o755, Data: data},
			{Name: "etc/", Mode: 0o755},
			{Name: "tmp/", Mode: 0o1777},
		}, func(c *v1.Config) { c.Entrypoint = []string{"/coredns"} })
	}}, nil
}
