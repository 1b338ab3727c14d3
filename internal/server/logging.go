package server

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"k8s.io/klog/v2"
)

// setupLogging sends the embedded components' klog output to DIR/fargo.log, so the
// terminal shows only fargo's own progress lines.
func setupLogging(dir string, verbosity int) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating log directory %s: %w", dir, err)
	}
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
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
