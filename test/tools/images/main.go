// Command images builds the images fargo's tests and demos run, without Docker and
// without the internet (`make images`): fargo/testserver (test/testserver),
// fargo/busybox (Debian's busybox-static), fargo/curl (busybox and Debian's curl), fargo/nginx (Debian's nginx
// packages) and fargo/metrics-server (upstream, test/tools/metrics-server), written as tarballs to --out; with --serve it also runs an OCI
// registry on that loopback address holding them, until interrupted.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/fargo-dev/fargo/test/images"
)

func main() {
	out := flag.String("out", "bin/images", "directory for the image tarballs")
	testserver := flag.String("testserver", "bin/testserver", "the test server binary")
	metricsServer := flag.String("metrics-server", "bin/metrics-server", "the metrics-server binary")
	cache := flag.String("cache", "bin/image-cache", "where downloaded Debian packages are kept")
	serve := flag.String("serve", "", "after building, serve a registry with the images on this loopback address (e.g. 127.0.0.1:5000)")
	only := flag.String("only", "", "build only these images, comma-separated (testserver, busybox, curl, nginx, metrics-server); default all")
	flag.Parse()
	if err := run(*out, *testserver, *metricsServer, *cache, *serve, *only); err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
}

// builder makes one image.
type builder struct {
	name  string
	build func() (v1.Image, error)
}

func run(out, testserver, metricsServer, cache, serve, only string) error {
	builders := []builder{
		{"testserver", func() (v1.Image, error) { return images.TestServer(testserver) }},
		{"busybox", images.Busybox},
		{"curl", images.Curl},
		{"nginx", func() (v1.Image, error) { return images.Nginx(filepath.Join(cache, "nginx")) }},
		{"metrics-server", func() (v1.Image, error) { return images.MetricsServer(metricsServer) }},
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	built := map[string]v1.Image{}
	wanted := strings.Split(only, ",")
	for _, w := range wanted {
		if only != "" && !slices.ContainsFunc(builders, func(b builder) bool { return b.name == w }) {
			return fmt.Errorf("--only: no image %q (want testserver, busybox, curl, nginx or metrics-server)", w)
		}
	}
	for _, b := range builders {
		if only != "" && !slices.Contains(wanted, b.name) {
			continue
		}
		start := time.Now()
		img, err := b.build()
		if err != nil {
			return fmt.Errorf("building %s: %w", b.name, err)
		}
		ref := "fargo/" + b.name + ":1"
		tag, err := name.NewTag(ref)
		if err != nil {
			return err
		}
		path := filepath.Join(out, b.name+".tar")
		if err := tarball.WriteToFile(path, tag, img); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		digest, _ := img.Digest()
		fmt.Printf("%-14s %s  %s (%.1fs)\n", b.name, digest, path, time.Since(start).Seconds())
		built[ref] = img
	}
	if serve == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(serve)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--serve %q: want a loopback address and port, such as 127.0.0.1:5000", serve)
	}
	l, err := net.Listen("tcp", serve)
	if err != nil {
		return err
	}
	go func() { log.Fatal(http.Serve(l, registry.New())) }()
	for ref, img := range built {
		if err := images.Push(serve+"/"+ref, img); err != nil {
			return err
		}
		fmt.Printf("pushed %s/%s\n", serve, ref)
	}
	fmt.Printf("registry serving on %s (images are lost when it stops); interrupt to stop\n", serve)
	select {}
}
