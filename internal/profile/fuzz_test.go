package profile

import (
	"testing"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// FuzzValidate: no spec makes Validate panic, and what it accepts can be selected.
func FuzzValidate(f *testing.F) {
	f.Add("fp", "arn:aws:iam::123456789012:role/r", "apps", "app", "web*", "team", "core")
	f.Add("eks-x", "arn:aws:iam::1:role/a/b", "*", "", "", "", "")
	f.Fuzz(func(t *testing.T, name, role, ns, lk, lv, tk, tv string) {
		spec := v1alpha1.FargateProfileSpec{PodExecutionRoleArn: role, Subnets: []string{"subnet-a"},
			Selectors: []v1alpha1.FargateProfileSelector{{Namespace: ns, Labels: map[string]string{lk: lv}}}, Tags: map[string]string{tk: tv}}
		if err := Validate(name, &spec, testCluster); err != nil {
			if err.Code == "" || err.Message == "" {
				t.Fatalf("an error without code or message: %+v", err)
			}
			return
		}
		if !ValidName(name) {
			t.Fatalf("Validate accepted %q but ValidName refuses it", name)
		}
		p := &v1alpha1.FargateProfile{Spec: spec}
		p.Name = name
		_ = Select([]*v1alpha1.FargateProfile{p}, Pod{Namespace: ns, Labels: map[string]string{lk: lv}})
	})
}
