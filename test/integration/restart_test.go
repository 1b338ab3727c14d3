//go:build integration

package integration

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fargo-dev/fargo/test/harness"
)

const profilesConfig = `fargateProfiles:
  - name: fp-web
    selectors:
      - namespace: web
        labels: {app: web}
`

// A server whose --config has fargateProfiles starts again, after SIGTERM and after
// kill -9, with the same command: identical profiles are kept; a profile whose
// selectors changed is reported, not a reason to stop.
func TestRestartWithConfigProfiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "profiles.yaml")
	writeFile(t, path, string(readFile(t, writeLimitsConfig(t)))+profilesConfig)
	args := append(harness.ServerArgs(t, t.TempDir()), "--config", path)
	s := harness.StartServerWith(t, args)
	uid := s.Kubectl("get", "fp", "fp-web", "-o", "jsonpath={.metadata.uid}")

	restart := func(how string, stop func(*harness.Server)) *harness.Server {
		t.Helper()
		stop(s)
		next := harness.Launch(t, args)
		if err := next.WaitReady(90 * time.Second); err != nil {
			t.Fatalf("after %s the server does not start again: %v", how, err)
		}
		if got := next.Kubectl("get", "fp", "fp-web", "-o", "jsonpath={.metadata.uid}"); got != uid {
			t.Errorf("after %s fp-web was re-created (uid %s, was %s)", how, got, uid)
		}
		return next
	}
	s = restart("SIGTERM", func(s *harness.Server) { s.Stop() })
	if !strings.Contains(s.Output(), "ACTIVE, kept") {
		t.Errorf("start-up does not say the profile was kept:\n%s", s.Output())
	}
	s = restart("kill -9", func(s *harness.Server) {
		_ = s.Signal(syscall.SIGKILL)
		_ = s.WaitExit(30 * time.Second)
	})

	// Selectors changed in the config: reported, the cluster's profile kept.
	writeFile(t, path, strings.Replace(string(readFile(t, path)), "app: web", "app: api", 1))
	s = restart("a changed config", func(s *harness.Server) { s.Stop() })
	if out := s.Output(); !strings.Contains(out, "its selectors differ from the config") || !strings.Contains(out, "fargo delete fargateprofile --name fp-web") {
		t.Errorf("start-up does not report the changed selectors:\n%s", out)
	}
	if got := s.Kubectl("get", "fp", "fp-web", "-o", "jsonpath={.spec.selectors[0].labels.app}"); got != "web" {
		t.Errorf("the cluster's profile changed: app=%s", got)
	}
}

// An invalid profile in the config stops the start before anything runs, with its
// line, in the words of the EKS API.
func TestInvalidConfigProfileRefusedWithLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	writeFile(t, path, string(readFile(t, writeLimitsConfig(t)))+"fargateProfiles:\n  - name: eks-reserved\n    selectors: [{namespace: a}]\n")
	s := harness.Launch(t, append(harness.ServerArgs(t, t.TempDir()), "--config", path))
	if err := s.WaitExit(20 * time.Second); err == nil {
		t.Fatalf("a config with an invalid profile started:\n%s", s.Output())
	}
	out := s.Output()
	if !strings.Contains(out, "bad.yaml:15: fargateProfiles[0]") || !strings.Contains(out, `the prefix "eks-" is reserved`) {
		t.Errorf("error does not locate the profile:\n%s", out)
	}
	if strings.Contains(out, "kube-apiserver") {
		t.Errorf("the control plane was started before the config was refused:\n%s", out)
	}
}
