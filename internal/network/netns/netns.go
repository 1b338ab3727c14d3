// Package netns makes network namespaces and runs code inside them. A socket
// belongs to the namespace of the thread that creates it, so the code runs on a
// locked thread switched into the namespace; the thread is switched back before
// it is released (or, if that fails, never reused: it ends with its goroutine).
// Sockets made there stay in that namespace after the thread leaves it.
package netns

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// Do runs fn inside the network namespace at path (a bind mount such as
// /var/run/netns/<name>) and returns its error.
func Do(path string, fn func() error) error {
	target, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("opening network namespace %s: %w", path, err)
	}
	defer target.Close()
	return onThread(func() error {
		if err := netns.Set(target); err != nil {
			return fmt.Errorf("entering network namespace %s: %w", path, err)
		}
		return fn()
	})
}

// onThread runs fn, which may switch namespaces, on a locked thread, then
// switches the thread back; if that fails the thread is never reused.
func onThread(fn func() error) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			ch <- fmt.Errorf("reading this thread's network namespace: %w", err)
			return
		}
		defer orig.Close()
		err = fn()
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		ch <- err
	}()
	return <-ch
}
