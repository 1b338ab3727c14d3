// Package guestimage builds the micro-VM guest's initramfs from Debian's own
// files: a kernel package's modules (with their dependencies, read from each
// module's .modinfo), the host's runc and the libraries it links, and
// fargo-guest as /init. The microvm runtime boots it with the package's kernel.
package guestimage

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// Modules are the modules the guest needs: the virtio PCI transport and the
// devices fargo gives each VM (NIC, serial port, 9p share).
var Modules = []string{"virtio_pci", "virtio_net", "virtio_console", "9pnet_virtio", "9p"}

// ResolveModules finds each wanted module under dir (a kernel's
// lib/modules/<version>) and returns their files, dependencies first.
func ResolveModules(dir string, wanted []string) ([]string, error) {
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name, ok := strings.CutSuffix(d.Name(), ".ko"); ok {
			files[strings.ReplaceAll(name, "-", "_")] = path
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing modules in %s: %w", dir, err)
	}
	var order []string
	state := map[string]int{} // 1: visiting, 2: done
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		switch state[name] {
		case 2:
			return nil
		case 1:
			return fmt.Errorf("module dependency cycle: %s", strings.Join(append(chain, name), " → "))
		}
		path, ok := files[name]
		if !ok {
			return fmt.Errorf("module %s not found in %s (needed by %s)", name, dir, strings.Join(chain, " → "))
		}
		state[name] = 1
		deps, err := moduleDepends(path)
		if err != nil {
			return err
		}
		for _, d := range deps {
			if err := visit(d, append(chain, name)); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, path)
		return nil
	}
	for _, w := range wanted {
		if err := visit(w, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// moduleDepends reads the "depends=" field of a module's .modinfo section.
func moduleDepends(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading module %s: %w", path, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("module %s has no .modinfo", path)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("reading .modinfo of %s: %w", path, err)
	}
	for _, field := range bytes.Split(data, []byte{0}) {
		if v, ok := bytes.CutPrefix(field, []byte("depends=")); ok {
			if len(v) == 0 {
				return nil, nil
			}
			return strings.Split(string(v), ","), nil
		}
	}
	return nil, nil
}
