// Package profile holds the rules of Fargate profiles, as EKS applies them: which
// profile a pod matches (wildcards, precedence, pinning, opt-out) and what a valid
// profile is. It is pure: the webhook, the EKS API, the CLI and the scheduler all
// call it, and nothing else re-implements it.
package profile

import (
	"sort"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// Pod is what matching looks at.
type Pod struct {
	Namespace   string
	Labels      map[string]string
	Annotations map[string]string
}

// SelectorMatches reports whether the pod is in the selector's namespace and has all
// of its labels; namespace, label keys and values may use * and ?.
func SelectorMatches(s v1alpha1.FargateProfileSelector, pod Pod) bool {
	if !Wildcard(s.Namespace, pod.Namespace) {
		return false
	}
	for k, v := range s.Labels {
		if !hasLabel(pod.Labels, k, v) {
			return false
		}
	}
	return true
}

func hasLabel(labels map[string]string, key, value string) bool {
	if v, ok := labels[key]; ok && Wildcard(value, v) {
		return true
	}
	for k, v := range labels {
		if Wildcard(key, k) && Wildcard(value, v) {
			return true
		}
	}
	return false
}

// Matches reports whether any selector of p matches the pod.
func Matches(p *v1alpha1.FargateProfile, pod Pod) bool {
	for _, s := range p.Spec.Selectors {
		if SelectorMatches(s, pod) {
			return true
		}
	}
	return false
}

// Select picks the profile a pod runs through, or nil: pods annotated
// compute-type: ec2 opt out; a pod labelled with a profile name must match that
// profile; otherwise the matching profile whose name sorts first wins.
// Callers pass the profiles that may take pods (ACTIVE ones).
func Select(profiles []*v1alpha1.FargateProfile, pod Pod) *v1alpha1.FargateProfile {
	if pod.Annotations[v1alpha1.AnnotationComputeType] == v1alpha1.ComputeEC2 {
		return nil
	}
	if pinned, ok := pod.Labels[v1alpha1.LabelProfile]; ok {
		for _, p := range profiles {
			if p.Name == pinned && Matches(p, pod) {
				return p
			}
		}
		return nil
	}
	sorted := make([]*v1alpha1.FargateProfile, len(profiles))
	copy(sorted, profiles)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, p := range sorted {
		if Matches(p, pod) {
			return p
		}
	}
	return nil
}

// Wildcard matches s against pattern, where * is any run of characters (also none)
// and ? exactly one; nothing else is special.
func Wildcard(pattern, s string) bool {
	p, t := []rune(pattern), []rune(s)
	// Greedy matching with one backtrack point: linear in practice, no recursion.
	pi, ti, star, mark := 0, 0, -1, 0
	for ti < len(t) {
		switch {
		case pi < len(p) && p[pi] == '*': // before the literal case: a '*' in s is no match for it
			star, mark = pi, ti
			pi++
		case pi < len(p) && (p[pi] == '?' || p[pi] == t[ti]):
			pi++
			ti++
		case star >= 0:
			pi = star + 1
			mark++
			ti = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
