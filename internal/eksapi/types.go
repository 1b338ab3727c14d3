package eksapi

import (
	"encoding/json"
	"time"
)

// epochSeconds encodes a timestamp as rest-json does without a timestampFormat:
// fractional seconds since the epoch.
type epochSeconds time.Time

func (t epochSeconds) MarshalJSON() ([]byte, error) {
	return json.Marshal(float64(time.Time(t).UnixMilli()) / 1000)
}

type selector struct {
	Namespace string            `json:"namespace,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
}

type issue struct {
	Code        string   `json:"code,omitempty"`
	Message     string   `json:"message,omitempty"`
	ResourceIDs []string `json:"resourceIds,omitempty"`
}

type fargateProfile struct {
	FargateProfileName  string            `json:"fargateProfileName"`
	FargateProfileArn   string            `json:"fargateProfileArn,omitempty"`
	ClusterName         string            `json:"clusterName"`
	CreatedAt           *epochSeconds     `json:"createdAt,omitempty"`
	PodExecutionRoleArn string            `json:"podExecutionRoleArn"`
	Subnets             []string          `json:"subnets"`
	Selectors           []selector        `json:"selectors"`
	Status              string            `json:"status"`
	Tags                map[string]string `json:"tags,omitempty"`
	Health              *struct {
		Issues []issue `json:"issues"`
	} `json:"health,omitempty"`
}

type createRequest struct {
	FargateProfileName  string            `json:"fargateProfileName"`
	PodExecutionRoleArn string            `json:"podExecutionRoleArn"`
	Subnets             []string          `json:"subnets"`
	Selectors           []selector        `json:"selectors"`
	ClientRequestToken  string            `json:"clientRequestToken"`
	Tags                map[string]string `json:"tags"`
}

type profileResponse struct {
	FargateProfile fargateProfile `json:"fargateProfile"`
}

type listResponse struct {
	FargateProfileNames []string `json:"fargateProfileNames"`
	NextToken           *string  `json:"nextToken"`
}

type tagRequest struct {
	Tags map[string]string `json:"tags"`
}

type tagsResponse struct {
	Tags map[string]string `json:"tags"`
}

type cluster struct {
	Name                    string            `json:"name"`
	Arn                     string            `json:"arn"`
	CreatedAt               *epochSeconds     `json:"createdAt,omitempty"`
	Version                 string            `json:"version"`
	Endpoint                string            `json:"endpoint"`
	RoleArn                 string            `json:"roleArn"`
	Status                  string            `json:"status"`
	PlatformVersion         string            `json:"platformVersion"`
	CertificateAuthority    map[string]string `json:"certificateAuthority"`
	KubernetesNetworkConfig map[string]string `json:"kubernetesNetworkConfig"`
	ResourcesVpcConfig      vpcConfig         `json:"resourcesVpcConfig"`
	Tags                    map[string]string `json:"tags"`
}

type vpcConfig struct {
	SubnetIDs             []string `json:"subnetIds"`
	VpcID                 string   `json:"vpcId"`
	EndpointPublicAccess  bool     `json:"endpointPublicAccess"`
	EndpointPrivateAccess bool     `json:"endpointPrivateAccess"`
}
