//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fargo-dev/fargo/test/benchdoc"
	"github.com/fargo-dev/fargo/test/harness"
)

// vmRounds are the batches the microvm row measures (TCG boots cost seconds of
// both cores each: 50 would take minutes).
var vmRounds = []int{1, 10}

// vmBoot is a VM's boot record (DATA/microvm/<sandbox>/boot.json, written by
// the microvm backend): seconds from the boot's start to QEMU running, to the
// first console line (mostly the guest agent's: the kernel is quiet), and to
// the guest set up.
type vmBoot struct {
	Accel   string  `json:"accel"`
	Tries   int     `json:"tries"`
	QEMU    float64 `json:"qemuSeconds"`
	Console float64 `json:"consoleSeconds"`
	Guest   float64 `json:"guestSeconds"`
}

// vmStartup is what one run of the microvm row measured.
type vmStartup struct {
	running, ready map[int][]float64
	boots          map[int][]vmBoot
	qemuMiB        []float64 // PSS of one VM's QEMU, per VM of the largest batch
}

// microvmStartup runs the batches of rounds (those of vmRounds) on a server with
// --runtime microvm: the same busybox pods as the containerd rows, with each
// VM's boot phases and its QEMU's memory.
func microvmStartup(b *testing.B, ref string, rounds []int, into *vmStartup) {
	if !slices.ContainsFunc(rounds, func(n int) bool { return slices.Contains(vmRounds, n) }) {
		return
	}
	if _, err := os.Stat(filepath.Join(harness.Root(), "bin", "microvm", "initrd.img")); err != nil {
		b.Fatalf("the micro-VM guest is not built (make guest): %v", err)
	}
	before := harness.LeftoversOnHost()
	dataDir, err := os.MkdirTemp("", "fargo-bench-vm-")
	if err != nil {
		b.Fatal(err)
	}
	s := harness.StartServerWith(b, append(harness.ServerArgs(b, dataDir), "--runtime", "microvm", "--host-name", "benchvm"))
	defer func() {
		s.Stop()
		harness.CleanupSandboxes(b, dataDir)
		harness.RemoveNodeLeftovers(b, before)
		os.RemoveAll(dataDir)
	}()
	s.CreateManifest(`{"apiVersion":"fargo.dev/v1alpha1","kind":"FargateProfile","metadata":{"name":"bench"},"spec":{"selectors":[{"namespace":"bench"}]}}`)
	s.Kubectl("create", "namespace", "bench")
	harness.Eventually(b, 30*time.Second, "service account", func() bool { _, err := s.TryKubectl("get", "sa", "default", "-n", "bench"); return err == nil })
	c := s.Client()
	vmsGone := func() {
		harness.Eventually(b, 2*time.Minute, "every VM stopped", func() bool { return len(harness.VMs(dataDir)) == 0 })
	}
	startPods(b, c, "bench", ref, "warm", 1) // pulls the image into fargo's containerd
	deletePods(b, c, "bench")
	vmsGone()
	for _, n := range rounds {
		if !slices.Contains(vmRounds, n) {
			continue
		}
		r, rd := startPods(b, c, "bench", ref, fmt.Sprintf("v%d", n), n)
		into.running[n], into.ready[n] = append(into.running[n], r...), append(into.ready[n], rd...)
		boots := readBoots(b, dataDir)
		if len(boots) != n {
			b.Fatalf("%d boot records for %d pods", len(boots), n)
		}
		into.boots[n] = append(into.boots[n], boots...)
		if n == vmRounds[len(vmRounds)-1] {
			time.Sleep(5 * time.Second)
			for _, p := range harness.VMs(dataDir) {
				pid, _ := strconv.Atoi(p)
				if pss, err := harness.PSS(pid); err == nil {
					into.qemuMiB = append(into.qemuMiB, float64(pss)/(1<<20))
				}
			}
		}
		deletePods(b, c, "bench")
		vmsGone()
	}
}

// readBoots reads the boot record of every VM under dataDir.
func readBoots(b *testing.B, dataDir string) []vmBoot {
	files, _ := filepath.Glob(filepath.Join(dataDir, "microvm", "*", "boot.json"))
	var out []vmBoot
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		var v vmBoot
		if err := json.Unmarshal(data, &v); err != nil {
			b.Fatalf("%s: %v", f, err)
		}
		out = append(out, v)
	}
	return out
}

// vmSection is the microvm row of the doc, beside the containerd rows (whose
// one-pod Running p50 is containerd1).
func vmSection(m *vmStartup, containerd map[int][]float64) string {
	var sec strings.Builder
	accel := map[string]bool{}
	boots, retried, tries := 0, 0, 0
	for _, bs := range m.boots {
		for _, v := range bs {
			accel[v.Accel] = true
			boots++
			if v.Tries > 1 {
				retried++
			}
			tries = max(tries, v.Tries)
		}
	}
	used := make([]string, 0, len(accel))
	for a := range accel {
		used = append(used, strings.ToUpper(a))
	}
	fmt.Fprintf(&sec, "\n### microvm runtime\n\nThe same busybox pods, in the same run, on `--runtime microvm`: a QEMU VM per pod with its own kernel, under **%s** (the backend probes KVM and falls back to TCG, emulated CPUs, saying so; these machines have no usable KVM). Seconds from the create call; the VM's boot split out from its boot record (`DATA/microvm/<sandbox>/boot.json`): QEMU up, the first console line (the kernel is `quiet`: mostly the guest agent saying it serves, so this covers the kernel's boot and the init's), the guest set up (network, size), all from the start of the boot.\n\n", strings.Join(used, ", "))
	sec.WriteString("| pods at once | Running p50 | Running p95 | Ready p50 | boot: QEMU p50 | first console line p50 | guest set up p50 | guest set up p95 | Running p50 ÷ containerd's |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, n := range vmRounds {
		var q, k, g []float64
		for _, v := range m.boots[n] {
			q, k, g = append(q, v.QEMU), append(k, v.Console), append(g, v.Guest)
		}
		fmt.Fprintf(&sec, "| %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.1f× |\n", n, percentile(m.running[n], 50), percentile(m.running[n], 95),
			percentile(m.ready[n], 50), percentile(q, 50), percentile(k, 50), percentile(g, 50), percentile(g, 95),
			percentile(m.running[n], 50)/percentile(containerd[n], 50))
	}
	fmt.Fprintf(&sec, "\n%d of %d boots needed more than one try, at most %d (a kernel silent for 20 s is booted again, docs/microvm.md); their times count from the last try's start, the pods' from the create call. Host memory per VM sandbox: the PSS of its QEMU, 5 s after %d pods are Running, %s MiB (a 0.25 vCPU 0.5 GB pod: the guest touches only part of its RAM). Anchors: Firecracker boots in ~0.125 s with KVM; Kata Containers 0.85–0.95 s per pod.\n",
		retried, boots, tries, vmRounds[len(vmRounds)-1], benchdoc.Spread(m.qemuMiB))
	return sec.String()
}
