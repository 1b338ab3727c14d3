package clusterconfig

import (
	"net"
	"regexp"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/fargo-dev/fargo/internal/instancetype"
	"github.com/fargo-dev/fargo/internal/meter"
	"github.com/fargo-dev/fargo/internal/profile"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

var (
	clusterNameRE = regexp.MustCompile(`^[a-zA-Z][-a-zA-Z0-9]*$`)
	regionRE      = regexp.MustCompile(`^[a-z][a-z0-9-]*[0-9]$`)
	versionRE     = regexp.MustCompile(`^1\.[0-9]+$`)
	// Service CIDRs must lie in RFC 1918 space with a /12 to /24 prefix, as EKS requires.
	rfc1918 = []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}
)

func (c *Cluster) validateHeader(l *errorList) {
	if c.APIVersion != APIVersion {
		l.add(fieldPath{"apiVersion"}, "must be %q, got %q", APIVersion, c.APIVersion)
	}
	if c.Kind != Kind {
		l.add(fieldPath{"kind"}, "must be %q, got %q", Kind, c.Kind)
	}
}

func (c *Cluster) validate(l *errorList) {
	m := c.Metadata
	if len(m.Name) > 100 || !clusterNameRE.MatchString(m.Name) {
		l.add(fieldPath{"metadata", "name"}, "%q is not a valid cluster name: use up to 100 letters, digits and hyphens, starting with a letter", m.Name)
	}
	if !regionRE.MatchString(m.Region) {
		l.add(fieldPath{"metadata", "region"}, "%q is not a region name such as us-east-1 or %s", m.Region, DefaultRegion)
	}
	if !versionRE.MatchString(m.Version) {
		l.add(fieldPath{"metadata", "version"}, "%q is not a Kubernetes version such as \"%s\"", m.Version, DefaultVersion)
	}
	lim := c.Fargo.Limits
	for _, f := range []struct {
		name string
		v    int
	}{{"fargateProfilesPerCluster", lim.ProfilesPerCluster}, {"selectorsPerProfile", lim.SelectorsPerProfile}, {"labelsPerSelector", lim.LabelsPerSelector}} {
		if f.v < 1 {
			l.add(fieldPath{"fargo", "limits", f.name}, "must be at least 1, got %d", f.v)
		}
	}
	c.validateMetering(l)
	c.validateHost(l)
	c.validateNetwork(l)
	c.validateNodeGroups(l)
	c.validateFargateProfiles(l)
}

func (c *Cluster) validateNetwork(l *errorList) {
	vpcPath := fieldPath{"vpc", "cidr"}
	if _, vpc, err := net.ParseCIDR(c.VPC.CIDR); err != nil || vpc.IP.To4() == nil {
		l.add(vpcPath, "%q is not an IPv4 CIDR such as %s", c.VPC.CIDR, DefaultVPCCIDR)
	} else {
		c.VPCNet = vpc
	}
	if f := c.KubernetesNetworkConfig.IPFamily; f != "" && !strings.EqualFold(f, "IPv4") {
		l.add(fieldPath{"kubernetesNetworkConfig", "ipFamily"}, "%q is not supported: fargo clusters are IPv4", f)
	}
	c.validateSubnets(l)
	svcPath := fieldPath{"kubernetesNetworkConfig", "serviceIPv4CIDR"}
	_, svc, err := net.ParseCIDR(c.KubernetesNetworkConfig.ServiceIPv4CIDR)
	if err != nil || svc.IP.To4() == nil {
		l.add(svcPath, "%q is not an IPv4 CIDR such as %s", c.KubernetesNetworkConfig.ServiceIPv4CIDR, DefaultServiceCIDR)
		return
	}
	if msg := ServiceCIDRProblem(svc); msg != "" {
		l.add(svcPath, "%s", msg)
		return
	}
	if c.VPCNet != nil && overlaps(svc, c.VPCNet) {
		l.add(svcPath, "%s overlaps the VPC CIDR %s; choose a range outside the VPC", svc, c.VPCNet)
		return
	}
	c.ServiceNet = svc
}

// ServiceCIDRProblem says why svc cannot be a service CIDR, or "" if it can.
func ServiceCIDRProblem(svc *net.IPNet) string {
	ones, _ := svc.Mask.Size()
	if ones < 12 || ones > 24 {
		return svc.String() + " must have a prefix between /12 and /24, as EKS requires"
	}
	for _, r := range rfc1918 {
		_, block, _ := net.ParseCIDR(r)
		if rOnes, _ := block.Mask.Size(); block.Contains(svc.IP) && ones >= rOnes {
			return ""
		}
	}
	return svc.String() + " must be within 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16, as EKS requires"
}

