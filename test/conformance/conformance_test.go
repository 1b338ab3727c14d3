//go:build conformance

// Package conformance runs upstream Kubernetes' [sig-node] and [sig-network]
// [Conformance] e2e tests (e2e.test with ginkgo, built by `make conformance` from
// the Go module proxy at the embedded Kubernetes version) against a real fargo
// server, on the node group and then with every namespace on Fargate, and
// writes docs/conformance.md. It fails when a test passes on the node group but
// fails on Fargate without a Fargate rule refusing its pods.
package conformance

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fargo-dev/fargo/test/harness"
	"github.com/fargo-dev/fargo/test/images"
)

const defaultFocus = `\[sig-(node|network)\].*\[Conformance\]`

// kubernetesVersion is the k8s.io/kubernetes version in fargo's go.mod.
func kubernetesVersion(t *testing.T) string {
	data, err := os.ReadFile(filepath.Join(harness.Root(), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "k8s.io/kubernetes" {
			return f[1]
		}
	}
	t.Fatal("go.mod requires no k8s.io/kubernetes")
	return ""
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func TestConformance(t *testing.T) {
	harness.RequireRoot(t)
	e2eTest := harness.Bin(t, "e2e.test")
	out := filepath.Join(harness.Root(), "bin", "conformance")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	registry := images.StartRegistry(t)
	list := repoList(t, t.TempDir(), registry)
	pushImages(t, e2eTest, list, registry)

	dataDir, _ := harness.ClusterDir(t, "fargo-conformance-", "")
	// The cluster DNS forwards outside names to a loopback port in CoreDNS's own
	// network namespace (nothing answers), so no query leaves the machine.
	args := append(harness.Without(harness.Without(harness.ServerArgs(t, dataDir), "--without-dns"), "--without-nodegroup"),
		"--runtime", "containerd", "--dns-upstream", "127.0.0.1:1",
		// Room for the tests' pods at once, as the node group's pod limits give:
		// a sandbox's size is a ceiling, not a reservation, on this small machine.
		"--cpu-overcommit", "16", "--host-memory", "64Gi")
	s := harness.StartServerWith(t, args)
	s.Kubectl("wait", "--for=condition=Ready", "node", "--all", "--timeout=5m")
	s.Kubectl("-n", "kube-system", "rollout", "status", "deployment/coredns", "--timeout=5m")

	focus := env("FARGO_CONFORMANCE_FOCUS", defaultFocus)
	ng := runSuite(t, s, "node group", "nodegroup", out, list, focus)
	profile := exec.Command(harness.Bin(t, "fargo"), "create", "fargateprofile", "--cluster", "fargo", "--name", "conformance",
		"--namespace", "*", "--kubeconfig", s.Kubeconfig(), "--timeout", "5m")
	if b, err := profile.CombinedOutput(); err != nil {
		t.Fatalf("creating the Fargate profile for *: %v\n%s", err, b)
	}
	fg := runSuite(t, s, "Fargate (profile for `*`)", "fargate", out, list, focus)

	text := doc(ng, fg, focus, kubernetesVersion(t), time.Now())
	path := env("FARGO_CONFORMANCE_DOC", filepath.Join(out, "conformance.md"))
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
	if c := compare(ng, fg); len(c.bugs) > 0 {
		t.Errorf("%d tests pass on the node group but fail on Fargate (see %s): %q", len(c.bugs), path, c.bugs)
	}
}

// runSuite runs the focused tests with ginkgo in parallel against s; the output
// goes to DIR/NAME.log, the report to DIR/NAME.json.
func runSuite(t *testing.T, s *harness.Server, label, name, dir, list, focus string) pass {
	log, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	report := name + ".json"
	_ = os.Remove(filepath.Join(dir, report))
	cmd := exec.Command(harness.Bin(t, "ginkgo"), "--procs", env("FARGO_CONFORMANCE_PROCS", "10"), "--focus", focus,
		"--timeout", "40m", "--no-color", "--silence-skips", "--json-report", report, "--output-dir", dir,
		harness.Bin(t, "e2e.test"), "--",
		"--kubeconfig", s.Kubeconfig(), "--provider", "skeleton",
		// Fargate nodes are one pod's each and tainted: not nodes to place
		// test pods on, nor ones to wait for.
		"--allowed-not-ready-nodes", "-1")
	cmd.Env = append(os.Environ(), "KUBE_TEST_REPO_LIST="+list)
	cmd.Stdout, cmd.Stderr = log, log
	t.Logf("running the %s pass (output: %s)", label, log.Name())
	start := time.Now()
	err = cmd.Run() // fails when a test fails; the report says which
	p, rerr := readPass(label, filepath.Join(dir, report), time.Since(start))
	if rerr != nil {
		t.Fatalf("%s pass: %v (ginkgo: %v; see %s)", label, rerr, err, log.Name())
	}
	t.Logf("%s pass: %d tests, %d passed, in %s", label, len(p.tests), p.count("passed"), p.elapsed.Round(time.Second))
	return p
}
