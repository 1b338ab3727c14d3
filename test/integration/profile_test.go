//go:build integration

package integration

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fargo-dev/fargo/test/harness"
)

func profileJSON(name, spec string) string {
	return fmt.Sprintf(`{"apiVersion":"fargo.dev/v1alpha1","kind":"FargateProfile","metadata":{"name":%q},"spec":%s}`, name, spec)
}

// Every rule of a profile, through kubectl: the webhook answers with EKS's exception
// type and message.
func TestProfileRulesThroughKubectl(t *testing.T) {
	s := harness.StartServer(t, "--config", writeLimitsConfig(t))
	cases := []struct {
		name, spec, want string
	}{
		{"eks-x", `{"selectors":[{"namespace":"a"}]}`, `InvalidParameterException: Fargate profile name "eks-x" is invalid: the prefix "eks-" is reserved for AWS`},
		{"dotted.name", `{"selectors":[{"namespace":"a"}]}`, `Fargate profile name "dotted.name" is invalid: use 1 to 63 lowercase letters, digits and hyphens`},
		{"no-sel", `{}`, `InvalidParameterException: Fargate profile must have at least one selector`},
		{"too-many-sel", `{"selectors":[{"namespace":"a"},{"namespace":"b"},{"namespace":"c"},{"namespace":"d"}]}`, `ResourceLimitExceededException: Fargate profile can have at most 3 selectors, got 4`},
		{"too-many-labels", `{"selectors":[{"namespace":"a","labels":{"a":"1","b":"2","c":"3"}}]}`, `ResourceLimitExceededException: selectors[0] can have at most 2 labels, got 3`},
		{"no-ns", `{"selectors":[{"namespace":"","labels":{"a":"b"}}]}`, `selectors[0].namespace is required`},
		{"regex-ns", `{"selectors":[{"namespace":"prod.+"}]}`, `selectors[0].namespace "prod.+" is invalid: use lowercase letters, digits, '-' and the wildcards * and ?`},
		{"bad-label", `{"selectors":[{"namespace":"a","labels":{"app[0]":"x"}}]}`, `selectors[0].labels key "app[0]" is invalid`},
		{"bad-value", `{"selectors":[{"namespace":"a","labels":{"app":"x y"}}]}`, `selectors[0].labels value "x y" for "app" is invalid`},
		{"public", `{"selectors":[{"namespace":"a"}],"subnets":["subnet-public-a"]}`, `InvalidParameterException: Subnet subnet-public-a provided in Fargate Profile is not a private subnet`},
		{"unknown-subnet", `{"selectors":[{"namespace":"a"}],"subnets":["subnet-nope"]}`, `Subnet subnet-nope provided in Fargate Profile does not exist in the VPC of cluster limits`},
		{"bad-role", `{"selectors":[{"namespace":"a"}],"podExecutionRoleArn":"role"}`, `podExecutionRoleArn "role" is not an IAM role ARN`},
		{"role-path", `{"selectors":[{"namespace":"a"}],"podExecutionRoleArn":"arn:aws:iam::123456789012:role/path/r"}`, `must not contain an IAM path other than /`},
		{"aws-tag", `{"selectors":[{"namespace":"a"}],"tags":{"aws:x":"y"}}`, `tag key "aws:x" is invalid: the prefix "aws:" is reserved`},
		{"long-tag", `{"selectors":[{"namespace":"a"}],"tags":{"k":"` + strings.Repeat("v", 257) + `"}}`, `value of tag "k" must be at most 256 characters long`},
		{"long-key", `{"selectors":[{"namespace":"a"}],"tags":{"` + strings.Repeat("k", 129) + `":"v"}}`, `must be 1 to 128 characters long`},
		{"many-tags", `{"selectors":[{"namespace":"a"}],"tags":{` + manyTags(51) + `}}`, `tags can have at most 50 entries, got 51`},
	}
	for _, c := range cases {
		out, err := s.KubectlStdin(profileJSON(c.name, c.spec), "create", "-f", "-")
		if err == nil || !strings.Contains(out, c.want) {
			t.Errorf("%s: want error %q, got (err %v) %s", c.name, c.want, err, out)
		}
	}

	// Wildcards are fine, and no subnets means all private subnets of the cluster.
	createJSON(t, s, profileJSON("wild", `{"selectors":[{"namespace":"prod-*","labels":{"tier-?":"front*"}}]}`))
	waitProfile(t, s, "wild", "ACTIVE")
	if got := s.Kubectl("get", "fp", "wild", "-o", "jsonpath={.spec.subnets}"); got != `["subnet-private-a","subnet-private-b"]` {
		t.Errorf("defaulted subnets = %s", got)
	}
	if arn := s.Kubectl("get", "fp", "wild", "-o", "jsonpath={.status.fargateProfileArn}"); !strings.HasPrefix(arn, "arn:aws:eks:us-west-2:000000000000:fargateprofile/limits/wild/") {
		t.Errorf("ARN = %s", arn)
	}

	// Immutable: only tags may change.
	out, err := s.TryKubectl("patch", "fp", "wild", "--type=merge", "-p", `{"spec":{"selectors":[{"namespace":"other"}]}}`)
	if err == nil || !strings.Contains(out, "InvalidParameterException: Fargate profile wild cannot be updated: profiles are immutable (only tags may change); create a new profile with the changes, then delete wild") {
		t.Errorf("update of selectors: (err %v) %s", err, out)
	}
	s.Kubectl("patch", "fp", "wild", "--type=merge", "-p", `{"spec":{"tags":{"team":"a"}}}`)

	// Duplicate names and the profile limit (3 in this config).
	if out, err := s.KubectlStdin(profileJSON("wild", `{"selectors":[{"namespace":"a"}]}`), "create", "-f", "-"); err == nil || !strings.Contains(out, "AlreadyExists") && !strings.Contains(out, "already exists") {
		t.Errorf("duplicate: (err %v) %s", err, out)
	}
	for _, n := range []string{"second", "third"} {
		createJSON(t, s, profileJSON(n, `{"selectors":[{"namespace":"a"}]}`))
		waitProfile(t, s, n, "ACTIVE")
	}
	out, err = s.KubectlStdin(profileJSON("fourth", `{"selectors":[{"namespace":"a"}]}`), "create", "-f", "-")
	if err == nil || !strings.Contains(out, "ResourceLimitExceededException: Fargate Profile limit exceeded: cluster limits already has 3 Fargate profiles (the limit is 3)") {
		t.Errorf("limit: (err %v) %s", err, out)
	}
}

