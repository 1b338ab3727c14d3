// Command guestimage builds the micro-VM guest (make guest): the kernel of a
// Debian linux-image package, extracted, and an initramfs of its modules,
// runc and fargo-guest (internal/runtime/microvm/guestimage).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fargo-dev/fargo/internal/runtime/microvm/guestimage"
)

func main() {
	kernelTree := flag.String("kernel-tree", "", "a linux-image package extracted (dpkg-deb -x): boot/vmlinuz-* and lib/modules/*")
	init := flag.String("init", "bin/fargo-guest", "fargo-guest, built static")
	runc := flag.String("runc", "/usr/sbin/runc", "the runc to run containers with in the guest")
	out := flag.String("out", "bin/microvm", "where vmlinuz and initrd.img go")
	flag.Parse()
	if err := build(*kernelTree, *init, *runc, *out); err != nil {
		fmt.Fprintln(os.Stderr, "guestimage:", err)
		os.Exit(1)
	}
}

func build(tree, init, runc, out string) error {
	kernels, _ := filepath.Glob(filepath.Join(tree, "boot/vmlinuz-*"))
	mods, _ := filepath.Glob(filepath.Join(tree, "lib/modules/*"))
	if len(kernels) != 1 || len(mods) != 1 {
		return fmt.Errorf("%s: want one boot/vmlinuz-* and one lib/modules/*, found %d and %d", tree, len(kernels), len(mods))
	}
	modules, err := guestimage.ResolveModules(mods[0], guestimage.Modules)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(out, "initrd.img.tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := guestimage.Write(f, guestimage.Spec{Init: init, Runc: runc, Modules: modules}); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(out, "initrd.img")); err != nil {
		return err
	}
	k, err := os.ReadFile(kernels[0])
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "vmlinuz"), k, 0o644); err != nil {
		return err
	}
	fmt.Printf("guestimage: %s/vmlinuz (%s) and initrd.img: %d modules, runc and %d libraries, fargo-guest\n",
		out, filepath.Base(mods[0]), len(modules), mustLibs(runc))
	return nil
}

func mustLibs(exe string) int {
	l, _ := guestimage.Libraries(exe)
	return len(l)
}
