// Package datadir keeps fargo's data directories private. They hold the cluster's
// keys, etcd's data and pods' secrets and service-account tokens, so they are
// 0700 and the files with secrets 0600, tightened at every start: a directory
// made by hand, or by an older fargo, is not left readable.
package datadir

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// StartedByEnv is set to the data dir on every daemon fargo starts (containerd,
// node-group kubelets; containerd's shims inherit it): `fargo uninstall` finds
// them by it after their data dir is gone.
const StartedByEnv = "FARGO_STARTED_BY"

// Mark sets StartedByEnv to dir in cmd's environment.
func Mark(cmd *exec.Cmd, dir string) {
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, StartedByEnv+"="+dir)
}

// Ensure creates dir (and its parents) and makes it 0700.
func Ensure(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	return tighten(dir, 0o700)
}

// Private makes the files matching each glob pattern 0600.
func Private(patterns ...string) error {
	for _, p := range patterns {
		matches, err := filepath.Glob(p)
		if err != nil {
			return fmt.Errorf("listing %s: %w", p, err)
		}
		for _, m := range matches {
			if err := tighten(m, 0o600); err != nil {
				return err
			}
		}
	}
	return nil
}

func tighten(path string, mode os.FileMode) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("checking %s: %w", path, err)
	}
	if fi.Mode().Perm()&^mode == 0 {
		return nil
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("making %s private (mode %o): %w", path, mode, err)
	}
	return nil
}