func (c *Cluster) validateSubnets(l *errorList) {
	type seen struct {
		net  *net.IPNet
		path fieldPath
	}
	var nets []seen
	ids := map[string]fieldPath{}
	for _, s := range c.Subnets() {
		kind := "public"
		if s.Private {
			kind = "private"
		}
		p := fieldPath{"vpc", "subnets", kind, s.Key}
		if prev, dup := ids[s.ID]; dup {
			l.add(p.key("id"), "subnet id %q is also used by %s; ids must be unique", s.ID, prev)
		}
		ids[s.ID] = p
		if s.CIDR == "" {
			l.add(p.key("cidr"), "missing: fargo has no AWS to look subnet %s up in, so give its CIDR (e.g. cidr: 192.168.96.0/19)", s.ID)
			continue
		}
		ip, n, err := net.ParseCIDR(s.CIDR)
		if err != nil || n.IP.To4() == nil {
			l.add(p.key("cidr"), "%q is not an IPv4 CIDR such as 192.168.96.0/19", s.CIDR)
			continue
		}
		if !ip.Equal(n.IP) {
			l.add(p.key("cidr"), "%q has host bits set; did you mean %s?", s.CIDR, n)
			continue
		}
		if ones, _ := n.Mask.Size(); ones > 28 {
			l.add(p.key("cidr"), "%s is too small: AWS subnets are /28 or larger", n)
		}
		if c.VPCNet != nil && !(c.VPCNet.Contains(n.IP) && maskLE(c.VPCNet, n)) {
			l.add(p.key("cidr"), "%s is not inside the VPC CIDR %s", n, c.VPCNet)
		}
		for _, o := range nets {
			if overlaps(o.net, n) {
				l.add(p.key("cidr"), "%s overlaps %s (%s)", n, o.net, o.path)
			}
		}
		nets = append(nets, seen{n, p})
	}
	if len(c.VPC.Subnets.Private) == 0 {
		l.add(fieldPath{"vpc", "subnets", "private"}, "at least one private subnet is needed: Fargate pods run only in private subnets")
	}
}

func (c *Cluster) validateNodeGroups(l *errorList) {
	names := map[string]bool{}
	for i, ng := range c.ManagedNodeGroups {
		p := fieldPath{"managedNodeGroups"}.index(i)
		if !clusterNameRE.MatchString(ng.Name) {
			l.add(p.key("name"), "%q is not a valid node group name: use letters, digits and hyphens, starting with a letter", ng.Name)
		} else if names[ng.Name] {
			l.add(p.key("name"), "node group %q is defined twice", ng.Name)
		}
		names[ng.Name] = true
		for _, f := range []struct {
			name string
			v    *int
		}{{"minSize", ng.MinSize}, {"desiredCapacity", ng.DesiredCapacity}, {"maxSize", ng.MaxSize}} {
			if *f.v < 0 {
				l.add(p.key(f.name), "must not be negative, got %d", *f.v)
			}
		}
		if *ng.MinSize > *ng.DesiredCapacity || *ng.DesiredCapacity > *ng.MaxSize {
			l.add(p.key("desiredCapacity"), "must satisfy minSize (%d) <= desiredCapacity (%d) <= maxSize (%d)", *ng.MinSize, *ng.DesiredCapacity, *ng.MaxSize)
		}
		if _, err := instancetype.Lookup(ng.InstanceType); ng.InstanceType != "" && err != nil {
			l.add(p.key("instanceType"), "%v", err)
		}
		for j, it := range ng.InstanceTypes {
			if _, err := instancetype.Lookup(it); err != nil {
				l.add(p.key("instanceTypes").index(j), "%v", err)
			}
		}
		validateLabels(l, p.key("labels"), ng.Labels)
		for j, t := range ng.Taints {
			tp := p.key("taints").index(j)
			for _, msg := range validation.IsQualifiedName(t.Key) {
				l.add(tp.key("key"), "%q: %s", t.Key, msg)
			}
			if t.Value != "" {
				for _, msg := range validation.IsValidLabelValue(t.Value) {
					l.add(tp.key("value"), "%q: %s", t.Value, msg)
				}
			}
			switch t.Effect {
			case "NoSchedule", "PreferNoSchedule", "NoExecute":
			default:
				l.add(tp.key("effect"), "%q is not one of NoSchedule, PreferNoSchedule, NoExecute", t.Effect)
			}
		}
		for j, s := range ng.Subnets {
			if c.subnet(s) == nil {
				l.add(p.key("subnets").index(j), "%q is not a subnet id or zone under vpc.subnets", s)
			}
		}
	}
}

