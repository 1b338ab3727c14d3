//go:build integration

package integration

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/fargo-dev/fargo/test/harness"
)

// nodeGroupConfig has a managed node group; this tier runs no nodes (--runtime
// none), so the group is DEGRADED, saying why, and its API still answers.
const nodeGroupConfig = `apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata: {name: groups, region: us-west-2}
vpc:
  subnets:
    private:
      us-west-2a: {id: subnet-private-a, cidr: 10.0.0.0/20}
managedNodeGroups:
  - name: ng-1
    instanceType: m5.large
    labels: {team: web}
    taints: [{key: dedicated, value: web, effect: NoSchedule}]
`

func TestNodeGroupsOverTheEKSAPI(t *testing.T) {
	cfg := t.TempDir() + "/groups.yaml"
	writeFile(t, cfg, nodeGroupConfig)
	s := harness.StartServer(t, "--config", cfg)
	if !strings.Contains(s.Output(), "note: node groups not started: --runtime none") {
		t.Errorf("the server does not say why no node runs:\n%s", s.Output())
	}
	id, secret := serverKeys(t, s)
	c := eksClient(t, s, "us-west-2", id, secret)
	ctx := context.Background()
	cluster := aws.String("groups")

	list, err := c.ListNodegroups(ctx, &eks.ListNodegroupsInput{ClusterName: cluster})
	if err != nil || len(list.Nodegroups) != 1 || list.Nodegroups[0] != "ng-1" {
		t.Fatalf("ListNodegroups: %v, %v", list, err)
	}
	d, err := c.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: cluster, NodegroupName: aws.String("ng-1")})
	if err != nil {
		t.Fatalf("DescribeNodegroup: %v", err)
	}
	ng := d.Nodegroup
	if ng.Status != types.NodegroupStatusDegraded || aws.ToInt32(ng.ScalingConfig.DesiredSize) != 2 || ng.InstanceTypes[0] != "m5.large" ||
		ng.Labels["team"] != "web" || ng.Taints[0].Effect != types.TaintEffectNoSchedule || ng.Subnets[0] != "subnet-private-a" ||
		!strings.HasPrefix(aws.ToString(ng.NodegroupArn), "arn:aws:eks:us-west-2:000000000000:nodegroup/groups/ng-1/") {
		t.Errorf("DescribeNodegroup = %+v", ng)
	}
	if ng.Health == nil || len(ng.Health.Issues) != 1 || !strings.Contains(aws.ToString(ng.Health.Issues[0].Message), "--runtime none") {
		t.Errorf("health %+v; want an issue saying why no node runs", ng.Health)
	}

	_, err = c.UpdateNodegroupConfig(ctx, &eks.UpdateNodegroupConfigInput{ClusterName: cluster, NodegroupName: aws.String("ng-1"),
		ScalingConfig: &types.NodegroupScalingConfig{DesiredSize: aws.Int32(3)}})
	var inv *types.InvalidParameterException
	if !errors.As(err, &inv) || !strings.Contains(aws.ToString(inv.Message), "can't be greater than max size 2") {
		t.Errorf("desired 3 over max 2: %v; want InvalidParameterException", err)
	}
	up, err := c.UpdateNodegroupConfig(ctx, &eks.UpdateNodegroupConfigInput{ClusterName: cluster, NodegroupName: aws.String("ng-1"),
		ScalingConfig: &types.NodegroupScalingConfig{DesiredSize: aws.Int32(3), MaxSize: aws.Int32(4)}})
	if err != nil || up.Update.Status != types.UpdateStatusInProgress || up.Update.Type != types.UpdateTypeConfigUpdate || len(up.Update.Params) != 2 {
		t.Fatalf("UpdateNodegroupConfig: %+v, %v", up, err)
	}
	if got := s.Kubectl("get", "nodegroup", "ng-1", "-o", "jsonpath={.spec.scalingConfig}"); got != `{"desiredSize":3,"maxSize":4,"minSize":2}` {
		t.Errorf("scaling in the object = %s", got)
	}

	_, err = c.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: cluster, NodegroupName: aws.String("nope")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) || !strings.Contains(aws.ToString(nf.Message), "No node group found for name: nope") {
		t.Errorf("an unknown group: %v; want ResourceNotFoundException", err)
	}

	// The AWS CLIs (botocore signing) on the same operations.
	for _, bin := range awsCLIs(t) {
		out, err := awsCLI(t, bin, s, "eks", "update-nodegroup-config", "--cluster-name", "groups", "--nodegroup-name", "ng-1",
			"--scaling-config", "minSize=1,maxSize=4,desiredSize=2")
		if err != nil || !strings.Contains(out, `"InProgress"`) {
			t.Errorf("%s eks update-nodegroup-config: %v\n%s", bin, err, out)
		}
		out, err = awsCLI(t, bin, s, "eks", "describe-nodegroup", "--cluster-name", "groups", "--nodegroup-name", "ng-1")
		if err != nil || !strings.Contains(out, `"desiredSize": 2`) || !strings.Contains(out, `"minSize": 1`) {
			t.Errorf("%s eks describe-nodegroup: %v\n%s", bin, err, out)
		}
		if out, err := awsCLI(t, bin, s, "eks", "list-nodegroups", "--cluster-name", "groups"); err != nil || !strings.Contains(out, `"ng-1"`) {
			t.Errorf("%s eks list-nodegroups: %v\n%s", bin, err, out)
		}
	}
}
