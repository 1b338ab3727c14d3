// Package images builds the images tests and demos run, without Docker and
// without the internet, and serves them from an OCI registry on loopback
// (go-containerregistry's in-memory registry).
package images

import (
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/fargo-dev/fargo/internal/airgap"
)

// BusyboxPath is Debian's busybox-static binary.
const BusyboxPath = "/bin/busybox"

// busyboxApplets get a /bin link each.
var busyboxApplets = []string{"sh", "sleep", "cat", "echo", "ls", "dd", "head", "env", "hostname", "wget", "nslookup", "nc", "true", "false", "httpd", "ip", "id", "stat", "grep", "tar", "nproc"}

// FreePath is procps's free, which reads /proc/meminfo (LXCFS's in a Fargate
// pod); busybox's takes its totals from sysinfo(2), which LXCFS cannot answer.
const FreePath = "/usr/bin/free"

// Busybox is an image of Debian's busybox-static: /bin/busybox, links for common
// applets, /tmp, and procps's free with its libraries; default command sh.
func Busybox() (v1.Image, error) {
	fs := rootfs{}
	fs.dir("bin", "tmp", "etc", "proc", "sys", "dev")
	if err := fs.shell(); err != nil {
		return nil, fmt.Errorf("busybox image: %w", err)
	}
	return fs.image([]string{"sh"}, "PATH=/bin")
}

// shell adds what an Alpine-based image has for `kubectl exec`: busybox-static
// with links for common applets in /bin (which must exist), and procps's free
// with its libraries.
func (r *rootfs) shell() error {
	bin, err := os.ReadFile(BusyboxPath)
	if err != nil {
		return fmt.Errorf("reading %s (install Debian's busybox-static): %w", BusyboxPath, err)
	}
	r.file("bin/busybox", bin, 0o755)
	for _, a := range busyboxApplets {
		r.link("bin/"+a, "busybox")
	}
	free, err := os.ReadFile(FreePath)
	if err != nil {
		return fmt.Errorf("reading %s (install Debian's procps): %w", FreePath, err)
	}
	r.file("bin/free", free, 0o755)
	return r.libraries(FreePath)
}

// rootfs is an image's single layer, built in memory.
type rootfs []airgap.File

func (r *rootfs) dir(names ...string) {
	for _, n := range names {
		mode := int64(0o755)
		if n == "tmp" {
			mode = 0o1777
		}
		*r = append(*r, airgap.File{Name: n + "/", Mode: mode})
	}
}

func (r *rootfs) file(name string, data []byte, mode int64) {
	*r = append(*r, airgap.File{Name: name, Mode: mode, Data: data})
}

func (r *rootfs) link(name, target string) {
	*r = append(*r, airgap.File{Name: name, Mode: 0o777, Link: target})
}

// image is the layer, linux on this machine's arch, with cmd and env.
func (r rootfs) image(cmd []string, env ...string) (v1.Image, error) {
	return r.imageWith(func(c *v1.Config) { c.Cmd, c.Env = cmd, env })
}

// imageWith is the layer, linux on this machine's arch, configured by config.
func (r rootfs) imageWith(config func(*v1.Config)) (v1.Image, error) {
	return airgap.SingleLayer(r, config)
}

// StartRegistry serves an empty in-memory registry on 127.0.0.1 until the test
// ends and returns its host:port.
func StartRegistry(t testing.TB) string {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// Push uploads img as ref (plain HTTP: the registry is on loopback).
func Push(ref string, img v1.Image) error {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return fmt.Errorf("parsing %s: %w", ref, err)
	}
	if err := remote.Write(r, img); err != nil {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}
	return nil
}

// Serve starts a loopback registry for the test, pushes img to it as
// fargo/<name>:1 and returns the reference.
func Serve(t testing.TB, name string, img v1.Image, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	ref := StartRegistry(t) + "/fargo/" + name + ":1"
	if err := Push(ref, img); err != nil {
		t.Fatal(err)
	}
	return ref
}

// CurlPath is Debian's curl, which the curl image carries.
const CurlPath = "/usr/bin/curl"

// Curl is the first seed's radial/busyboxplus:curl rebuilt: busybox (sh,
// nslookup, wget) and Debian's curl with its libraries; default command sh.
func Curl() (v1.Image, error) {
	fs := rootfs{}
	fs.dir("bin", "tmp", "etc", "proc", "sys", "dev", "usr", "usr/bin")
	if err := fs.shell(); err != nil {
		return nil, fmt.Errorf("curl image: %w", err)
	}
	curl, err := os.ReadFile(CurlPath)
	if err != nil {
		return nil, fmt.Errorf("reading %s (install Debian's curl): %w", CurlPath, err)
	}
	fs.file("usr/bin/curl", curl, 0o755)
	if err := fs.libraries(CurlPath); err != nil {
		return nil, fmt.Errorf("curl image: %w", err)
	}
	return fs.image([]string{"sh"}, "PATH=/usr/bin:/bin")
}
