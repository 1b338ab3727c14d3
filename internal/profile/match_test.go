package profile

import (
	"path"
	"strings"
	"testing"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

func prof(name string, sels ...v1alpha1.FargateProfileSelector) *v1alpha1.FargateProfile {
	return &v1alpha1.FargateProfile{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.FargateProfileSpec{Selectors: sels}}
}

func sel(ns string, kv ...string) v1alpha1.FargateProfileSelector {
	s := v1alpha1.FargateProfileSelector{Namespace: ns}
	if len(kv) > 0 {
		s.Labels = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			s.Labels[kv[i]] = kv[i+1]
		}
	}
	return s
}

func TestWildcard(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"prod", "prod", true},
		{"prod", "prod1", false},
		{"prod*", "prod", true},
		{"prod*", "production", true},
		{"*dev", "team-dev", true},
		{"*dev", "dev-team", false},
		{"frontend*?", "frontend", false},
		{"frontend*?", "frontend1", true},
		{"frontend*?", "frontend-abc", true},
		{"?", "", false},
		{"?", "a", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"*", "", true},
		{"*", "anything", true},
		{"**a**", "xxa", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbY", false},
		{"team-[ab]", "team-a", false}, // no character classes: only * and ?
		{"team-.*", "team-x", false},   // no regular expressions
		{"team-.*", "team-.x", true},
		{"", "", true},
		{"", "a", false},
	}
	for _, c := range cases {
		if got := Wildcard(c.pattern, c.s); got != c.want {
			t.Errorf("Wildcard(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}

func TestSelect(t *testing.T) {
	beta := prof("beta-workload", sel("prod*"))
	prod := prof("prod-workload", sel("prod"))
	labelled := prof("labelled", sel("test3-mixed", "runon", "fargate"))
	wild := prof("wild", sel("apps", "tier-*", "front?"))
	all := []*v1alpha1.FargateProfile{prod, beta, labelled, wild}
	cases := []struct {
		name string
		pod  Pod
		want string
	}{
		{"namespace only", Pod{Namespace: "prod"}, "beta-workload"}, // both match: the name sorting first wins
		{"wildcard namespace", Pod{Namespace: "prod-eu"}, "beta-workload"},
		{"no match", Pod{Namespace: "default"}, ""},
		{"all labels needed", Pod{Namespace: "test3-mixed"}, ""},
		{"labels match", Pod{Namespace: "test3-mixed", Labels: map[string]string{"runon": "fargate", "app": "x"}}, "labelled"},
		{"label value differs", Pod{Namespace: "test3-mixed", Labels: map[string]string{"runon": "ec2"}}, ""},
		{"wildcard key and value", Pod{Namespace: "apps", Labels: map[string]string{"tier-web": "front1"}}, "wild"},
		{"wildcard value too short", Pod{Namespace: "apps", Labels: map[string]string{"tier-web": "front"}}, ""},
		{"pinned profile wins over precedence", Pod{Namespace: "prod", Labels: map[string]string{v1alpha1.LabelProfile: "prod-workload"}}, "prod-workload"},
		{"pinned profile must still match", Pod{Namespace: "default", Labels: map[string]string{v1alpha1.LabelProfile: "prod-workload"}}, ""},
		{"pinned to unknown profile", Pod{Namespace: "prod", Labels: map[string]string{v1alpha1.LabelProfile: "nope"}}, ""},
		{"opt out", Pod{Namespace: "prod", Annotations: map[string]string{v1alpha1.AnnotationComputeType: "ec2"}}, ""},
		{"compute-type fargate does not opt out", Pod{Namespace: "prod", Annotations: map[string]string{v1alpha1.AnnotationComputeType: "fargate"}}, "beta-workload"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ""
			if p := Select(all, c.pod); p != nil {
				got = p.Name
			}
			if got != c.want {
				t.Errorf("Select = %q, want %q", got, c.want)
			}
		})
	}
}

// FuzzWildcard checks the matcher against path.Match, which has the same * and ?
// semantics once '/', '[' and '\\' (special only to path.Match) are left out.
func FuzzWildcard(f *testing.F) {
	for _, s := range [][2]string{{"prod*", "production"}, {"*dev", "x-dev"}, {"a?c", "abc"}, {"**", ""}, {"?*?", "ab"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		got := Wildcard(pattern, s)
		// Names and labels are ASCII (validation), so invalid UTF-8 never reaches here.
		if strings.ContainsAny(pattern+s, "/[]\\") || !utf8.ValidString(pattern) || !utf8.ValidString(s) {
			return
		}
		want, err := path.Match(pattern, s)
		if err != nil {
			return
		}
		if got != want {
			t.Errorf("Wildcard(%q, %q) = %v, path.Match says %v", pattern, s, got, want)
		}
	})
}

// FuzzSelect checks the precedence rules on random pods against three profiles: the
// result always matches the pod, and no matching profile sorts before it unless the
// pod pins one.
func FuzzSelect(f *testing.F) {
	f.Add("prod", "app", "web", "")
	f.Add("prod-eu", "tier", "front1", "b")
	f.Fuzz(func(t *testing.T, ns, key, value, pin string) {
		profiles := []*v1alpha1.FargateProfile{
			prof("c", sel("prod*")),
			prof("a", sel("*", "tier", "front?")),
			prof("b", sel("prod-eu"), sel("x", key, "*")),
		}
		if key == v1alpha1.LabelProfile {
			return // pinning is driven by pin
		}
		pod := Pod{Namespace: ns, Labels: map[string]string{key: value}}
		if pin != "" {
			pod.Labels[v1alpha1.LabelProfile] = pin
		}
		got := Select(profiles, pod)
		if got == nil {
			for _, p := range profiles {
				if pin == "" && Matches(p, pod) {
					t.Fatalf("no profile selected, but %s matches %+v", p.Name, pod)
				}
			}
			return
		}
		if !Matches(got, pod) {
			t.Fatalf("selected %s does not match %+v", got.Name, pod)
		}
		if pin != "" {
			if got.Name != pin {
				t.Fatalf("pinned %q, selected %s", pin, got.Name)
			}
			return
		}
		for _, p := range profiles {
			if p.Name < got.Name && Matches(p, pod) {
				t.Fatalf("selected %s, but %s matches and sorts first", got.Name, p.Name)
			}
		}
	})
}
