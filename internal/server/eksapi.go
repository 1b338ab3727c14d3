package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/clusterconfig"
	"github.com/fargo-dev/fargo/internal/controlplane"
	"github.com/fargo-dev/fargo/internal/eksapi"
	"github.com/fargo-dev/fargo/internal/profile"
)

// CredentialsFile is the AWS shared-credentials file with the EKS API's access key.
func CredentialsFile(dataDir string) string { return filepath.Join(dataDir, "aws-credentials") }

// startEKSAPI serves the EKS API until ctx ends; failures after start go to failed.
func (o *Options) startEKSAPI(ctx context.Context, cp *controlplane.ControlPlane, c client.Client, cluster *clusterconfig.Cluster, pc profile.Cluster, failed chan<- error) (string, error) {
	given, err := o.eksKeys()
	if err != nil {
		return "", err
	}
	keys, err := eksapi.EnsureCredentials(CredentialsFile(cp.DataDir()), given)
	if err != nil {
		return "", err
	}
	vpcID := cluster.VPC.ID
	if vpcID == "" {
		sum := sha256.Sum256([]byte(cluster.Metadata.Name + "/" + cluster.VPC.CIDR))
		vpcID = "vpc-" + hex.EncodeToString(sum[:])[:17]
	}
	var subnets []string
	for _, s := range cluster.Subnets() {
		subnets = append(subnets, s.ID)
	}
	api := eksapi.New(eksapi.Config{Cluster: pc, Keys: keys, Client: c, Description: eksapi.ClusterDescription{
		Version: cluster.Metadata.Version, Endpoint: cp.Endpoint, ServiceCIDR: cluster.ServiceNet.String(),
		SubnetIDs: subnets, VPCID: vpcID, CABundle: cp.CABundle, CreatedAt: cp.CreatedAt,
	}})
	addr := net.JoinHostPort(o.BindAddress, strconv.Itoa(o.EKSAPIPort))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listening for the EKS API on %s (--eks-api-port): %w", addr, err)
	}
	go func() {
		if err := api.Serve(ctx, l, cp.ServingCertFile, cp.ServingKeyFile); err != nil {
			klog.ErrorS(err, "EKS API stopped")
			failed <- err
		}
	}()
	host := o.BindAddress
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "https://" + net.JoinHostPort(host, strconv.Itoa(o.EKSAPIPort)), nil
}
