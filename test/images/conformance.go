package images

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The upstream conformance suite's images (k8s.io/kubernetes/test/images), built
// here from agnhost and this machine's Debian binaries, for `make conformance`:
// the same programs where a test runs them, not the same bytes.

// agnhostTools are the host binaries the agnhost image carries besides busybox:
// what the suite's commands run in it (dig and getent in the DNS tests, curl in
// the lifecycle hooks, bash in the probe tests).
var agnhostTools = []string{"/usr/bin/dig", "/usr/bin/getent", "/usr/bin/curl", "/bin/bash"}

// Agnhost is upstream's agnhost image: /agnhost (entrypoint, default command
// pause) and /agnhost-2, busybox's applets, dig, getent, curl and bash, /uploads,
// and the user and group the image defines (user-defined-in-image 1000,
// group-defined-in-image 50000).
func Agnhost(agnhostBin string) (v1.Image, error) {
	bin, err := os.ReadFile(agnhostBin)
	if err != nil {
		return nil, fmt.Errorf("reading agnhost (make conformance builds it): %w", err)
	}
	fs := rootfs{}
	fs.dir("bin", "usr", "usr/bin", "tmp", "etc", "proc", "sys", "dev", "uploads")
	for _, t := range agnhostTools {
		if err := fs.hostBinary(t); err != nil {
			return nil, fmt.Errorf("agnhost image: %w (install Debian's bind9-dnsutils, curl and bash)", err)
		}
	}
	if err := fs.allApplets(); err != nil {
		return nil, err
	}
	fs.file("agnhost", bin, 0o755)
	fs.link("agnhost-2", "agnhost")
	fs.file("etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"+
		"user-defined-in-image:x:1000:1000::/home/user-defined-in-image:/bin/sh\n"), 0o644)
	fs.file("etc/group", []byte("root:x:0:\nnogroup:x:65534:\nuser-defined-in-image:x:1000:\n"+
		"group-defined-in-image:x:50000:user-defined-in-image\n"), 0o644)
	fs.file("etc/nsswitch.conf", []byte("passwd: files\ngroup: files\nhosts: files dns\n"), 0o644)
	return fs.imageWith(func(c *v1.Config) {
		c.Entrypoint, c.Cmd, c.Env = []string{"/agnhost"}, []string{"pause"}, []string{"PATH=/usr/bin:/bin"}
	})
}

// BusyboxAll is upstream's busybox test image: every applet of Debian's
// busybox-static in /bin; default command sh.
func BusyboxAll() (v1.Image, error) {
	fs := rootfs{}
	fs.dir("bin", "tmp", "etc", "proc", "sys", "dev")
	if err := fs.allApplets(); err != nil {
		return nil, err
	}
	fs.file("etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"), 0o644)
	fs.file("etc/group", []byte("root:x:0:\nnogroup:x:65534:\n"), 0o644)
	return fs.image([]string{"sh"}, "PATH=/bin")
}

// Pause stands in for registry.k8s.io/pause: agnhost's pause (waits for a
// signal, then exits 0), as the entrypoint.
func Pause(agnhostBin string) (v1.Image, error) {
	bin, err := os.ReadFile(agnhostBin)
	if err != nil {
		return nil, fmt.Errorf("reading agnhost (make conformance builds it): %w", err)
	}
	fs := rootfs{}
	fs.file("agnhost", bin, 0o755)
	return fs.imageWith(func(c *v1.Config) { c.Entrypoint = []string{"/agnhost", "pause"} })
}

// allApplets adds Debian's busybox-static as /bin/busybox and a /bin link for
// each of its applets that is not already in the image.
func (r *rootfs) allApplets() error {
	bin, err := os.ReadFile(BusyboxPath)
	if err != nil {
		return fmt.Errorf("reading %s (install Debian's busybox-static): %w", BusyboxPath, err)
	}
	out, err := exec.Command(BusyboxPath, "--list").Output()
	if err != nil {
		return fmt.Errorf("listing busybox's applets: %w", err)
	}
	r.file("bin/busybox", bin, 0o755)
	for _, a := range strings.Fields(string(out)) {
		if a != "busybox" && !r.has("bin/"+a) && !r.has("usr/bin/"+a) {
			r.link("bin/"+a, "busybox")
		}
	}
	return nil
}

// hostBinary adds this machine's binary at path (same path in the image) and
// the shared libraries it links.
func (r *rootfs) hostBinary(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	rel := strings.TrimPrefix(path, "/")
	r.parents(rel)
	r.file(rel, data, 0o755)
	return r.libraries(path)
}

// libraries adds each shared library bin links, loader included, as ldd
// resolves them on this machine, at its own path, once.
func (r *rootfs) libraries(bin string) error {
	libs, err := sharedLibraries(bin)
	if err != nil {
		return err
	}
	for _, lib := range libs {
		rel := strings.TrimPrefix(lib, "/")
		if r.has(rel) {
			continue
		}
		data, err := os.ReadFile(lib)
		if err != nil {
			return fmt.Errorf("reading %s: %w", lib, err)
		}
		r.parents(rel)
		r.file(rel, data, 0o755)
	}
	return nil
}

// parents adds the directories above name that the image lacks, outermost first.
func (r *rootfs) parents(name string) {
	var missing []string
	for d := filepath.Dir(name); d != "." && d != "/"; d = filepath.Dir(d) {
		if !r.has(d) {
			missing = append([]string{d}, missing...)
		}
	}
	r.dir(missing...)
}

// has reports whether the image already holds name, as a file, link or directory.
func (r rootfs) has(name string) bool {
	for _, f := range r {
		if f.Name == name || f.Name == name+"/" {
			return true
		}
	}
	return false
}
