//go:build microvm

package guestimage

import (
	"path/filepath"
	"slices"
	"testing"
)

// ResolveModules orders Debian's modules dependencies first, as read from
// their .modinfo: on the kernel make guest fetched (make test-microvm).
func TestResolveModules(t *testing.T) {
	trees, _ := filepath.Glob("../../../../bin/microvm/cache/*/lib/modules/*")
	if len(trees) == 0 {
		t.Fatal("no kernel in bin/microvm/cache: run make guest first")
	}
	files, err := ResolveModules(trees[0], Modules)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	at := func(n string) int { return slices.Index(names, n) }
	for _, dep := range [][2]string{{"virtio_ring.ko", "virtio.ko"}, {"virtio.ko", "virtio_pci.ko"}, {"net_failover.ko", "virtio_net.ko"}, {"9pnet.ko", "9pnet_virtio.ko"}, {"9pnet.ko", "9p.ko"}} {
		if at(dep[0]) < 0 || at(dep[1]) < 0 || at(dep[0]) > at(dep[1]) {
			t.Errorf("modules %v: want %s before %s", names, dep[0], dep[1])
		}
	}
	if _, err := ResolveModules(trees[0], []string{"no_such_module"}); err == nil {
		t.Error("resolving a missing module succeeded")
	}
}
