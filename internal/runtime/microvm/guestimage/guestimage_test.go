package guestimage

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cavaliergopher/cpio"
)

// Libraries finds what ldd finds for a dynamic Debian binary: the interpreter
// and libc, each once.
func TestLibraries(t *testing.T) {
	libs, err := Libraries("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range libs {
		names = append(names, filepath.Base(l))
	}
	if !slices.Contains(names, "libc.so.6") || !slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "ld-linux") }) {
		t.Errorf("Libraries(/bin/sh) = %v; want libc.so.6 and the ld-linux interpreter", libs)
	}
	if _, err := Libraries("/nonexistent"); err == nil {
		t.Error("Libraries of a missing file succeeded")
	}
}

// Write puts /init, runc with its libraries, the modules and their order in
// a gzip'd newc cpio the kernel unpacks.
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	mod := filepath.Join(dir, "virtio_x.ko")
	if err := os.WriteFile(mod, []byte("module"), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	// /bin/sh stands in for both binaries: any dynamic executable does.
	if err := Write(&buf, Spec{Init: "/bin/sh", Runc: "/bin/sh", Modules: []string{mod}}); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	r := cpio.NewReader(zr)
	files := map[string]string{}
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		files[h.Name] = string(b)
		if h.Name == "init" && h.Mode.Perm() != 0o755 {
			t.Errorf("init mode %v, want executable", h.Mode)
		}
	}
	for _, name := range []string{"init", "usr/sbin/runc", "lib/modules/fargo/virtio_x.ko", "dev", "proc"} {
		if _, ok := files[name]; !ok {
			t.Errorf("initramfs lacks %s", name)
		}
	}
	if files["lib/modules/fargo/order"] != "virtio_x\n" {
		t.Errorf("module order = %q, want virtio_x", files["lib/modules/fargo/order"])
	}
	if !slices.ContainsFunc(keys(files), func(n string) bool { return strings.HasSuffix(n, "/libc.so.6") }) {
		t.Errorf("initramfs lacks runc's libc: %v", keys(files))
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
