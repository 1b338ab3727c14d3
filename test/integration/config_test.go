//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fargo-dev/fargo/test/harness"
)

func TestSeedClusterConfig(t *testing.T) {
	cfg := filepath.Join(harness.Root(), "examples", "eks-private-subnet.yaml")
	s := harness.StartServer(t, "--config", cfg)
	if !strings.Contains(s.Output(), "cluster eksworkshop in ap-southeast-1") {
		t.Errorf("start-up does not show the configured cluster:\n%s", s.Output())
	}
	// kubernetesNetworkConfig.serviceIPv4CIDR reaches the apiserver.
	if ip := s.Kubectl("get", "svc", "kubernetes", "-o", "jsonpath={.spec.clusterIP}"); ip != "10.50.0.1" {
		t.Errorf("kubernetes service IP = %q, want 10.50.0.1 from serviceIPv4CIDR 10.50.0.0/24", ip)
	}
	if ctx := s.Kubectl("config", "current-context"); strings.TrimSpace(ctx) != "eksworkshop" {
		t.Errorf("kubeconfig context = %q, want the cluster name", ctx)
	}
}

func TestInvalidConfigNamesFieldAndLine(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "bad.yaml")
	data := "apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata:\n  name: c\nvpc:\n  subnets:\n    private:\n      a: { cidr: 10.0.0.0/24, size: 3 }\n"
	if err := os.WriteFile(cfg, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	s := harness.Launch(t, append(harness.ServerArgs(t, t.TempDir()), "--config", cfg))
	if err := s.WaitExit(30 * time.Second); err == nil {
		t.Fatalf("invalid config accepted:\n%s", s.Output())
	}
	if want := cfg + ":8: vpc.subnets.private.a.size: unknown field"; !strings.Contains(s.Output(), want) {
		t.Errorf("output does not contain %q:\n%s", want, s.Output())
	}
}

func TestFlagsOverrideConfig(t *testing.T) {
	cfg := filepath.Join(harness.Root(), "examples", "eks-private-subnet.yaml")
	s := harness.StartServer(t, "--config", cfg, "--cluster-name", "other", "--service-cidr", "10.60.0.0/16")
	if !strings.Contains(s.Output(), "cluster other in ap-southeast-1") {
		t.Errorf("--cluster-name did not override metadata.name:\n%s", s.Output())
	}
	if ip := s.Kubectl("get", "svc", "kubernetes", "-o", "jsonpath={.spec.clusterIP}"); ip != "10.60.0.1" {
		t.Errorf("kubernetes service IP = %q, want 10.60.0.1 from --service-cidr", ip)
	}
}
