package microvm

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Boot is how a sandbox's VM came up, kept in DATA/microvm/<id>/boot.json for
// benchmarks and for whoever wonders why a pod took long: seconds from the
// create call's boot to QEMU running, to the first console line (with the
// kernel's quiet, mostly the guest agent saying it serves: so it covers the
// kernel's boot and the init's), and to the guest set up (network and size).
// Only the try that succeeded counts; Tries says how many it took (a hung
// kernel is booted again).
type Boot struct {
	Accel   string  `json:"accel"`
	Tries   int     `json:"tries"`
	QEMU    float64 `json:"qemuSeconds"`
	Console float64 `json:"consoleSeconds"`
	Guest   float64 `json:"guestSeconds"`
}

// bootClock marks the phases of one boot.
type bootClock struct {
	start, qemu, console time.Time
}

func (c bootClock) record(v vm, accel string, tries int) error {
	b, err := json.Marshal(Boot{Accel: accel, Tries: tries, QEMU: c.qemu.Sub(c.start).Seconds(),
		Console: c.console.Sub(c.start).Seconds(), Guest: time.Since(c.start).Seconds()})
	if err != nil {
		return err
	}
	if err := os.WriteFile(v.path("boot.json"), b, 0o600); err != nil {
		return fmt.Errorf("recording the boot: %w", err)
	}
	return nil
}
