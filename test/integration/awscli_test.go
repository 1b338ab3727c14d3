//go:build integration

package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fargo-dev/fargo/test/harness"
)

// awsCLI runs the AWS CLI (Debian's awscli, botocore signing) against the server's
// EKS API, the way the README shows.
func awsCLI(t *testing.T, bin string, s *harness.Server, args ...string) (string, error) {
	t.Helper()
	args = append(args, "--region", "us-west-2", "--output", "json",
		"--endpoint-url", "https://127.0.0.1:"+strconv.Itoa(s.EKSAPIPort))
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(s.DataDir, "aws-credentials"),
		"AWS_PROFILE=fargo", "AWS_CA_BUNDLE="+filepath.Join(s.DataDir, "pki", "ca.crt"),
		"AWS_CONFIG_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=", "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// awsCLIs are the AWS CLIs on this machine: Debian's v2 (installed by make deps)
// and whichever `aws` is first on PATH, when it is another one (such as pip's v1).
func awsCLIs(t *testing.T) []string {
	var out []string
	for _, c := range []string{"/usr/bin/aws", "aws"} {
		if p, err := exec.LookPath(c); err == nil && (len(out) == 0 || out[0] != p) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		t.Fatal("the AWS CLI is not installed; `make deps` installs Debian's awscli")
	}
	return out
}

func TestEKSAPIWithAWSCLI(t *testing.T) {
	s := harness.StartServer(t, "--config", writeLimitsConfig(t))
	for _, bin := range awsCLIs(t) {
		t.Run(bin, func(t *testing.T) { testAWSCLI(t, bin, s) })
	}
}

func testAWSCLI(t *testing.T, bin string, s *harness.Server) {
	must := func(args ...string) string {
		t.Helper()
		out, err := awsCLI(t, bin, s, args...)
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	out := must("eks", "create-fargate-profile", "--cluster-name", "limits", "--fargate-profile-name", "cli",
		"--pod-execution-role-arn", "arn:aws:iam::123456789012:role/AmazonEKSFargatePodExecutionRole",
		"--selectors", "namespace=cli,labels={app=web}", "--tags", "team=core")
	var created struct {
		FargateProfile struct{ FargateProfileArn string }
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.FargateProfile.FargateProfileArn == "" {
		t.Fatalf("create output %q: %v", out, err)
	}
	arn := created.FargateProfile.FargateProfileArn
	waitProfile(t, s, "cli", "ACTIVE")
	must("eks", "tag-resource", "--resource-arn", arn, "--tags", "env=dev,owner=me")
	must("eks", "untag-resource", "--resource-arn", arn, "--tag-keys", "team", "owner")
	if out := must("eks", "list-tags-for-resource", "--resource-arn", arn); !strings.Contains(out, `"env": "dev"`) || strings.Contains(out, "team") {
		t.Errorf("tags after tag and untag: %s", out)
	}
	if got := s.Kubectl("get", "fp", "cli", "-o", "jsonpath={.spec.tags}"); got != `{"env":"dev"}` {
		t.Errorf("tags in the object = %s", got)
	}
	// The isolation tier is a tag: only known tiers (EKS's error types for a
	// bad tag: BadRequestException from TagResource, InvalidParameterException
	// from a create).
	if out, err := awsCLI(t, bin, s, "eks", "tag-resource", "--resource-arn", arn, "--tags", "fargo.dev/isolation=vm"); err == nil ||
		!strings.Contains(out, "BadRequestException") || !strings.Contains(out, "isolation tier is container") {
		t.Errorf("tag fargo.dev/isolation=vm: err %v\n%s", err, out)
	}
	if out, err := awsCLI(t, bin, s, "eks", "create-fargate-profile", "--cluster-name", "limits", "--fargate-profile-name", "badtier",
		"--pod-execution-role-arn", "arn:aws:iam::123456789012:role/AmazonEKSFargatePodExecutionRole",
		"--selectors", "namespace=badtier", "--tags", "fargo.dev/isolation=kvm"); err == nil ||
		!strings.Contains(out, "InvalidParameterException") || !strings.Contains(out, "isolation tier is container") {
		t.Errorf("create with fargo.dev/isolation=kvm: err %v\n%s", err, out)
	}
	must("eks", "tag-resource", "--resource-arn", arn, "--tags", "fargo.dev/isolation=microvm")
	if got := s.Kubectl("get", "fp", "cli", "-o", `jsonpath={.spec.tags.fargo\.dev/isolation}`); got != "microvm" {
		t.Errorf("isolation tag in the object = %q", got)
	}
	must("eks", "delete-fargate-profile", "--cluster-name", "limits", "--fargate-profile-name", "cli")
	harness.Eventually(t, time.Minute, "profile cli deleted", func() bool {
		_, err := s.TryKubectl("get", "fp", "cli")
		return err != nil
	})
	// A wrong secret is an InvalidSignatureException, not anything else.
	bad := filepath.Join(t.TempDir(), "bad-credentials")
	data := string(readFile(t, filepath.Join(s.DataDir, "aws-credentials")))
	i := strings.Index(data, "aws_secret_access_key")
	writeFile(t, bad, data[:i]+"aws_secret_access_key = wrong\n")
	cmd := exec.Command(bin, "eks", "list-fargate-profiles", "--cluster-name", "limits", "--region", "us-west-2",
		"--endpoint-url", "https://127.0.0.1:"+strconv.Itoa(s.EKSAPIPort))
	cmd.Env = append(os.Environ(), "AWS_SHARED_CREDENTIALS_FILE="+bad, "AWS_PROFILE=fargo", "AWS_CA_BUNDLE="+filepath.Join(s.DataDir, "pki", "ca.crt"),
		"AWS_CONFIG_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true", "HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "InvalidSignatureException") {
		t.Errorf("a wrong secret: err %v\n%s", err, out)
	}
}
