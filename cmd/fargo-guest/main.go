// Command fargo-guest is the init of the micro-VMs fargo's microvm runtime
// boots (see internal/guest). It is built static and put in the guest's
// initramfs; it is not meant to be run on a host.
package main

import "github.com/fargo-dev/fargo/internal/guest"

func main() { guest.Main() }
