package nodegroup

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/fargo-dev/fargo/internal/instancetype"
)

// Manager runs the cluster's node groups on this machine. Every node it ever
// made is kept (DATA/nodes/<ip>/node.json), so a restart brings the same nodes
// back at the same addresses and their pods run on.
type Manager struct {
	c      *Cluster
	region string

	mu    sync.Mutex
	specs []Spec           // every node kept
	nodes map[string]*Node // running, by IP
}

// NewManager loads the nodes kept under the data dir.
func NewManager(c *Cluster, region string) (*Manager, error) {
	specs, err := loadRecords(filepath.Join(c.DataDir, "nodes"))
	if err != nil {
		return nil, fmt.Errorf("loading node groups' nodes: %w", err)
	}
	return &Manager{c: c, region: region, specs: specs, nodes: map[string]*Node{}}, nil
}

// Reserved reports whether ip is in a node's share of its subnet, which no
// Fargate pod may take.
func (m *Manager) Reserved(ip net.IP) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.specs {
		if s.Block.Contains(ip) {
			return true
		}
	}
	return false
}

// Ensure brings g to its desired number of nodes: those it keeps are started,
// new ones planned, and surplus ones (the last made first) drained and removed.
// It returns the names of the group's running nodes.
func (m *Manager) Ensure(ctx context.Context, g Group, kube kubernetes.Interface) ([]string, error) {
	t, err := instancetype.Lookup(g.InstanceType)
	if err != nil {
		return nil, fmt.Errorf("node group %s: %w", g.Name, err)
	}
	m.mu.Lock()
	var mine []Spec
	var held []*net.IPNet
	for _, s := range m.specs {
		held = append(held, s.Block)
		if s.Group == g.Name {
			mine = append(mine, s)
		}
	}
	if more := g.Desired - len(mine); more > 0 {
		added, err := plan(g, m.region, t, more, mine, held)
		if err != nil {
			m.mu.Unlock()
			return nil, err
		}
		for i := range added {
			dir := filepath.Join(m.c.DataDir, "nodes", added[i].IP.String())
			if err := ensureDir(dir); err != nil {
				m.mu.Unlock()
				return nil, err
			}
			if err := saveRecord(dir, &added[i]); err != nil {
				m.mu.Unlock()
				return nil, err
			}
		}
		m.specs = append(m.specs, added...)
		mine = append(mine, added...)
	}
	var surplus []Spec
	if len(mine) > g.Desired {
		mine, surplus = mine[:g.Desired], mine[g.Desired:]
	}
	m.mu.Unlock()

	var names []string
	var errs []error
	for _, s := range mine {
		m.mu.Lock()
		_, running := m.nodes[s.IP.String()]
		m.mu.Unlock()
		if !running {
			n, err := Start(ctx, m.c, s)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			m.mu.Lock()
			m.nodes[s.IP.String()] = n
			m.mu.Unlock()
		}
		names = append(names, s.Name)
	}
	for _, s := range surplus {
		if err := m.removeNode(ctx, s, kube); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		if err := m.waitReady(ctx, kube, mine); err != nil {
			errs = append(errs, err)
		} else if err := m.syncLabels(ctx, g, kube); err != nil {
			errs = append(errs, err)
		}
	}
	return names, errors.Join(errs...)
}

// readyTimeout bounds how long a node may take to register and be Ready.
const readyTimeout = 2 * time.Minute

// waitReady waits until every node is registered and Ready, as EKS's group is
// ACTIVE only once its nodes have joined.
func (m *Manager) waitReady(ctx context.Context, kube kubernetes.Interface, specs []Spec) error {
	for _, s := range specs {
		err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, readyTimeout, true, func(ctx context.Context) (bool, error) {
			n, err := kube.CoreV1().Nodes().Get(ctx, s.Name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady {
					return c.Status == corev1.ConditionTrue, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("node %s not Ready after %s (its kubelet logs to %s): %w", s.Name, readyTimeout,
				nodeLog(m.c, s, "kubelet"), err)
		}
	}
	return nil
}

// RemoveGroup drains and removes every node of the named group, the last made
// first, as a scale-down to zero does.
func (m *Manager) RemoveGroup(ctx context.Context, group string, kube kubernetes.Interface) error {
	m.mu.Lock()
	var mine []Spec
	for _, s := range m.specs {
		if s.Group == group {
			mine = append(mine, s)
		}
	}
	m.mu.Unlock()
	var errs []error
	for i := len(mine) - 1; i >= 0; i-- {
		if err := m.removeNode(ctx, mine[i], kube); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Nodes are the names of the group's nodes kept on this machine.
func (m *Manager) Nodes(group string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var names []string
	for _, s := range m.specs {
		if s.Group == group {
			names = append(names, s.Name)
		}
	}
	return names
}

// removeNode drains a node and takes it off the machine, forgetting it.
func (m *Manager) removeNode(ctx context.Context, s Spec, kube kubernetes.Interface) error {
	m.mu.Lock()
	n := m.nodes[s.IP.String()]
	m.mu.Unlock()
	if n == nil { // kept but not running (e.g. scaled down across a restart)
		var err error
		if n, err = Start(ctx, m.c, s); err != nil {
			return err
		}
	}
	if err := drain(ctx, kube, s.Name); err != nil {
		return fmt.Errorf("node group %s: %w", s.Group, err)
	}
	err := n.remove(ctx, kube)
	m.mu.Lock()
	delete(m.nodes, s.IP.String())
	for i := range m.specs {
		if m.specs[i].IP.Equal(s.IP) {
			m.specs = append(m.specs[:i], m.specs[i+1:]...)
			break
		}
	}
	m.mu.Unlock()
	if err != nil {
		return fmt.Errorf("node group %s: removing %s: %w", s.Group, s.Name, err)
	}
	return nil
}

// Stop ends every node's kubelet and containerd; their pods run on.
func (m *Manager) Stop() error {
	m.mu.Lock()
	nodes := m.nodes
	m.nodes = map[string]*Node{}
	m.mu.Unlock()
	var wg sync.WaitGroup
	errs := make(chan error, len(nodes))
	for _, n := range nodes {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- n.Stop() }()
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}
