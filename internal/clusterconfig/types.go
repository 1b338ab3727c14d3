// Package clusterconfig loads and validates an eksctl-style ClusterConfig
// (eksctl.io/v1alpha5), the file given to `fargo server --config`, and supplies the
// default cluster when none is given.
//
// Field names follow eksctl's schema so existing files load unchanged. Fields that
// eksctl knows but fargo does not act on (IAM, CloudWatch, add-ons, volumes, ...) are
// accepted and ignored; fields eksctl does not know are errors naming field and line.
package clusterconfig

import (
	"net"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/fargo-dev/fargo/internal/meter"
	"github.com/fargo-dev/fargo/internal/profile"
)

// APIVersion and Kind are the only ones accepted.
const (
	APIVersion = "eksctl.io/v1alpha5"
	Kind       = "ClusterConfig"
)

// Cluster is a loaded, validated and defaulted cluster configuration.
type Cluster struct {
	ClusterConfig
	// Source is the file it was read from, or "" for the default cluster.
	Source string
	// VPCNet and ServiceNet are the parsed vpc.cidr and serviceIPv4CIDR.
	VPCNet, ServiceNet *net.IPNet
}

// ClusterConfig mirrors eksctl's ClusterConfig.
type ClusterConfig struct {
	APIVersion              string                  `yaml:"apiVersion"`
	Kind                    string                  `yaml:"kind"`
	Metadata                Metadata                `yaml:"metadata"`
	VPC                     VPC                     `yaml:"vpc"`
	KubernetesNetworkConfig KubernetesNetworkConfig `yaml:"kubernetesNetworkConfig"`
	AvailabilityZones       []string                `yaml:"availabilityZones"`
	ManagedNodeGroups       []ManagedNodeGroup      `yaml:"managedNodeGroups"`
	FargateProfiles         []FargateProfile        `yaml:"fargateProfiles"`
	// Fargo holds fargo's own settings; eksctl has no such section.
	Fargo   Fargo `yaml:"fargo"`
	Ignored `yaml:",inline"`
}

// Ignored are top-level eksctl sections that fargo accepts and does not act on.
type Ignored struct {
	IAM                 *yaml.Node `yaml:"iam"`
	CloudWatch          *yaml.Node `yaml:"cloudWatch"`
	Addons              *yaml.Node `yaml:"addons"`
	AddonsConfig        *yaml.Node `yaml:"addonsConfig"`
	AccessConfig        *yaml.Node `yaml:"accessConfig"`
	IdentityProviders   *yaml.Node `yaml:"identityProviders"`
	SecretsEncryption   *yaml.Node `yaml:"secretsEncryption"`
	PrivateCluster      *yaml.Node `yaml:"privateCluster"`
	NodeGroups          *yaml.Node `yaml:"nodeGroups"`
	GitOps              *yaml.Node `yaml:"gitops"`
	Karpenter           *yaml.Node `yaml:"karpenter"`
	Outpost             *yaml.Node `yaml:"outpost"`
	LocalZones          *yaml.Node `yaml:"localZones"`
	ZonalShiftConfig    *yaml.Node `yaml:"zonalShiftConfig"`
	AutoModeConfig      *yaml.Node `yaml:"autoModeConfig"`
	RemoteNetworkConfig *yaml.Node `yaml:"remoteNetworkConfig"`
}

// Fargo holds settings that only fargo has.
type Fargo struct {
	// Limits replace EKS's default Fargate profile quotas (0: the EKS default).
	Limits profile.Limits `yaml:"limits"`
	// Prices are the rates the meter bills at (default: EKS Fargate's
	// us-east-1 Linux/x86 rates and EC2's on-demand instance prices).
	Prices meter.Prices `yaml:"prices"`
	// Metering says when a Fargate pod's meter stops, how often the records
	// of running pods are updated and how long records are kept.
	Metering Metering `yaml:"metering"`
	// Host is what the server's built-in agent offers to sandboxes.
	Host Host `yaml:"host"`
}

// Host holds the built-in agent's overcommit ratios (0: the default, 4 for
// CPU, 1 for memory); --cpu-overcommit and --memory-overcommit override them.
type Host struct {
	CPUOvercommit    float64 `yaml:"cpuOvercommit"`
	MemoryOvercommit float64 `yaml:"memoryOvercommit"`
}

// Metering is the meter's settings; `fargo server` flags override them.
type Metering struct {
	// Stop is "containers" (the default: the meter stops once the pod's
	// containers have all terminated) or "pod" (once the pod is deleted, as EKS).
	Stop string `yaml:"stop"`
	// Interval ("1m") is how often running pods' records are updated;
	// Retention ("2160h", 90 days) how long final records are kept.
	Interval  string `yaml:"interval"`
	Retention string `yaml:"retention"`

	// What they say, once validated.
	StopRule          meter.StopRule `yaml:"-"`
	IntervalDuration  time.Duration  `yaml:"-"`
	RetentionDuration time.Duration  `yaml:"-"`
}

