//go:build integration

package integration

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/fargo-dev/fargo/internal/clusterconfig"
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
	var nf *types.ResourceNotFoundException

	list, err := c.ListNodegroups(ctx, &eks.ListNodegroupsInput{ClusterName: cluster})
	if err != nil || len(list.Nodegroups) != 1 || list.Nodegroups[0] != "ng-1" {
		t.Fatalf("ListNodegroups: %v, %v", list, err)
	}
	var ng *types.Nodegroup
	harness.Eventually(t, 30*time.Second, "ng-1 DEGRADED", func() bool {
		d, err := c.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: cluster, NodegroupName: aws.String("ng-1")})
		if err != nil {
			t.Fatalf("DescribeNodegroup: %v", err)
		}
		ng = d.Nodegroup
		return ng.Status == types.NodegroupStatusDegraded
	})
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

	_, err = c.UpdateNodegroupConfig(ctx, &eks.UpdateNodegroupConfigInput{ClusterName: cluster, NodegroupName: aws.String("ng-1"),
		Labels: &types.UpdateLabelsPayload{AddOrUpdateLabels: map[string]string{"tier": "front"}, RemoveLabels: []string{"team"}},
		Taints: &types.UpdateTaintsPayload{RemoveTaints: []types.Taint{{Key: aws.String("dedicated"), Effect: types.TaintEffectNoSchedule}}}})
	if err != nil {
		t.Errorf("UpdateNodegroupConfig of labels and taints: %v", err)
	}
	if got := s.Kubectl("get", "nodegroup", "ng-1", "-o", "jsonpath={.spec.labels} {.spec.taints}"); got != `{"tier":"front"} ` {
		t.Errorf("labels and taints in the object = %s", got)
	}
	_, err = c.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: cluster, NodegroupName: aws.String("nope")})
	if !errors.As(err, &nf) || !strings.Contains(aws.ToString(nf.Message), "No node group found for name: nope") {
		t.Errorf("an unknown group: %v; want ResourceNotFoundException", err)
	}

	// CreateNodegroup with EKS's defaults, then DeleteNodegroup: DELETING, gone.
	cr, err := c.CreateNodegroup(ctx, &eks.CreateNodegroupInput{ClusterName: cluster, NodegroupName: aws.String("ng-sdk"),
		NodeRole: aws.String("arn:aws:iam::000000000000:role/nodes"), Subnets: []string{"subnet-private-a"},
		Taints: []types.Taint{{Key: aws.String("gpu"), Value: aws.String("no"), Effect: types.TaintEffectNoExecute}}})
	if err != nil || cr.Nodegroup.Status != types.NodegroupStatusCreating || cr.Nodegroup.InstanceTypes[0] != "t3.medium" ||
		aws.ToInt32(cr.Nodegroup.ScalingConfig.MinSize) != 1 || aws.ToInt32(cr.Nodegroup.ScalingConfig.MaxSize) != 2 {
		t.Fatalf("CreateNodegroup: %+v, %v", cr, err)
	}
	if got := s.Kubectl("get", "nodegroup", "ng-sdk", "-o", "jsonpath={.spec.taints[0].effect} {.spec.nodeRole}"); got != "NoExecute arn:aws:iam::000000000000:role/nodes" {
		t.Errorf("taint and role in the object = %q", got)
	}
	_, err = c.CreateNodegroup(ctx, &eks.CreateNodegroupInput{ClusterName: cluster, NodegroupName: aws.String("ng-sdk"),
		NodeRole: aws.String("r"), Subnets: []string{"subnet-private-a"}})
	var inUse *types.ResourceInUseException
	if !errors.As(err, &inUse) {
		t.Errorf("a second ng-sdk: %v; want ResourceInUseException", err)
	}
	_, err = c.CreateNodegroup(ctx, &eks.CreateNodegroupInput{ClusterName: cluster, NodegroupName: aws.String("ng-x"),
		NodeRole: aws.String("r"), Subnets: []string{"subnet-nope"}})
	if !errors.As(err, &inv) || !strings.Contains(aws.ToString(inv.Message), "subnet subnet-nope is not in the cluster's VPC (subnet-private-a)") {
		t.Errorf("a foreign subnet: %v; want InvalidParameterException naming the VPC's subnets", err)
	}
	del, err := c.DeleteNodegroup(ctx, &eks.DeleteNodegroupInput{ClusterName: cluster, NodegroupName: aws.String("ng-sdk")})
	if err != nil || del.Nodegroup.Status != types.NodegroupStatusDeleting {
		t.Fatalf("DeleteNodegroup: %+v, %v", del, err)
	}
	harness.Eventually(t, 30*time.Second, "ng-sdk gone", func() bool {
		_, err := c.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: cluster, NodegroupName: aws.String("ng-sdk")})
		return errors.As(err, &nf)
	})

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
		out, err = awsCLI(t, bin, s, "eks", "create-nodegroup", "--cluster-name", "groups", "--nodegroup-name", "ng-cli",
			"--node-role", "arn:aws:iam::000000000000:role/nodes", "--subnets", "subnet-private-a", "--instance-types", "c5.large",
			"--scaling-config", "minSize=0,maxSize=3,desiredSize=1", "--labels", "team=cli")
		if err != nil || !strings.Contains(out, `"CREATING"`) || !strings.Contains(out, `"c5.large"`) {
			t.Errorf("%s eks create-nodegroup: %v\n%s", bin, err, out)
		}
		out, err = awsCLI(t, bin, s, "eks", "delete-nodegroup", "--cluster-name", "groups", "--nodegroup-name", "ng-cli")
		if err != nil || !strings.Contains(out, `"DELETING"`) {
			t.Errorf("%s eks delete-nodegroup: %v\n%s", bin, err, out)
		}
		harness.Eventually(t, 30*time.Second, "ng-cli gone", func() bool {
			_, err := c.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: cluster, NodegroupName: aws.String("ng-cli")})
			return errors.As(err, &nf)
		})
	}
}

