package server

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

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