// Deleting a profile goes through DELETING, deletes the pods scheduled through it,
// and meanwhile refuses other creates and deletes with EKS's 409 wording.
func TestProfileDeletionDrainsPodsAndBlocksOthers(t *testing.T) {
	s := harness.StartServer(t)
	for _, n := range []string{"doomed", "other"} {
		createJSON(t, s, profileJSON(n, `{"selectors":[{"namespace":"apps"}]}`))
		waitProfile(t, s, n, "ACTIVE")
	}
	s.Kubectl("create", "namespace", "apps")
	waitFor(t, "the default service account of apps", func() bool { _, err := s.TryKubectl("get", "sa", "default", "-n", "apps"); return err == nil })
	// A finalizer stands in for a kubelet still stopping the pod, so DELETING lasts.
	for _, p := range [][2]string{{"bound", "doomed"}, {"unrelated", "other"}} {
		createJSON(t, s, fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":%q,"namespace":"apps","finalizers":["test.fargo.dev/hold"],"labels":{"eks.amazonaws.com/fargate-profile":%q}},"spec":{"containers":[{"name":"c","image":"x"}]}}`, p[0], p[1]))
	}
	t.Cleanup(func() {
		s.TryKubectl("patch", "pod", "-n", "apps", "unrelated", "--type=json", "-p", `[{"op":"remove","path":"/metadata/finalizers"}]`)
	})

	s.Kubectl("delete", "fp", "doomed", "--wait=false")
	waitProfile(t, s, "doomed", "DELETING")
	if ts := s.Kubectl("get", "pod", "-n", "apps", "bound", "-o", "jsonpath={.metadata.deletionTimestamp}"); ts == "" {
		t.Error("the profile's pod was not deleted")
	}
	if ts := s.Kubectl("get", "pod", "-n", "apps", "unrelated", "-o", "jsonpath={.metadata.deletionTimestamp}"); ts != "" {
		t.Error("a pod of another profile was deleted")
	}
	out, err := s.KubectlStdin(profileJSON("newer", `{"selectors":[{"namespace":"a"}]}`), "create", "-f", "-")
	if err == nil || !strings.Contains(out, "ResourceInUseException: Cannot create Fargate Profile newer because cluster fargo currently has Fargate profile doomed in status DELETING") {
		t.Errorf("create during DELETING: (err %v) %s", err, out)
	}
	out, err = s.TryKubectl("delete", "fp", "other")
	if err == nil || !strings.Contains(out, "ResourceInUseException: Cannot Delete Fargate Profile other because cluster fargo currently has Fargate profile doomed in status DELETING") {
		t.Errorf("delete during DELETING: (err %v) %s", err, out)
	}
	// Once the pod is gone (as a kubelet would confirm), the profile goes.
	s.Kubectl("patch", "pod", "-n", "apps", "bound", "--type=json", "-p", `[{"op":"remove","path":"/metadata/finalizers"}]`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if out, err := s.TryKubectl("get", "fp", "doomed"); err != nil && strings.Contains(out, "NotFound") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("profile still present after its pods were gone:\n%s", s.Kubectl("get", "fp", "doomed", "-o", "yaml"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	createJSON(t, s, profileJSON("newer", `{"selectors":[{"namespace":"a"}]}`))
	waitProfile(t, s, "newer", "ACTIVE")
}

func waitProfile(t *testing.T, s *harness.Server, name, state string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, _ := s.TryKubectl("get", "fp", name, "-o", "jsonpath={.status.status}")
		if got == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("profile %s is %q, want %s", name, got, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func writeLimitsConfig(t *testing.T) string {
	t.Helper()
	path := t.TempDir() + "/limits.yaml"
	cfg := `apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata: {name: limits, region: us-west-2}
vpc:
  cidr: 10.0.0.0/16
  subnets:
    private:
      us-west-2a: {id: subnet-private-a, cidr: 10.0.0.0/20}
      us-west-2b: {id: subnet-private-b, cidr: 10.0.16.0/20}
    public:
      us-west-2a: {id: subnet-public-a, cidr: 10.0.128.0/20}
fargo:
  limits: {fargateProfilesPerCluster: 3, selectorsPerProfile: 3, labelsPerSelector: 2}
`
	writeFile(t, path, cfg)
	return path
}

func createJSON(t *testing.T, s *harness.Server, obj string) {
	t.Helper()
	if out, err := s.KubectlStdin(obj, "create", "-f", "-"); err != nil {
		t.Fatalf("kubectl create %s: %v\n%s", obj, err, out)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func manyTags(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`"t%d":"v"`, i)
	}
	return strings.Join(parts, ",")
}
