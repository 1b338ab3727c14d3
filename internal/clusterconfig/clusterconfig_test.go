package clusterconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		{"unknown node group subnet", header + "managedNodeGroups:\n  - name: ng\n    subnets: [subnet-nope]\n", []string{"managedNodeGroups[0].subnets[0]", "subnet-nope"}},
		{"duplicate node group", header + "managedNodeGroups:\n  - name: ng\n  - name: ng\n", []string{"x.yaml:8: managedNodeGroups[1].name: node group \"ng\" is defined twice"}},
		{"bad label", header + "managedNodeGroups:\n  - name: ng\n    labels: { \"bad key!\": v }\n", []string{"managedNodeGroups[0].labels.bad key!"}},
		{"profile without selector", header + "fargateProfiles:\n  - name: fp\n", []string{"fargateProfiles[0].selectors", "at least one selector"}},
		{"profile selector without namespace", header + "fargateProfiles:\n  - name: fp\n    selectors:\n      - labels: { a: b }\n", []string{"fargateProfiles[0].selectors[0].namespace: missing"}},
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
