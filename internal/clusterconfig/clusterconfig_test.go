package clusterconfig

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestSeedConfigLoads(t *testing.T) {
	path := filepath.Join("..", "..", "examples", "eks-private-subnet.yaml")
	c, err := Load(path, Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Metadata.Name != "eksworkshop" || c.Metadata.Region != "ap-southeast-1" || c.Metadata.Version != "1.28" {
		t.Errorf("metadata = %+v", c.Metadata)
	}
	if got := c.ServiceNet.String(); got != "10.50.0.0/24" {
		t.Errorf("service CIDR = %s", got)
	}
	if got := c.VPCNet.String(); got != "192.168.0.0/16" {
		t.Errorf("derived VPC CIDR = %s, want the smallest prefix covering the subnets", got)
	}
	priv := c.PrivateSubnets()
	if len(priv) != 3 || priv[0].ID != "subnet-04a7c6e7e1589c953" || priv[0].AZ != "ap-southeast-1a" || priv[0].CIDR != "192.168.96.0/19" {
		t.Errorf("private subnets = %+v", priv)
	}
	ng := c.ManagedNodeGroups
	if len(ng) != 1 || ng[0].Name != "managed-ng" || ng[0].InstanceType != "t3.xlarge" || *ng[0].DesiredCapacity != 2 || len(ng[0].Subnets) != 3 {
		t.Errorf("node groups = %+v", ng)
	}
}

func TestDefaultCluster(t *testing.T) {
	c, err := Default(Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Metadata.Name != "fargo" || c.Metadata.Region != "local-1" || c.ServiceNet.String() != "10.100.0.0/16" || c.VPCNet.String() != "192.168.0.0/16" {
		t.Errorf("default = %+v, vpc %s, services %s", c.Metadata, c.VPCNet, c.ServiceNet)
	}
	priv := c.PrivateSubnets()
	if len(priv) != 2 || priv[0].AZ != "local-1a" || priv[1].AZ != "local-1b" || priv[0].CIDR != "192.168.64.0/19" || priv[1].CIDR != "192.168.96.0/19" {
		t.Errorf("private subnets = %+v", priv)
	}
	if len(c.Subnets()) != 4 || !strings.HasPrefix(priv[0].ID, "subnet-") || len(priv[0].ID) != len("subnet-")+17 {
		t.Errorf("subnets = %+v", c.Subnets())
	}
	again, _ := Default(Overrides{})
	if again.PrivateSubnets()[0].ID != priv[0].ID {
		t.Error("generated subnet ids are not stable")
	}
	if len(c.ManagedNodeGroups) != 0 {
		t.Errorf("node groups without DefaultNodeGroup: %+v", c.ManagedNodeGroups)
	}
}

// The default node group is eksctl create cluster's: two m5.large nodes in an
// ng-<8 hex> group, named the same at every start of the cluster.
func TestDefaultNodeGroup(t *testing.T) {
	c, err := Default(Overrides{DefaultNodeGroup: true})
	if err != nil {
		t.Fatal(err)
	}
	ng := c.ManagedNodeGroups
	if len(ng) != 1 || ng[0].InstanceType != "m5.large" || *ng[0].DesiredCapacity != 2 || *ng[0].MinSize != 2 || *ng[0].MaxSize != 2 ||
		!regexp.MustCompile(`^ng-[0-9a-f]{8}$`).MatchString(ng[0].Name) {
		t.Fatalf("default node group = %+v", ng)
	}
	again, _ := Default(Overrides{DefaultNodeGroup: true})
	other, _ := Default(Overrides{DefaultNodeGroup: true, Name: "dev"})
	if again.ManagedNodeGroups[0].Name != ng[0].Name || other.ManagedNodeGroups[0].Name == ng[0].Name {
		t.Errorf("names %s, %s, %s: want the same for a cluster, another for another cluster", ng[0].Name, again.ManagedNodeGroups[0].Name, other.ManagedNodeGroups[0].Name)
	}
}

func TestOverrides(t *testing.T) {
	c, err := Default(Overrides{Name: "dev", Region: "eu-west-1", ServiceCIDR: "172.20.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Metadata.Name != "dev" || c.Metadata.Region != "eu-west-1" || c.ServiceNet.String() != "172.20.0.0/16" {
		t.Errorf("overrides not applied: %+v %s", c.Metadata, c.ServiceNet)
	}
	if c.PrivateSubnets()[0].AZ != "eu-west-1a" {
		t.Errorf("default zones do not follow the region: %+v", c.PrivateSubnets())
	}
	if _, err := Default(Overrides{ServiceCIDR: "8.8.0.0/16"}); err == nil || !strings.Contains(err.Error(), "10.0.0.0/8") {
		t.Errorf("a public service CIDR was accepted: %v", err)
	}
}

const header = "apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata:\n  name: c1\n  region: us-east-1\n"

func TestErrorsNameFieldAndLine(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown top-level field", header + "vcp:\n  cidr: 10.0.0.0/16\n", []string{"x.yaml:6: vcp: unknown field", "vpc"}},
		{"unknown nested field", header + "vpc:\n  subnets:\n    private:\n      us-east-1a: { id: s1, cidr: 10.0.0.0/24, zone: a }\n", []string{"x.yaml:9: vpc.subnets.private.us-east-1a.zone: unknown field", "az, cidr, id"}},
		{"unknown node group field", header + "managedNodeGroups:\n  - name: ng\n    instanceTyp: m5.large\n", []string{"x.yaml:8: managedNodeGroups[0].instanceTyp: unknown field"}},
		{"wrong type", header + "managedNodeGroups:\n  - name: ng\n    minSize: two\n", []string{"x.yaml", "line 8", "two"}},
		{"bad apiVersion", "apiVersion: eksctl.io/v1\nkind: ClusterConfig\n", []string{"x.yaml:1: apiVersion: must be \"eksctl.io/v1alpha5\""}},
		{"missing subnet CIDR", header + "vpc:\n  subnets:\n    private:\n      us-east-1a: { id: subnet-1 }\n", []string{"x.yaml:9: vpc.subnets.private.us-east-1a", "give its CIDR"}},
		{"bad CIDR", header + "vpc:\n  subnets:\n    private:\n      us-east-1a:\n        cidr: 10.0.0/24\n", []string{"x.yaml:10: vpc.subnets.private.us-east-1a.cidr: \"10.0.0/24\" is not an IPv4 CIDR"}},
		{"host bits", header + "vpc:\n  subnets:\n    private:\n      us-east-1a:\n        cidr: 10.0.0.5/24\n", []string{"did you mean 10.0.0.0/24"}},
		{"outside VPC", header + "vpc:\n  cidr: 10.0.0.0/16\n  subnets:\n    private:\n      us-east-1a:\n        cidr: 10.1.0.0/24\n", []string{"x.yaml:11:", "not inside the VPC CIDR 10.0.0.0/16"}},
		{"overlap", header + "vpc:\n  subnets:\n    private:\n      a: { cidr: 10.0.0.0/24 }\n      b: { cidr: 10.0.0.128/25 }\n", []string{"overlaps 10.0.0.0/24"}},
		{"no private subnet", header + "vpc:\n  subnets:\n    public:\n      a: { cidr: 10.0.0.0/24 }\n", []string{"at least one private subnet"}},
		{"service CIDR too big", header + "kubernetesNetworkConfig:\n  serviceIPv4CIDR: 10.0.0.0/8\n", []string{"x.yaml:7: kubernetesNetworkConfig.serviceIPv4CIDR", "/12 and /24"}},
		{"service CIDR in VPC", header + "vpc:\n  cidr: 10.0.0.0/16\nkubernetesNetworkConfig:\n  serviceIPv4CIDR: 10.0.5.0/24\n", []string{"overlaps the VPC CIDR"}},
		{"bad version", header + "  version: latest\n", []string{"x.yaml:6: metadata.version", "not a Kubernetes version"}},
		{"sizes", header + "managedNodeGroups:\n  - name: ng\n    minSize: 3\n    maxSize: 2\n", []string{"managedNodeGroups[0].desiredCapacity: must satisfy minSize (3) <= desiredCapacity (3) <= maxSize (2)"}},
		{"taint effect", header + "managedNodeGroups:\n  - name: ng\n    taints:\n      - { key: k, value: v, effect: Never }\n", []string{"x.yaml:9: managedNodeGroups[0].taints[0].effect", "NoSchedule"}},
		{"instance type", header + "managedNodeGroups:\n  - name: ng\n    instanceType: p4d.24xlarge\n", []string{"x.yaml:8: managedNodeGroups[0].instanceType", `unknown instance type "p4d.24xlarge"`, "t3.xlarge"}},
		{"unknown node group subnet", header + "managedNodeGroups:\n  - name: ng\n    subnets: [subnet-nope]\n", []string{"managedNodeGroups[0].subnets[0]", "subnet-nope"}},
		{"duplicate node group", header + "managedNodeGroups:\n  - name: ng\n  - name: ng\n", []string{"x.yaml:8: managedNodeGroups[1].name: node group \"ng\" is defined twice"}},
		{"bad label", header + "managedNodeGroups:\n  - name: ng\n    labels: { \"bad key!\": v }\n", []string{"managedNodeGroups[0].labels.bad key!"}},
		{"profile without selector", header + "fargateProfiles:\n  - name: fp\n", []string{"fargateProfiles[0].selectors", "at least one selector"}},
		{"profile selector without namespace", header + "fargateProfiles:\n  - name: fp\n    selectors:\n      - labels: { a: b }\n", []string{"fargateProfiles[0].selectors[0].namespace: missing"}},
		{"profile with a reserved name", header + "fargateProfiles:\n  - name: eks-x\n    selectors: [{ namespace: a }]\n", []string{"x.yaml:7: fargateProfiles[0]", "the prefix \"eks-\" is reserved"}},
		{"profile with a bad role", header + "fargateProfiles:\n  - name: fp\n    podExecutionRoleARN: arn:aws:iam::1:user/x\n    selectors: [{ namespace: a }]\n", []string{"x.yaml:7: fargateProfiles[0]", "is not an IAM role ARN"}},
		{"profile with too many labels", header + "fargateProfiles:\n  - name: fp\n    selectors: [{ namespace: a, labels: {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6} }]\n", []string{"x.yaml:7: fargateProfiles[0]"}},
		{"profile on a public subnet", header + "vpc:\n  subnets:\n    public:\n      a: { id: subnet-pub, cidr: 192.168.0.0/24 }\n    private:\n      b: { id: subnet-priv, cidr: 192.168.1.0/24 }\nfargateProfiles:\n  - name: fp\n    selectors: [{ namespace: a }]\n    subnets: [subnet-pub]\n", []string{"x.yaml:13: fargateProfiles[0]", "is not a private subnet"}},
		{"overcommit", header + "fargo:\n  host:\n    cpuOvercommit: 0.5\n", []string{"x.yaml:8: fargo.host.cpuOvercommit: 0.5 is not a ratio from 1"}},
		{"IPv6", header + "kubernetesNetworkConfig:\n  ipFamily: IPv6\n", []string{"fargo clusters are IPv4"}},
		{"two documents", header + "---\n" + header, []string{"only one YAML document"}},
		{"empty", "", []string{"the file is empty"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(tc.yaml), Overrides{})
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.yaml)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestAcceptedFields(t *testing.T) {
	yaml := header + `  tags: { team: a }
vpc:
  cidr: 10.0.0.0/16
  nat: { gateway: Single }
  subnets:
    private:
      priv-a: { id: subnet-a, cidr: 10.0.0.0/20, az: us-east-1a }
    public:
      us-east-1a: { id: subnet-pa, cidr: 10.0.128.0/20 }
iam:
  withOIDC: true
managedNodeGroups:
  - name: ng
    instanceType: m5.large
    desiredCapacity: 1
    subnets: [priv-a, subnet-pa]
    taints: [{ key: dedicated, value: x, effect: NoSchedule }]
    iam: { withAddonPolicies: { autoScaler: true } }
fargateProfiles:
  - name: fp-default
    selectors:
      - namespace: default
      - namespace: kube-system
        labels: { app: x }
    subnets: [subnet-a]
`
	c, err := Parse("ok.yaml", []byte(yaml), Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	p := c.PrivateSubnets()
	if len(p) != 1 || p[0].AZ != "us-east-1a" || p[0].Key != "priv-a" {
		t.Errorf("subnet az not taken from az field: %+v", p)
	}
	if ng := c.ManagedNodeGroups[0]; *ng.MinSize != 1 || *ng.MaxSize != 1 {
		t.Errorf("min/max not defaulted to desired: %d %d", *ng.MinSize, *ng.MaxSize)
	}
	if len(c.FargateProfiles) != 1 || len(c.FargateProfiles[0].Selectors) != 2 {
		t.Errorf("profiles = %+v", c.FargateProfiles)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), Overrides{})
	if err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("want a not-exist error, got %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return err
		}
		err = u.Unwrap()
	}
}

// A document of nested aliases is checked in the time of its size, and one unknown
// field repeated through aliases is reported once.
func TestAliasesCheckedOnce(t *testing.T) {
	var b strings.Builder
	b.WriteString(header + "managedNodeGroups:\n  - &a0 { name: ng, bogus: 1 }\n")
	for i := 1; i <= 8; i++ {
		b.WriteString(fmt.Sprintf("  - &a%d [", i))
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(fmt.Sprintf("*a%d", i-1))
		}
		b.WriteString("]\n")
	}
	done := make(chan error, 1)
	go func() { _, err := Parse("x.yaml", []byte(b.String()), Overrides{}); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("accepted")
		}
		if n := strings.Count(err.Error(), "\n") + 1; n > maxErrors+1 {
			t.Errorf("%d error lines, want at most %d", n, maxErrors+1)
		}
		if !strings.Contains(err.Error(), "x.yaml:7: managedNodeGroups[0].bogus: unknown field") {
			t.Errorf("error does not name the field: %.500s", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("an aliased document of 1 KiB is still being checked after 10 s")
	}
}

func TestErrorsCappedAndDeduplicated(t *testing.T) {
	var b strings.Builder
	b.WriteString(header + "managedNodeGroups:\n")
	for i := 0; i < 50; i++ {
		b.WriteString(fmt.Sprintf("  - { name: ng%d, bogus: 1 }\n", i))
	}
	_, err := Parse("x.yaml", []byte(b.String()), Overrides{})
	if err == nil {
		t.Fatal("accepted")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxErrors+1 || !strings.Contains(lines[maxErrors], "and 30 more problems") {
		t.Errorf("%d lines, last %q", len(lines), lines[len(lines)-1])
	}
}
