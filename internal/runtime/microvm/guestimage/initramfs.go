package guestimage

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cavaliergopher/cpio"
)

// Spec is what goes into the initramfs.
type Spec struct {
	// Init is fargo-guest, static: the guest's /init.
	Init string
	// Runc is the host's runc; it goes in at /usr/sbin/runc with its libraries.
	Runc string
	// Modules are module files, dependencies first (ResolveModules).
	Modules []string
}

// file is one regular file of the image: where it goes, where it comes from.
type file struct {
	dst, src string
	mode     int64
}

// Write writes the initramfs (a gzip'd newc cpio, as the kernel unpacks it).
func Write(out io.Writer, s Spec) error {
	files := []file{{"init", s.Init, 0o755}, {"usr/sbin/runc", s.Runc, 0o755}}
	libs, err := Libraries(s.Runc)
	if err != nil {
		return err
	}
	for _, l := range libs {
		files = append(files, file{strings.TrimPrefix(l, "/"), l, 0o755})
	}
	var order []string
	for _, m := range s.Modules {
		name := filepath.Base(m)
		files = append(files, file{"lib/modules/fargo/" + name, m, 0o644})
		order = append(order, strings.TrimSuffix(name, ".ko"))
	}
	zw := gzip.NewWriter(out)
	w := cpio.NewWriter(zw)
	dirs := map[string]bool{}
	for _, d := range []string{"dev", "proc", "sys", "run", "tmp", "etc", "lib/modules/fargo"} {
		dirs[d] = true
	}
	for _, f := range files {
		for d := path.Dir(f.dst); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	var names []string
	for d := range dirs {
		names = append(names, d)
	}
	sort.Strings(names) // parents first
	for _, d := range names {
		if err := w.WriteHeader(&cpio.Header{Name: d, Mode: cpio.TypeDir | 0o755}); err != nil {
			return fmt.Errorf("writing the initramfs: %w", err)
		}
	}
	// No /dev/console here: the kernel's built-in initramfs has it, and this
	// one is unpacked over it.
	for _, f := range files {
		b, err := os.ReadFile(f.src)
		if err != nil {
			return fmt.Errorf("adding %s to the initramfs: %w", f.src, err)
		}
		if err := writeFile(w, f.dst, cpio.FileMode(f.mode), b); err != nil {
			return err
		}
	}
	if err := writeFile(w, "lib/modules/fargo/order", 0o644, []byte(strings.Join(order, "\n")+"\n")); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("writing the initramfs: %w", err)
	}
	return zw.Close()
}

func writeFile(w *cpio.Writer, name string, mode cpio.FileMode, b []byte) error {
	if err := w.WriteHeader(&cpio.Header{Name: name, Mode: cpio.TypeReg | mode, Size: int64(len(b))}); err != nil {
		return fmt.Errorf("writing %s to the initramfs: %w", name, err)
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("writing %s to the initramfs: %w", name, err)
	}
	return nil
}
