//go:build integration

package integration

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fargo-dev/fargo/test/harness"
)

func fargoCLI(t *testing.T, s *harness.Server, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(harness.Bin(t, "fargo"), append(args, "--kubeconfig", s.Kubeconfig())...).CombinedOutput()
	return string(out), err
}

// The seed's eksctl commands, with fargo in place of eksctl; kubectl and the CLI
// see the same profiles.
func TestProfileCLI(t *testing.T) {
	cfg := filepath.Join(harness.Root(), "examples", "eks-private-subnet.yaml")
	s := harness.StartServer(t, "--config", cfg)

	out, err := fargoCLI(t, s, "create", "fargateprofile", "--cluster", "eksworkshop", "--name", "test3-mixed", "--namespace", "test3-mixed", "--labels", "runon=fargate")
	if err != nil || !strings.Contains(out, `created Fargate profile "test3-mixed"`) || !strings.Contains(out, "ACTIVE") {
		t.Fatalf("create: %v\n%s", err, out)
	}
	out, err = fargoCLI(t, s, "create", "fargateprofile", "--cluster", "eksworkshop", "--namespace", "multi", "--tags", "team=a")
	if err != nil {
		t.Fatalf("create with generated name: %v\n%s", err, out)
	}
	generated := strings.Split(strings.Split(out, `"`)[1], `"`)[0]
	if !strings.HasPrefix(generated, "fp-") || len(generated) != len("fp-")+8 {
		t.Errorf("generated name %q is not fp-xxxxxxxx", generated)
	}

	out, err = fargoCLI(t, s, "get", "fargateprofile", "--cluster", "eksworkshop")
	if err != nil {
		t.Fatalf("get: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[0], "SELECTOR_NAMESPACE") || !strings.Contains(lines[0], "TAGS") || !strings.HasSuffix(lines[0], "STATUS") {
		t.Errorf("header = %q", lines[0])
	}
	if !strings.Contains(out, "test3-mixed") || !strings.Contains(out, "runon=fargate") || !strings.Contains(out, "<none>") ||
		!strings.Contains(out, "team=a") || !strings.Contains(out, "subnet-04a7c6e7e1589c953,subnet-031022a6aab9b9e70") && !strings.Contains(out, "subnet-031022a6aab9b9e70") {
		t.Errorf("table:\n%s", out)
	}
	// kubectl sees what the CLI created.
	if names := s.Kubectl("get", "fargateprofiles", "-o", "name"); !strings.Contains(names, "test3-mixed") || !strings.Contains(names, generated) {
		t.Errorf("kubectl get fargateprofiles: %s", names)
	}
	// ... and the CLI sees what kubectl creates.
	createJSON(t, s, profileJSON("from-kubectl", `{"selectors":[{"namespace":"k1"},{"namespace":"k2","labels":{"a":"b"}}]}`))
	waitProfile(t, s, "from-kubectl", "ACTIVE")
	out, _ = fargoCLI(t, s, "get", "fargateprofile", "--cluster", "eksworkshop", "--name", "from-kubectl", "-o", "yaml")
	if !strings.Contains(out, "podExecutionRoleARN: arn:aws:iam::000000000000:role/eksctl-eksworkshop-FargatePodExecutionRole") || !strings.Contains(out, "namespace: k2") || !strings.Contains(out, "status: ACTIVE") {
		t.Errorf("yaml:\n%s", out)
	}
	out, _ = fargoCLI(t, s, "get", "fargateprofile", "--cluster", "eksworkshop", "--name", "from-kubectl")
	if strings.Count(out, "from-kubectl") != 2 {
		t.Errorf("want one row per selector:\n%s", out)
	}

	// Errors are EKS's.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "fargateprofile", "--cluster", "other"}, `No cluster found for name: other`},
		{[]string{"create", "fargateprofile", "--cluster", "eksworkshop", "--name", "eks-x", "--namespace", "a"}, `InvalidParameterException: Fargate profile name "eks-x" is invalid: the prefix "eks-" is reserved for AWS`},
		{[]string{"create", "fargateprofile", "--cluster", "eksworkshop", "--name", "x"}, `--namespace is required`},
		{[]string{"get", "fargateprofile", "--cluster", "eksworkshop", "--name", "nope"}, `ResourceNotFoundException: No Fargate Profile found with name: nope`},
	} {
		if out, err := fargoCLI(t, s, c.args...); err == nil || !strings.Contains(out, c.want) {
			t.Errorf("fargo %s: want %q, got (err %v)\n%s", strings.Join(c.args, " "), c.want, err, out)
		}
	}

	out, err = fargoCLI(t, s, "delete", "fargateprofile", "--cluster", "eksworkshop", "--name", "test3-mixed", "--wait")
	if err != nil || !strings.Contains(out, `deleted Fargate profile "test3-mixed"`) {
		t.Fatalf("delete: %v\n%s", err, out)
	}
	if out, err := s.TryKubectl("get", "fp", "test3-mixed"); err == nil {
		t.Errorf("profile still there after delete --wait: %s", out)
	}
}

// Profiles of the cluster config and --fargate's fp-default are created at start.
func TestConfigProfilesCreatedAtStart(t *testing.T) {
	cfg := writeLimitsConfig(t)
	data := string(readFile(t, cfg)) + `fargateProfiles:
  - name: fp-dev
    selectors:
      - namespace: dev
        labels: {env: dev}
    subnets: [subnet-private-b]
`
	path := filepath.Join(t.TempDir(), "with-profiles.yaml")
	writeFile(t, path, data)
	s := harness.StartServer(t, "--config", path, "--fargate")
	for _, name := range []string{"fp-dev", "fp-default"} {
		if !strings.Contains(s.Output(), "Fargate profile "+name) {
			t.Errorf("no progress line for %s:\n%s", name, s.Output())
		}
		if st := s.Kubectl("get", "fp", name, "-o", "jsonpath={.status.status}"); st != "ACTIVE" {
			t.Errorf("%s is %q", name, st)
		}
	}
	if got := s.Kubectl("get", "fp", "fp-default", "-o", "jsonpath={.spec.selectors[*].namespace}"); got != "default kube-system" {
		t.Errorf("fp-default selectors = %q", got)
	}
	if got := s.Kubectl("get", "fp", "fp-dev", "-o", "jsonpath={.spec.subnets}"); got != `["subnet-private-b"]` {
		t.Errorf("fp-dev subnets = %s", got)
	}
}
