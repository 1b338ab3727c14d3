package images

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"maps"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The upstream conformance suite's images (k8s.io/kubernetes/test/images), built
// here from agnhost and this machine's Debian binaries, for `make conformance`:
// the same programs where a test runs them, not the same bytes.

// agnhostTools are the host binaries the agnhost image carries besides busybox,
// by their path in the image: what the suite's commands run in it (dig and
// getent in the DNS tests, curl in the lifecycle hooks, bash in the probe tests,
// OpenBSD's nc, as Alpine's, in the service tests: busybox's has no -v).
var agnhostTools = map[string]string{"/usr/bin/dig": "/usr/bin/dig", "/usr/bin/getent": "/usr/bin/getent",
	"/usr/bin/curl": "/usr/bin/curl", "/bin/bash": "/bin/bash", "/usr/bin/nc": "/bin/nc.openbsd"}

// Agnhost is upstream's agnhost image: /agnhost (entrypoint, default command
// pause) and /agnhost-2, busybox's applets, dig, getent, curl and bash, /uploads,
// the user and group the image defines (user-defined-in-image 1000,
// group-defined-in-image 50000), and a self-signed localhost.crt/localhost.key
// for porter's TLS ports.
func Agnhost(agnhostBin string) (v1.Image, error) {
	fs, err := agnhostRoot(agnhostBin)
	if err != nil {
		return nil, err
	}
	return fs.imageWith(func(c *v1.Config) {
		c.Entrypoint, c.Cmd, c.Env = []string{"/agnhost"}, []string{"pause"}, []string{"PATH=/usr/bin:/bin"}
	})
}

// WebServer is upstream's kitten or nautilus image: agnhost serving the files
// of htmlDir (k8s.io/kubernetes/test/images/<name>/html) with test-webserver.
func WebServer(agnhostBin, htmlDir string) (v1.Image, error) {
	fs, err := agnhostRoot(agnhostBin)
	if err != nil {
		return nil, err
	}
	files, err := os.ReadDir(htmlDir)
	if err != nil {
		return nil, fmt.Errorf("reading the web server's files: %w", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(htmlDir, f.Name()))
		if err != nil {
			return nil, err
		}
		fs.file(f.Name(), data, 0o644)
	}
	return fs.imageWith(func(c *v1.Config) {
		c.Entrypoint, c.Cmd, c.Env = []string{"/agnhost"}, []string{"test-webserver"}, []string{"PATH=/usr/bin:/bin"}
	})
}

// DNSTools stands in for upstream's glibc-dns-testing (Debian with dnsutils):
// the agnhost image's files (glibc's getent, dig) with sh as the command.
func DNSTools(agnhostBin string) (v1.Image, error) {
	fs, err := agnhostRoot(agnhostBin)
	if err != nil {
		return nil, err
	}
	return fs.image([]string{"sh"}, "PATH=/usr/bin:/bin")
}

// NonRoot is upstream's nonroot image: busybox run as user 1234.
func NonRoot() (v1.Image, error) {
	fs, err := busyboxRoot()
	if err != nil {
		return nil, err
	}
	return fs.imageWith(func(c *v1.Config) { c.Cmd, c.Env, c.User = []string{"sh"}, []string{"PATH=/bin"}, "1234" })
}

// agnhostRoot is the agnhost image's files.
func agnhostRoot(agnhostBin string) (rootfs, error) {
	bin, err := os.ReadFile(agnhostBin)
	if err != nil {
		return nil, fmt.Errorf("reading agnhost (make conformance builds it): %w", err)
	}
	fs := rootfs{}
	fs.dir("bin", "usr", "usr/bin", "tmp", "etc", "proc", "sys", "dev", "uploads")
	for _, dst := range slices.Sorted(maps.Keys(agnhostTools)) {
		if err := fs.hostBinary(agnhostTools[dst], dst); err != nil {
			return nil, fmt.Errorf("agnhost image: %w (install Debian's bind9-dnsutils, netcat-openbsd, curl and bash)", err)
		}
	}
	// sh is bash, which looks commands up in PATH as Alpine's sh does; Debian's
	// busybox sh runs its own applets first (its nc, not OpenBSD's).
	fs.link("bin/sh", "bash")
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
	crt, key, err := selfSigned("localhost")
	if err != nil {
		return nil, err
	}
	fs.file("localhost.crt", crt, 0o644)
	fs.file("localhost.key", key, 0o600)
	return fs, nil
}

// selfSigned is a PEM certificate and key for name, valid for a year.
func selfSigned(name string) (crt, key []byte, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return nil, nil, fmt.Errorf("self-signing %s: %w", name, err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

// BusyboxAll is upstream's busybox test image: every applet of Debian's
// busybox-static in /bin; default command sh.
func BusyboxAll() (v1.Image, error) {
	fs, err := busyboxRoot()
	if err != nil {
		return nil, err
	}
	return fs.image([]string{"sh"}, "PATH=/bin")
}

func busyboxRoot() (rootfs, error) {
	fs := rootfs{}
	fs.dir("bin", "tmp", "etc", "proc", "sys", "dev")
	if err := fs.allApplets(); err != nil {
		return nil, err
	}
	fs.file("etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"), 0o644)
	fs.file("etc/group", []byte("root:x:0:\nnogroup:x:65534:\n"), 0o644)
	return fs, nil
}

// NoNewPrivs is upstream's nonewprivs image: busybox and /usr/local/bin/nnp
// (k8s.io/kubernetes/test/images/nonewprivs, printing its effective uid),
// setuid root; default command nnp.
func NoNewPrivs(nnpBin string) (v1.Image, error) {
	bin, err := os.ReadFile(nnpBin)
	if err != nil {
		return nil, fmt.Errorf("reading nnp (make conformance builds it): %w", err)
	}
	fs, err := busyboxRoot()
	if err != nil {
		return nil, err
	}
	fs.dir("usr", "usr/local", "usr/local/bin")
	fs.file("usr/local/bin/nnp", bin, 0o4755)
	return fs.image([]string{"nnp"}, "PATH=/usr/local/bin:/bin")
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

// hostBinary adds this machine's binary at path as dst in the image, and the
// shared libraries it links.
func (r *rootfs) hostBinary(path, dst string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	rel := strings.TrimPrefix(dst, "/")
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
