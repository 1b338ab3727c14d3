package clusterconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"

	"go.yaml.in/yaml/v3"
)

// Overrides are settings given on the command line; they win over the file.
type Overrides struct {
	Name, Region, ServiceCIDR string
	// DefaultNodeGroup gives Default's cluster the node group eksctl create
	// cluster makes: two m5.large nodes.
	DefaultNodeGroup bool
}

func (o Overrides) apply(c *ClusterConfig) {
	if o.Name != "" {
		c.Metadata.Name = o.Name
	}
	if o.Region != "" {
		c.Metadata.Region = o.Region
	}
	if o.ServiceCIDR != "" {
		c.KubernetesNetworkConfig.ServiceIPv4CIDR = o.ServiceCIDR
	}
}

// Load reads, checks, defaults and validates the config file at path.
func Load(path string, o Overrides) (*Cluster, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading cluster config: %w", err)
	}
	return Parse(path, data, o)
}

// Parse is Load for data already read; file names the source in errors.
func Parse(file string, data []byte, o Overrides) (*Cluster, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: the file is empty; it needs apiVersion: %s, kind: %s and metadata", file, APIVersion, Kind)
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s:%d: only one YAML document is allowed (one cluster per file)", file, extra.Line)
	}
	l := &errorList{file: file, root: &root}
	checkKnownFields(l, &root, reflect.TypeOf(ClusterConfig{}), nil)
	if err := l.err(); err != nil {
		return nil, err
	}
	c := &Cluster{Source: file}
	if err := root.Decode(&c.ClusterConfig); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	o.apply(&c.ClusterConfig)
	if err := c.complete(&root); err != nil {
		return nil, err
	}
	return c, nil
}

// Default is the cluster fargo runs when no --config is given: eksctl's default
// shape (a /16 VPC, a public and a private /19 in each of two zones).
// Overrides that are invalid give an error.
func Default(o Overrides) (*Cluster, error) {
	c := &Cluster{ClusterConfig: ClusterConfig{APIVersion: APIVersion, Kind: Kind}}
	o.apply(&c.ClusterConfig)
	if o.DefaultNodeGroup {
		name := c.Metadata.Name
		if name == "" {
			name = DefaultName
		}
		c.ManagedNodeGroups = []ManagedNodeGroup{{Name: DefaultNodeGroupName(name)}}
	}
	if err := c.complete(nil); err != nil {
		return nil, err
	}
	return c, nil
}

// complete fills defaults and validates; root locates errors (nil for the default).
func (c *Cluster) complete(root *yaml.Node) error {
	l := &errorList{file: c.Source, root: root}
	c.validateHeader(l)
	if err := l.err(); err != nil {
		return err
	}
	c.setDefaults(l)
	if err := l.err(); err != nil {
		return err
	}
	c.validate(l)
	return l.err()
}
