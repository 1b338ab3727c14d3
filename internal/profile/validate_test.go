package profile

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

var testCluster = Cluster{Name: "c1", Region: "us-east-1", AccountID: "123456789012",
	Subnets: map[string]bool{"subnet-b": true, "subnet-a": true, "subnet-pub": false}, Limits: DefaultLimits}

func TestDefault(t *testing.T) {
	spec := v1alpha1.FargateProfileSpec{Selectors: []v1alpha1.FargateProfileSelector{{Namespace: "x"}}}
	Default(&spec, testCluster)
	if len(spec.Subnets) != 2 || spec.Subnets[0] != "subnet-a" || spec.Subnets[1] != "subnet-b" {
		t.Errorf("subnets = %v, want all private ones sorted", spec.Subnets)
	}
	if spec.PodExecutionRoleArn != "arn:aws:iam::123456789012:role/eksctl-c1-FargatePodExecutionRole" {
		t.Errorf("role = %s", spec.PodExecutionRoleArn)
	}
	if err := Validate("fp-1", &spec, testCluster); err != nil {
		t.Errorf("defaulted profile invalid: %v", err)
	}
}

func TestCheckCreateWhileCreating(t *testing.T) {
	existing := []v1alpha1.FargateProfile{{ObjectMeta: metav1.ObjectMeta{Name: "first"}}} // no status yet: CREATING
	err := CheckCreate("second", existing, testCluster)
	want := "ResourceInUseException: Cannot create Fargate Profile second because cluster c1 currently has Fargate profile first in status CREATING"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	existing[0].Status.Status = v1alpha1.ProfileActive
	if err := CheckCreate("second", existing, testCluster); err != nil {
		t.Errorf("create next to an ACTIVE profile refused: %v", err)
	}
	if err := CheckDelete("first", existing, testCluster); err != nil {
		t.Errorf("delete refused: %v", err)
	}
}

func TestCheckUpdate(t *testing.T) {
	old := v1alpha1.FargateProfileSpec{Selectors: []v1alpha1.FargateProfileSelector{{Namespace: "a"}}, Subnets: []string{"s"}}
	tagged := old
	tagged.Tags = map[string]string{"k": "v"}
	if err := CheckUpdate(&old, &tagged, "p"); err != nil {
		t.Errorf("tag change refused: %v", err)
	}
	changed := old
	changed.Subnets = []string{"t"}
	if err := CheckUpdate(&old, &changed, "p"); err == nil || err.Code != InvalidParameter {
		t.Errorf("subnet change allowed: %v", err)
	}
}

func TestValidateRefusesOversizedAndOddInput(t *testing.T) {
	role := "arn:aws:iam::123456789012:role/r"
	sel := []v1alpha1.FargateProfileSelector{{Namespace: "x"}}
	cases := map[string]v1alpha1.FargateProfileSpec{
		"900 KB role ARN":          {PodExecutionRoleArn: role + strings.Repeat("a", 900<<10), Selectors: sel},
		"65-character role name":   {PodExecutionRoleArn: role + strings.Repeat("a", 64), Selectors: sel},
		"role name with a space":   {PodExecutionRoleArn: role + " x", Selectors: sel},
		"tag key with NUL":         {PodExecutionRoleArn: role, Selectors: sel, Tags: map[string]string{"a\x00b": "v"}},
		"tag key with a newline":   {PodExecutionRoleArn: role, Selectors: sel, Tags: map[string]string{"a\nb": "v"}},
		"tag value with a newline": {PodExecutionRoleArn: role, Selectors: sel, Tags: map[string]string{"k": "v\n"}},
		"129-character tag key":    {PodExecutionRoleArn: role, Selectors: sel, Tags: map[string]string{strings.Repeat("k", 129): "v"}},
		"unknown isolation tier":   {PodExecutionRoleArn: role, Selectors: sel, Tags: map[string]string{v1alpha1.TagIsolation: "vm"}},
	}
	for name, spec := range cases {
		if err := Validate("fp", &spec, testCluster); err == nil || err.Code != InvalidParameter {
			t.Errorf("%s: %v, want %s", name, err, InvalidParameter)
		}
	}
	ok := v1alpha1.FargateProfileSpec{PodExecutionRoleArn: role, Selectors: sel,
		Tags: map[string]string{"team/owner": "Zoë @ core", strings.Repeat("é", 128): "+-=._:/@", v1alpha1.TagIsolation: v1alpha1.IsolationMicroVM}}
	if err := Validate("fp", &ok, testCluster); err != nil {
		t.Errorf("valid tags refused: %v", err)
	}
}
