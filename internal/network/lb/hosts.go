package lb

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/clusterdns"
)

// hostsFile is the hosts file of every load balancer's hostname, sorted: what
// the cluster DNS serves for them (clusterdns.LoadBalancers), as AWS's DNS
// answers for an NLB's name.
func hostsFile(services []corev1.Service) string {
	var lines []string
	for i := range services {
		if !ours(&services[i]) {
			continue
		}
		for _, ing := range services[i].Status.LoadBalancer.Ingress {
			if ing.IP != "" && ing.Hostname != "" {
				lines = append(lines, ing.IP+" "+ing.Hostname)
			}
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

// publish writes the hosts file to its ConfigMap when it changed since the last
// write of this process (server-side apply: one owner, no read first).
func (c *Controller) publish(ctx context.Context, services []corev1.Service) error {
	hosts := hostsFile(services)
	c.mu.Lock()
	same := c.published == hosts
	c.mu.Unlock()
	if same {
		return nil
	}
	cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Namespace: clusterdns.Namespace, Name: clusterdns.LoadBalancers},
		Data:       map[string]string{clusterdns.LoadBalancersKey: hosts}}
	if err := c.Client.Patch(ctx, cm, client.Apply, client.FieldOwner("fargo-load-balancers"), client.ForceOwnership); err != nil {
		return fmt.Errorf("writing the load balancers' hostnames to ConfigMap %s/%s: %w", clusterdns.Namespace, clusterdns.LoadBalancers, err)
	}
	c.mu.Lock()
	c.published = hosts
	c.mu.Unlock()
	return nil
}
