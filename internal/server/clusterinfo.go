package server

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/agent"
	"github.com/fargo-dev/fargo/internal/clusterconfig"
	"github.com/fargo-dev/fargo/internal/profile"
)

// ClusterInfo is the ConfigMap through which clients (the fargo CLI, agents)
// learn which cluster a server runs.
var ClusterInfo = agent.ClusterInfo

// publishClusterInfo writes the cluster's name, region, account, VPC, service
// CIDR and DNS address to ClusterInfo, for agents on other machines, with the
// meter's interval and prices.
func publishClusterInfo(ctx context.Context, c client.Client, pc profile.Cluster, cluster *clusterconfig.Cluster) error {
	prices, err := json.Marshal(cluster.Fargo.Prices) // for fargo usage --rightsize
	if err != nil {
		return fmt.Errorf("publishing cluster info: %w", err)
	}
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ClusterInfo.Namespace, Name: ClusterInfo.Name},
		Data: map[string]string{"name": pc.Name, "region": pc.Region, "accountId": pc.AccountID,
			"vpcCIDR": cluster.VPCNet.String(), "serviceCIDR": cluster.ServiceNet.String(), "clusterDNS": cluster.ClusterDNS().String(),
			"meterInterval": cluster.Fargo.Metering.IntervalDuration.String(), "prices": string(prices)},
	}
	if err := c.Patch(ctx, cm, client.Apply, client.FieldOwner("fargo"), client.ForceOwnership); err != nil {
		return fmt.Errorf("publishing cluster info: %w", err)
	}
	return nil
}
