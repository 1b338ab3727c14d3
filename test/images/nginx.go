package images

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// nginxConf serves /usr/share/nginx/html on port 80 in the foreground, logging to
// the container's stdout and stderr.
const nginxConf = `user nobody nogroup;
worker_processes 1;
pid /run/nginx.pid;
error_log /dev/stderr;
events { worker_connections 256; }
http {
	include /etc/nginx/mime.types;
	access_log /dev/stdout;
	server {
		listen 80;
		root /usr/share/nginx/html;
		location /healthz { return 200 "ok\n"; }
	}
}
`

// Nginx is an image of Debian's nginx package: the binary and the shared
// libraries it links (from this machine), the default page and a foreground
// config, plus busybox and free as in an Alpine image. The .deb files are fetched with apt-get download into cacheDir (once)
// and unpacked with dpkg-deb, so nothing is installed and no service starts.
func Nginx(cacheDir string) (v1.Image, error) {
	root := filepath.Join(cacheDir, "root")
	if _, err := os.Stat(filepath.Join(root, "usr/sbin/nginx")); err != nil {
		if err := os.MkdirAll(cacheDir, 0o755); err != nil {
			return nil, err
		}
		dl := exec.Command("apt-get", "download", "nginx", "nginx-common")
		dl.Dir = cacheDir
		if out, err := dl.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("apt-get download nginx nginx-common: %v: %s", err, out)
		}
		debs, _ := filepath.Glob(filepath.Join(cacheDir, "*.deb"))
		for _, deb := range debs {
			if out, err := exec.Command("dpkg-deb", "-x", deb, root).CombinedOutput(); err != nil {
				return nil, fmt.Errorf("unpacking %s: %v: %s", deb, err, out)
			}
		}
	}
	fs := rootfs{}
	fs.dir("bin", "etc", "etc/nginx", "usr", "usr/sbin", "usr/share", "usr/share/nginx", "usr/share/nginx/html",
		"var", "var/log", "var/log/nginx", "var/lib", "var/lib/nginx", "run", "tmp", "proc", "sys", "dev", "lib", "lib64")
	// nginx's compiled-in temp paths.
	fs.dir("var/lib/nginx/body", "var/lib/nginx/proxy", "var/lib/nginx/fastcgi", "var/lib/nginx/uwsgi", "var/lib/nginx/scgi")
	for _, f := range []struct {
		src, dst string
		mode     int64
	}{{"usr/sbin/nginx", "usr/sbin/nginx", 0o755}, {"etc/nginx/mime.types", "etc/nginx/mime.types", 0o644},
		{"usr/share/nginx/html/index.html", "usr/share/nginx/html/index.html", 0o644}} {
		data, err := os.ReadFile(filepath.Join(root, f.src))
		if err != nil {
			return nil, fmt.Errorf("nginx image: %w", err)
		}
		fs.file(f.dst, data, f.mode)
	}
	if err := fs.libraries(filepath.Join(root, "usr/sbin/nginx")); err != nil {
		return nil, fmt.Errorf("nginx image: %w", err)
	}
	// A shell and free, as the seed's nginx:alpine-slim has (its demo runs free -m).
	if err := fs.shell(); err != nil {
		return nil, fmt.Errorf("nginx image: %w", err)
	}
	fs.file("etc/nginx/nginx.conf", []byte(nginxConf), 0o644)
	fs.file("etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"), 0o644)
	fs.file("etc/group", []byte("root:x:0:\nnogroup:x:65534:\n"), 0o644)
	return fs.image([]string{"/usr/sbin/nginx", "-g", "daemon off;"}, "PATH=/usr/sbin:/bin")
}

var lddLine = regexp.MustCompile(`(/[^ ]+) \(0x`)

// sharedLibraries lists the absolute paths of the libraries bin links, loader
// included, as ldd resolves them on this machine.
func sharedLibraries(bin string) ([]string, error) {
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", bin, err)
	}
	var libs []string
	for _, m := range lddLine.FindAllSubmatch(out, -1) {
		libs = append(libs, string(bytes.TrimSpace(m[1])))
	}
	return libs, nil
}
