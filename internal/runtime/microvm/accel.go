package microvm

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// kvmUnavailable is why KVM cannot run VMs here, or "" if it can: /dev/kvm
// opens and answers the stable API version (12) and makes a VM.
func kvmUnavailable() string {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Sprintf("KVM is unavailable (%v)", err)
	}
	defer f.Close()
	const kvmGetAPIVersion, kvmCreateVM = 0xAE00, 0xAE01
	v, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), kvmGetAPIVersion, 0)
	if errno != 0 || v != 12 {
		return fmt.Sprintf("KVM is unavailable (/dev/kvm API version %d, %v)", v, errno)
	}
	fd, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), kvmCreateVM, 0)
	if errno != 0 {
		return fmt.Sprintf("KVM is unavailable (cannot create a VM: %v)", errno)
	}
	unix.Close(int(fd))
	return ""
}
