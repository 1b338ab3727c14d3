package netns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Create makes the named network namespace /run/netns/<name>, as `ip netns add`
// does, with its loopback up: in-process, since an `ip` process per sandbox
// (two, with the loopback) was a measurable share of a pod's start. A failed
// bind mount leaves no file behind (NewNamed would).
func Create(name string) error {
	err := onThread(func() error {
		created, err := netns.NewNamed(name) // moves this thread into it
		if err != nil {
			if !errors.Is(err, os.ErrExist) {
				_ = DropStale(filepath.Join(Dir, name)) // never a namespace made before
			}
			return err
		}
		defer created.Close()
		return loopbackUp(netlink.LinkByName, netlink.LinkSetUp)
	})
	if err != nil {
		return fmt.Errorf("creating network namespace %s: %w", name, err)
	}
	return nil
}

// LoopbackUp brings up lo in the namespace at path (a no-op if it is up).
func LoopbackUp(path string) error {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("opening network namespace %s: %w", path, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("opening netlink in %s: %w", path, err)
	}
	defer h.Close()
	if err := loopbackUp(h.LinkByName, h.LinkSetUp); err != nil {
		return fmt.Errorf("in %s: %w", path, err)
	}
	return nil
}

func loopbackUp(byName func(string) (netlink.Link, error), up func(netlink.Link) error) error {
	lo, err := byName("lo")
	if err != nil {
		return fmt.Errorf("finding lo: %w", err)
	}
	if err := up(lo); err != nil {
		return fmt.Errorf("bringing up lo: %w", err)
	}
	return nil
}
