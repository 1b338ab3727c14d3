package profile

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// Limits are EKS's default quotas; the cluster config can change them.
type Limits struct {
	ProfilesPerCluster  int `yaml:"fargateProfilesPerCluster"`
	SelectorsPerProfile int `yaml:"selectorsPerProfile"`
	LabelsPerSelector   int `yaml:"labelsPerSelector"`
}

// DefaultLimits are the EKS defaults.
var DefaultLimits = Limits{ProfilesPerCluster: 10, SelectorsPerProfile: 5, LabelsPerSelector: 5}

// Tag limits of the EKS TagMap.
const (
	maxTags        = 50
	maxTagKeyLen   = 128
	maxTagValueLen = 256
	maxARNLen      = 2048
)

// Cluster is what the rules need to know about the cluster.
type Cluster struct {
	Name      string
	Region    string
	AccountID string
	// Subnets maps every subnet id of the VPC to whether it is private.
	Subnets map[string]bool
	Limits  Limits
}

// PrivateSubnets are the private subnet ids, sorted.
func (c Cluster) PrivateSubnets() []string {
	var out []string
	for id, private := range c.Subnets {
		if private {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// DefaultRole is the pod execution role a profile gets when none is given, the
// name eksctl's generated role has.
func (c Cluster) DefaultRole() string {
	return fmt.Sprintf("arn:aws:iam::%s:role/eksctl-%s-FargatePodExecutionRole", c.AccountID, c.Name)
}

// Default fills what EKS fills: all private subnets when none are given, and the
// default pod execution role (eksctl creates one when none is given).
func Default(spec *v1alpha1.FargateProfileSpec, c Cluster) {
	if len(spec.Subnets) == 0 {
		spec.Subnets = c.PrivateSubnets()
	}
	if spec.PodExecutionRoleArn == "" {
		spec.PodExecutionRoleArn = c.DefaultRole()
	}
}

var (
	// Profile names are Kubernetes object names too, so EKS's [A-Za-z0-9_-]{1,100}
	// narrows to DNS labels.
	nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	// IAM role names are 1 to 64 of [\w+=,.@-]; ARNs at most 2048 characters.
	roleRE     = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/(.+)$`)
	roleNameRE = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	// Tag keys and values: letters, digits and spaces in UTF-8, and + - = . _ : / @.
	tagRE = regexp.MustCompile(`^[\p{L}\p{N} +\-=._:/@]*$`)
	// Namespaces are DNS labels; * and ? may stand anywhere.
	namespaceRE = regexp.MustCompile(`^[a-z0-9*?]([-a-z0-9*?]{0,61}[a-z0-9*?])?$`)
)

// ValidName reports whether name can be a profile's.
func ValidName(name string) bool { return nameRE.MatchString(name) && !strings.HasPrefix(name, "eks-") }

// Validate checks a profile about to be created: name, role, selectors, subnets and
// tags. spec must already be defaulted.
func Validate(name string, spec *v1alpha1.FargateProfileSpec, c Cluster) *Error {
	if name == "" {
		return invalid("fargateProfileName is required")
	}
	if strings.HasPrefix(name, "eks-") {
		return invalid("Fargate profile name %q is invalid: the prefix \"eks-\" is reserved for AWS", name)
	}
	if !nameRE.MatchString(name) {
		return invalid("Fargate profile name %q is invalid: use 1 to 63 lowercase letters, digits and hyphens, starting and ending with a letter or digit", name)
	}
	if err := validateRole(spec.PodExecutionRoleArn); err != nil {
		return err
	}
	if err := validateSelectors(spec.Selectors, c.Limits); err != nil {
		return err
	}
	for _, id := range spec.Subnets {
		private, ok := c.Subnets[id]
		if !ok {
			return invalid("Subnet %s provided in Fargate Profile does not exist in the VPC of cluster %s", id, c.Name)
		}
		if !private {
			return invalid("Subnet %s provided in Fargate Profile is not a private subnet", id)
		}
	}
	return ValidateTags(spec.Tags)
}

func validateRole(arn string) *Error {
	if arn == "" {
		return invalid("podExecutionRoleArn is required")
	}
	if len(arn) > maxARNLen {
		return invalid("podExecutionRoleArn is %d characters long; an IAM role ARN has at most %d", len(arn), maxARNLen)
	}
	m := roleRE.FindStringSubmatch(arn)
	if m == nil {
		return invalid("podExecutionRoleArn %q is not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)", arn)
	}
	if strings.Contains(m[1], "/") {
		return invalid("podExecutionRoleArn %q must not contain an IAM path other than /", arn)
	}
	if !roleNameRE.MatchString(m[1]) {
		return invalid("podExecutionRoleArn %q is invalid: a role name is 1 to 64 letters, digits and +=,.@_-", arn)
	}
	return nil
}

func validateSelectors(sels []v1alpha1.FargateProfileSelector, l Limits) *Error {
	if len(sels) == 0 {
		return invalid("Fargate profile must have at least one selector")
	}
	if len(sels) > l.SelectorsPerProfile {
		return &Error{Code: ResourceLimitExceeded, Message: fmt.Sprintf("Fargate profile can have at most %d selectors, got %d", l.SelectorsPerProfile, len(sels))}
	}
	for i, s := range sels {
		if s.Namespace == "" {
			return invalid("selectors[%d].namespace is required: every selector must name a namespace", i)
		}
		if !namespaceRE.MatchString(s.Namespace) {
			return invalid("selectors[%d].namespace %q is invalid: use lowercase letters, digits, '-' and the wildcards * and ?", i, s.Namespace)
		}
		if len(s.Labels) > l.LabelsPerSelector {
			return &Error{Code: ResourceLimitExceeded, Message: fmt.Sprintf("selectors[%d] can have at most %d labels, got %d", i, l.LabelsPerSelector, len(s.Labels))}
		}
		for _, k := range sortedKeys(s.Labels) {
			v := s.Labels[k]
			if errs := validation.IsQualifiedName(withoutWildcards(k)); len(errs) > 0 {
				return invalid("selectors[%d].labels key %q is invalid: %s (only * and ? are allowed as wildcards)", i, k, errs[0])
			}
			if errs := validation.IsValidLabelValue(withoutWildcards(v)); len(errs) > 0 {
				return invalid("selectors[%d].labels value %q for %q is invalid: %s (only * and ? are allowed as wildcards)", i, v, k, errs[0])
			}
		}
	}
	return nil
}

// withoutWildcards stands an ordinary character in for * and ?, so Kubernetes'
// label syntax rules can judge the rest.
func withoutWildcards(s string) string {
	return strings.NewReplacer("*", "x", "?", "x").Replace(s)
}

// ValidateTags applies the EKS TagMap rules.
func ValidateTags(tags map[string]string) *Error {
	if len(tags) > maxTags {
		return invalid("tags can have at most %d entries, got %d", maxTags, len(tags))
	}
	for _, k := range sortedKeys(tags) {
		switch {
		case utf8.RuneCountInString(k) < 1 || utf8.RuneCountInString(k) > maxTagKeyLen:
			return invalid("tag key %q must be 1 to %d characters long", k, maxTagKeyLen)
		case !tagRE.MatchString(k):
			return invalid("tag key %q is invalid: use letters, digits, spaces and + - = . _ : / @", k)
		case !tagRE.MatchString(tags[k]):
			return invalid("value of tag %q is invalid: use letters, digits, spaces and + - = . _ : / @", k)
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			return invalid("tag key %q is invalid: the prefix \"aws:\" is reserved for AWS", k)
		case utf8.RuneCountInString(tags[k]) > maxTagValueLen:
			return invalid("value of tag %q must be at most %d characters long", k, maxTagValueLen)
		case k == v1alpha1.TagIsolation && tags[k] != v1alpha1.IsolationContainer && tags[k] != v1alpha1.IsolationMicroVM:
			return invalid("tag %s=%q is invalid: the isolation tier is %s (the host's kernel) or %s (a VM per pod)",
				k, tags[k], v1alpha1.IsolationContainer, v1alpha1.IsolationMicroVM)
		}
	}
	return nil
}

// Isolation is the tier p's pods run in, from its fargo.dev/isolation tag; ""
// leaves it to the host.
func Isolation(p *v1alpha1.FargateProfile) string { return p.Spec.Tags[v1alpha1.TagIsolation] }

// CheckCreate applies the cluster-wide rules to creating name next to existing:
// unique names, the profile limit, and one transition at a time.
func CheckCreate(name string, existing []v1alpha1.FargateProfile, c Cluster) *Error {
	for _, p := range existing {
		if p.Name == name {
			return &Error{Code: ResourceInUse, Message: fmt.Sprintf("Fargate Profile already exists with name %s in cluster %s", name, c.Name)}
		}
	}
	if busy := inTransition(existing, ""); busy != nil {
		return &Error{Code: ResourceInUse, Message: fmt.Sprintf("Cannot create Fargate Profile %s because cluster %s currently has Fargate profile %s in status %s", name, c.Name, busy.Name, State(busy))}
	}
	if len(existing) >= c.Limits.ProfilesPerCluster {
		return &Error{Code: ResourceLimitExceeded, Message: fmt.Sprintf("Fargate Profile limit exceeded: cluster %s already has %d Fargate profiles (the limit is %d)", c.Name, len(existing), c.Limits.ProfilesPerCluster)}
	}
	return nil
}

// CheckDelete refuses deleting name while another profile is being created or deleted.
func CheckDelete(name string, existing []v1alpha1.FargateProfile, c Cluster) *Error {
	if busy := inTransition(existing, name); busy != nil {
		return &Error{Code: ResourceInUse, Message: fmt.Sprintf("Cannot Delete Fargate Profile %s because cluster %s currently has Fargate profile %s in status %s", name, c.Name, busy.Name, State(busy))}
	}
	return nil
}

// CheckUpdate allows only tag changes: profiles are immutable.
func CheckUpdate(old, updated *v1alpha1.FargateProfileSpec, name string) *Error {
	o, n := *old, *updated
	o.Tags, n.Tags = nil, nil
	if !specEqual(&o, &n) {
		return invalid("Fargate profile %s cannot be updated: profiles are immutable (only tags may change); create a new profile with the changes, then delete %s", name, name)
	}
	return ValidateTags(updated.Tags)
}

// State is the profile's status, CREATING until fargo has seen it.
func State(p *v1alpha1.FargateProfile) v1alpha1.FargateProfileState {
	switch {
	case p.DeletionTimestamp != nil && p.Status.Status != v1alpha1.ProfileDeleteFailed:
		return v1alpha1.ProfileDeleting
	case p.Status.Status == "":
		return v1alpha1.ProfileCreating
	}
	return p.Status.Status
}

func inTransition(profiles []v1alpha1.FargateProfile, except string) *v1alpha1.FargateProfile {
	for i := range profiles {
		p := &profiles[i]
		if p.Name == except {
			continue
		}
		if s := State(p); s == v1alpha1.ProfileCreating || s == v1alpha1.ProfileDeleting {
			return p
		}
	}
	return nil
}

// specEqual compares role, subnets and selectors, nil and empty alike.
func specEqual(a, b *v1alpha1.FargateProfileSpec) bool {
	return equality.Semantic.DeepEqual(a, b)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
