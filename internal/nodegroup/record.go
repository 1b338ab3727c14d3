package nodegroup

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/fargo-dev/fargo/internal/instancetype"
)

// record is a node as kept in DATA/nodes/<ip>/node.json, so a restart brings the
// same nodes back at the same addresses.
type record struct {
	Name, Group, InstanceType, Region, Zone string
	IP, Subnet, Block                       string
	Labels                                  map[string]string `json:",omitempty"`
	Taints                                  []corev1.Taint    `json:",omitempty"`
	// Created orders the nodes: a scale-down removes the last made first.
	Created time.Time
}

const recordFile = "node.json"

func saveRecord(dir string, s *Spec) error {
	data, err := json.MarshalIndent(record{Name: s.Name, Group: s.Group, InstanceType: s.InstanceType, Region: s.Region, Zone: s.Zone,
		IP: s.IP.String(), Subnet: s.Subnet.String(), Block: s.Block.String(), Labels: s.Labels, Taints: s.Taints, Created: s.created}, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, recordFile), data)
}

// loadRecords reads every node kept under nodesDir, oldest first.
func loadRecords(nodesDir string) ([]Spec, error) {
	paths, err := filepath.Glob(filepath.Join(nodesDir, "*", recordFile))
	if err != nil {
		return nil, err
	}
	var out []Spec
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		var r record
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("reading %s: %w (remove the node's directory to forget it)", p, err)
		}
		s, err := r.spec()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].created.Before(out[j].created) })
	return out, nil
}

func (r record) spec() (Spec, error) {
	t, err := instancetype.Lookup(r.InstanceType)
	if err != nil {
		return Spec{}, err
	}
	ip := net.ParseIP(r.IP).To4()
	_, subnet, err1 := net.ParseCIDR(r.Subnet)
	_, block, err2 := net.ParseCIDR(r.Block)
	if ip == nil || errors.Join(err1, err2) != nil {
		return Spec{}, fmt.Errorf("bad address %q, subnet %q or block %q", r.IP, r.Subnet, r.Block)
	}
	return Spec{Name: r.Name, Group: r.Group, InstanceType: r.InstanceType, Type: t, Region: r.Region, Zone: r.Zone,
		IP: ip, Subnet: subnet, Block: block, Labels: r.Labels, Taints: r.Taints, created: r.Created}, nil
}