// Metadata names the cluster.
type Metadata struct {
	Name        string            `yaml:"name"`
	Region      string            `yaml:"region"`
	Version     string            `yaml:"version"`
	Tags        map[string]string `yaml:"tags"`
	Annotations map[string]string `yaml:"annotations"`
}

// VPC is the cluster's network: its CIDR and subnets by availability zone.
type VPC struct {
	ID                                 string     `yaml:"id"`
	CIDR                               string     `yaml:"cidr"`
	Subnets                            Subnets    `yaml:"subnets"`
	ClusterEndpoints                   *yaml.Node `yaml:"clusterEndpoints"`
	NAT                                *yaml.Node `yaml:"nat"`
	PublicAccessCIDRs                  []string   `yaml:"publicAccessCIDRs"`
	SecurityGroup                      string     `yaml:"securityGroup"`
	SharedNodeSecurityGroup            string     `yaml:"sharedNodeSecurityGroup"`
	ManageSharedNodeSecurityGroupRules *bool      `yaml:"manageSharedNodeSecurityGroupRules"`
	AutoAllocateIPv6                   *bool      `yaml:"autoAllocateIPv6"`
	HostnameType                       string     `yaml:"hostnameType"`
}

// Subnets are keyed by availability zone (or by a name, with the zone in `az`).
type Subnets struct {
	Private map[string]Subnet `yaml:"private"`
	Public  map[string]Subnet `yaml:"public"`
}

// Subnet is one subnet. fargo needs its CIDR, since there is no AWS to look it up in.
type Subnet struct {
	ID   string `yaml:"id"`
	CIDR string `yaml:"cidr"`
	AZ   string `yaml:"az"`
}

// KubernetesNetworkConfig holds the service CIDR.
type KubernetesNetworkConfig struct {
	ServiceIPv4CIDR string `yaml:"serviceIPv4CIDR"`
	IPFamily        string `yaml:"ipFamily"`
}

// ManagedNodeGroup is a group of long-lived nodes for pods that match no profile.
type ManagedNodeGroup struct {
	Name              string            `yaml:"name"`
	InstanceType      string            `yaml:"instanceType"`
	InstanceTypes     []string          `yaml:"instanceTypes"`
	DesiredCapacity   *int              `yaml:"desiredCapacity"`
	MinSize           *int              `yaml:"minSize"`
	MaxSize           *int              `yaml:"maxSize"`
	Labels            map[string]string `yaml:"labels"`
	Taints            []Taint           `yaml:"taints"`
	Subnets           []string          `yaml:"subnets"`
	AvailabilityZones []string          `yaml:"availabilityZones"`
	PrivateNetworking bool              `yaml:"privateNetworking"`
	Tags              map[string]string `yaml:"tags"`
	MaxPodsPerNode    int               `yaml:"maxPodsPerNode"`
	Spot              bool              `yaml:"spot"`
	// Accepted for eksctl compatibility; fargo's nodes have no volumes, AMIs or IAM.
	VolumeType      string     `yaml:"volumeType"`
	VolumeSize      *int       `yaml:"volumeSize"`
	VolumeEncrypted *bool      `yaml:"volumeEncrypted"`
	AMIFamily       string     `yaml:"amiFamily"`
	AMI             string     `yaml:"ami"`
	IAM             *yaml.Node `yaml:"iam"`
	SSH             *yaml.Node `yaml:"ssh"`
	SecurityGroups  *yaml.Node `yaml:"securityGroups"`
	UpdateConfig    *yaml.Node `yaml:"updateConfig"`
	PreBootstrap    *yaml.Node `yaml:"preBootstrapCommands"`
	OverrideBoot    *yaml.Node `yaml:"overrideBootstrapCommand"`
	LaunchTemplate  *yaml.Node `yaml:"launchTemplate"`
	DisableIMDSv1   *bool      `yaml:"disableIMDSv1"`
	DisablePodIMDS  *bool      `yaml:"disablePodIMDS"`
}

// Taint is a node-group taint, as eksctl writes them.
type Taint struct {
	Key    string `yaml:"key"`
	Value  string `yaml:"value"`
	Effect string `yaml:"effect"`
}

// FargateProfile is a profile created at server start.
type FargateProfile struct {
	Name                string            `yaml:"name"`
	PodExecutionRoleARN string            `yaml:"podExecutionRoleARN"`
	Selectors           []Selector        `yaml:"selectors"`
	Subnets             []string          `yaml:"subnets"`
	Tags                map[string]string `yaml:"tags"`
	Status              string            `yaml:"status"`
}

// Selector picks pods by namespace and labels.
type Selector struct {
	Namespace string            `yaml:"namespace"`
	Labels    map[string]string `yaml:"labels"`
}

// ClusterDNS is the cluster DNS service's address: the tenth of the service CIDR,
// as EKS (10.100.0.10 for 10.100.0.0/16).
func (c *Cluster) ClusterDNS() net.IP {
	ip := make(net.IP, len(c.ServiceNet.IP.To4()))
	copy(ip, c.ServiceNet.IP.To4())
	ip[3] += 10
	return ip
}
