package eksapi

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
)

func (s *Server) describeCluster(context.Context, *http.Request) (any, *apiError) {
	d := s.desc
	created := epochSeconds(d.CreatedAt)
	return map[string]cluster{"cluster": {
		Name:                    s.cluster.Name,
		Arn:                     fmt.Sprintf("arn:aws:eks:%s:%s:cluster/%s", s.cluster.Region, s.cluster.AccountID, s.cluster.Name),
		CreatedAt:               &created,
		Version:                 d.Version,
		Endpoint:                d.Endpoint,
		RoleArn:                 fmt.Sprintf("arn:aws:iam::%s:role/eksctl-%s-cluster-ServiceRole", s.cluster.AccountID, s.cluster.Name),
		Status:                  "ACTIVE",
		PlatformVersion:         "eks.1",
		CertificateAuthority:    map[string]string{"data": base64.StdEncoding.EncodeToString(d.CABundle)},
		KubernetesNetworkConfig: map[string]string{"serviceIpv4Cidr": d.ServiceCIDR, "ipFamily": "ipv4"},
		ResourcesVpcConfig:      vpcConfig{SubnetIDs: d.SubnetIDs, VpcID: d.VPCID, EndpointPublicAccess: true, EndpointPrivateAccess: true},
		Tags:                    map[string]string{},
	}}, nil
}