// Without --config the cluster has eksctl create cluster's node group (two
// m5.large nodes; DEGRADED here, where no node runs), and fargo create|delete
// nodegroup manage others with eksctl's flags.
func TestDefaultNodeGroupAndCLI(t *testing.T) {
	var args []string
	for _, a := range harness.ServerArgs(t, t.TempDir()) {
		if a != "--without-nodegroup" {
			args = append(args, a)
		}
	}
	s := harness.StartServerWith(t, args)
	want := clusterconfig.DefaultNodeGroupName("fargo")
	harness.Eventually(t, 30*time.Second, "the default group DEGRADED", func() bool {
		out, _ := s.TryKubectl("get", "nodegroup", want, "-o", "jsonpath={.spec.instanceType} {.spec.scalingConfig.desiredSize} {.status.status}")
		return out == "m5.large 2 DEGRADED"
	})

	out, err := fargoCLI(t, s, "create", "nodegroup", "--cluster", "fargo", "--name", "web", "--node-type", "c5.xlarge", "--nodes", "1", "--nodes-max", "3",
		"--node-labels", "team=web", "--node-private-networking", "--wait=false")
	if err != nil || !strings.Contains(out, `creating managed nodegroup "web" in cluster "fargo": 1 × c5.xlarge (min 1, max 3)`) {
		t.Fatalf("fargo create nodegroup: %v\n%s", err, out)
	}
	// The reconciler records the private subnets it chose.
	harness.Eventually(t, 30*time.Second, "web's subnets recorded", func() bool {
		out, _ := s.TryKubectl("get", "nodegroup", "web", "-o", "jsonpath={.spec.subnets} {.spec.labels.team} {.status.status}")
		return strings.Contains(out, "subnet-") && strings.HasSuffix(out, " web DEGRADED")
	})
	if out, err := fargoCLI(t, s, "create", "nodegroup", "--cluster", "fargo", "--name", "web"); err == nil || !strings.Contains(out, "already exists") {
		t.Errorf("a second web: %v\n%s", err, out)
	}
	if out, err := fargoCLI(t, s, "create", "nodegroup", "--cluster", "fargo", "--name", "gpu", "--node-type", "p4d.24xlarge"); err == nil || !strings.Contains(out, `--node-type: unknown instance type "p4d.24xlarge"; fargo knows c5.2xlarge`) {
		t.Errorf("an unknown type: %v\n%s", err, out)
	}
	if out, err := fargoCLI(t, s, "create", "nodegroup", "--cluster", "fargo", "--name", "big", "--timeout", "20s"); err == nil || !strings.Contains(out, "node group big is DEGRADED: no nodes: --runtime none") {
		t.Errorf("create --wait where no node runs: %v\n%s; want the DEGRADED reason", err, out)
	}
	if out, err := fargoCLI(t, s, "get", "nodegroup", "--cluster", "fargo"); err != nil || !strings.Contains(out, want) || !strings.Contains(out, "c5.xlarge") {
		t.Errorf("fargo get nodegroup: %v\n%s", err, out)
	}
	out, err = fargoCLI(t, s, "delete", "nodegroup", "--cluster", "fargo", "web", "--wait")
	if err != nil || !strings.Contains(out, `deleted 1 nodegroup(s) from cluster "fargo"`) {
		t.Fatalf("fargo delete nodegroup: %v\n%s", err, out)
	}
	if out, err := s.TryKubectl("get", "nodegroup", "web"); err == nil {
		t.Errorf("web still there after delete --wait:\n%s", out)
	}
	if out, err := fargoCLI(t, s, "delete", "nodegroup", "--cluster", "fargo", "web"); err == nil || !strings.Contains(out, "No node group found for name: web") {
		t.Errorf("deleting web again: %v\n%s", err, out)
	}
}
