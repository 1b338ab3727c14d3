//go:build integration

package integration

import (
	"strings"
	"testing"

	"github.com/fargo-dev/fargo/test/harness"
)

const profileYAML = `apiVersion: fargo.dev/v1alpha1
kind: FargateProfile
metadata:
  name: fp-default
spec:
  podExecutionRoleArn: arn:aws:iam::123456789012:role/fargate
  selectors:
    - namespace: default
    - namespace: kube-system
      labels: {app: x}
`

func TestFargateProfileCRD(t *testing.T) {
	args := harness.ServerArgs(t, t.TempDir())
	s := harness.StartServerWith(t, args)
	applyStdin(t, s, profileYAML)

	table := s.Kubectl("get", "fargateprofiles")
	for _, col := range []string{"NAME", "SELECTOR_NAMESPACE", "SELECTOR_LABELS", "POD_EXECUTION_ROLE_ARN", "SUBNETS", "STATUS", "AGE"} {
		if !strings.Contains(table, col) {
			t.Errorf("column %s missing from kubectl get fargateprofiles:\n%s", col, table)
		}
	}
	// A printer column shows the first selector; `fargo get fargateprofile` lists all.
	if !strings.Contains(table, "fp-default") || !strings.Contains(table, "arn:aws:iam::123456789012:role/fargate") {
		t.Errorf("profile row missing:\n%s", table)
	}
	if out := s.Kubectl("get", "fp", "-o", "name"); strings.TrimSpace(out) != "fargateprofile.fargo.dev/fp-default" {
		t.Errorf("short name fp: %q", out)
	}
	if scope := s.Kubectl("get", "crd", "fargateprofiles.fargo.dev", "-o", "jsonpath={.spec.scope}"); scope != "Cluster" {
		t.Errorf("scope = %q, want Cluster", scope)
	}

	// An older or edited CRD is brought back to fargo's on the next start (upgrade).
	s.Kubectl("patch", "crd", "fargateprofiles.fargo.dev", "--type=json",
		"-p", `[{"op":"remove","path":"/spec/versions/0/additionalPrinterColumns"}]`)
	if cols := s.Kubectl("get", "crd", "fargateprofiles.fargo.dev", "-o", "jsonpath={.spec.versions[0].additionalPrinterColumns[*].name}"); cols != "" {
		t.Fatalf("patch did not remove the columns: %q", cols)
	}
	s.Stop()
	s2 := harness.StartServerWith(t, args)
	cols := s2.Kubectl("get", "crd", "fargateprofiles.fargo.dev", "-o", "jsonpath={.spec.versions[0].additionalPrinterColumns[*].name}")
	if !strings.Contains(cols, "Selector_Namespace") || !strings.Contains(cols, "Status") {
		t.Errorf("CRD not restored on restart; columns = %q", cols)
	}
	if out := s2.Kubectl("get", "fp", "fp-default", "-o", "jsonpath={.spec.selectors[1].labels.app}"); out != "x" {
		t.Errorf("profile lost across restart: %q", out)
	}
}

func applyStdin(t *testing.T, s *harness.Server, manifest string) {
	t.Helper()
	if out, err := s.KubectlStdin(manifest, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
}
