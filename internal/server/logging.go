package server

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"

	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"
)

var klogFlags *flag.FlagSet

// enterShutdown keeps the embedded components from ending the process while it
// stops: some of them (controller-manager's client builders, the namespace
// controller) call klog.Fatal when the apiserver goes away under them. Their
// goroutine is parked instead, and the orderly shutdown finishes and exits 0.
func enterShutdown() {
	if klogFlags != nil {
		_ = klogFlags.Set("stderrthreshold", "4") // above FATAL: nothing on the terminal
	}
	klog.OsExit = func(int) { select {} }
}

// setupLogging sends the embedded components' klog output to DIR/fargo.log, so the
// terminal shows only fargo's own progress lines.
func setupLogging(dir string, verbosity int) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating log directory %s: %w", dir, err)
	}
	klogFlags = flag.NewFlagSet("klog", flag.ContinueOnError)
	fs := klogFlags
	klog.InitFlags(fs)
	for name, value := range map[string]string{
		"logtostderr":      "false",
		"alsologtostderr":  "false",
		"stderrthreshold":  "FATAL",
		"one_output":       "true",
		"skip_log_headers": "true",
		"log_file":         filepath.Join(dir, "fargo.log"),
		"v":                strconv.Itoa(verbosity),
	} {
		if err := fs.Set(name, value); err != nil {
			return fmt.Errorf("configuring logs (%s): %w", name, err)
		}
	}
	return nil
}

// captureStderr sends what embedded libraries write straight to the process's
// standard error to DIR/stderr.log: the apiserver's etcd client logs JSON there
// (several lines a second while etcd refuses writes). fargo's own messages keep the
// terminal through a new os.Stderr, and a crash is printed on both.
func captureStderr(dir string) error {
	f, err := os.OpenFile(filepath.Join(dir, "stderr.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("opening the log of standard error: %w", err)
	}
	defer f.Close()
	term, err := unix.FcntlInt(2, unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return fmt.Errorf("keeping standard error for fargo's messages: %w", err)
	}
	if err := unix.Dup2(int(f.Fd()), 2); err != nil {
		unix.Close(term)
		return fmt.Errorf("sending standard error to %s: %w", f.Name(), err)
	}
	os.Stderr = os.NewFile(uintptr(term), "/dev/stderr")
	if err := debug.SetCrashOutput(os.Stderr, debug.CrashOptions{}); err != nil {
		klog.Warningf("crash output stays in %s only: %v", f.Name(), err)
	}
	return nil
}