func (c *Cluster) validateFargateProfiles(l *errorList) {
	names := map[string]bool{}
	for i, fp := range c.FargateProfiles {
		p := fieldPath{"fargateProfiles"}.index(i)
		before := len(l.errs)
		if fp.Name == "" {
			l.add(p.key("name"), "missing: every Fargate profile needs a name")
		} else if names[fp.Name] {
			l.add(p.key("name"), "Fargate profile %q is defined twice", fp.Name)
		}
		names[fp.Name] = true
		if len(fp.Selectors) == 0 {
			l.add(p.key("selectors"), "at least one selector (a namespace and optional labels) is needed")
		}
		for j, s := range fp.Selectors {
			if s.Namespace == "" {
				l.add(p.key("selectors").index(j).key("namespace"), "missing: a selector must name a namespace")
			}
		}
		for j, s := range fp.Subnets {
			if ref := c.subnet(s); ref == nil {
				l.add(p.key("subnets").index(j), "%q is not a subnet id under vpc.subnets", s)
			} else {
				c.FargateProfiles[i].Subnets[j] = ref.ID // a zone key names its subnet
			}
		}
		if len(l.errs) == before {
			// The rules the EKS API applies, so a bad profile stops the start here,
			// with its line, rather than after the control plane is up.
			c.validateProfileRules(l, p, c.FargateProfiles[i])
		}
	}
	if max := c.Fargo.Limits.ProfilesPerCluster; max > 0 && len(c.FargateProfiles) > max {
		l.add(fieldPath{"fargateProfiles"}, "%d profiles, more than the %d a cluster may have (fargo.limits.fargateProfilesPerCluster)", len(c.FargateProfiles), max)
	}
}

// ProfileCluster is what the profile rules know of the cluster.
func (c *Cluster) ProfileCluster(accountID string) profile.Cluster {
	subnets := map[string]bool{}
	for _, s := range c.Subnets() {
		subnets[s.ID] = s.Private
	}
	return profile.Cluster{Name: c.Metadata.Name, Region: c.Metadata.Region, AccountID: accountID, Subnets: subnets, Limits: c.Fargo.Limits}
}

func (c *Cluster) validateProfileRules(l *errorList, p fieldPath, fp FargateProfile) {
	pc := c.ProfileCluster("000000000000") // the account only names the default role
	spec := v1alpha1.FargateProfileSpec{PodExecutionRoleArn: fp.PodExecutionRoleARN, Subnets: fp.Subnets, Tags: fp.Tags}
	for _, s := range fp.Selectors {
		spec.Selectors = append(spec.Selectors, v1alpha1.FargateProfileSelector{Namespace: s.Namespace, Labels: s.Labels})
	}
	profile.Default(&spec, pc)
	if perr := profile.Validate(fp.Name, &spec, pc); perr != nil {
		l.add(p, "%s", perr.Message)
	}
}

func validateLabels(l *errorList, p fieldPath, labels map[string]string) {
	for k, v := range labels {
		for _, msg := range validation.IsQualifiedName(k) {
			l.add(p.key(k), "label key %q: %s", k, msg)
		}
		for _, msg := range validation.IsValidLabelValue(v) {
			l.add(p.key(k), "label value %q: %s", v, msg)
		}
	}
}

// subnet finds a subnet by id or by the zone/name it is configured under.
func (c *Cluster) subnet(idOrKey string) *SubnetRef {
	for _, s := range c.Subnets() {
		if s.ID == idOrKey || s.Key == idOrKey {
			return &s
		}
	}
	return nil
}

func overlaps(a, b *net.IPNet) bool { return a.Contains(b.IP) || b.Contains(a.IP) }

// maskLE reports whether outer's prefix is no longer than inner's.
func maskLE(outer, inner *net.IPNet) bool {
	o, _ := outer.Mask.Size()
	i, _ := inner.Mask.Size()
	return o <= i
}

func (c *Cluster) validateHost(l *errorList) {
	for _, r := range []struct {
		name  string
		ratio float64
	}{{"cpuOvercommit", c.Fargo.Host.CPUOvercommit}, {"memoryOvercommit", c.Fargo.Host.MemoryOvercommit}} {
		if r.ratio != 0 && (r.ratio < 1 || r.ratio > 64) {
			l.add(fieldPath{"fargo", "host", r.name}, "%g is not a ratio from 1 (no overcommit) to 64", r.ratio)
		}
	}
}

func (c *Cluster) validateMetering(l *errorList) {
	if err := c.Fargo.Prices.Validate(); err != nil {
		l.add(fieldPath{"fargo", "prices"}, "%v", err)
	}
	mt := &c.Fargo.Metering
	rule, err := meter.ParseStopRule(mt.Stop)
	if err != nil {
		l.add(fieldPath{"fargo", "metering", "stop"}, "%v", err)
	}
	mt.StopRule = rule
	for _, d := range []struct {
		name  string
		value string
		least time.Duration
		out   *time.Duration
	}{{"interval", mt.Interval, time.Second, &mt.IntervalDuration}, {"retention", mt.Retention, time.Hour, &mt.RetentionDuration}} {
		v, err := time.ParseDuration(d.value)
		if err != nil || v < d.least {
			l.add(fieldPath{"fargo", "metering", d.name}, "%q is not a duration of at least %s, such as %q", d.value, d.least, "90s")
			continue
		}
		*d.out = v
	}
}
