package eksapi

import (
	"encoding/json"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// CreateNodegroup refuses what EKS refuses, in its words, and makes the
// NodeGroup with EKS's defaults; DeleteNodegroup answers DELETING.
func TestCreateAndDeleteNodegroup(t *testing.T) {
	const base = `"nodeRole":"arn:aws:iam::123456789012:role/n","subnets":["subnet-a"]`
	refused := []struct{ name, body, message string }{
		{"no name", `{` + base + `}`, `nodegroupName "" is invalid`},
		{"no role", `{"nodegroupName":"ng","subnets":["subnet-a"]}`, "nodeRole is required"},
		{"no subnets", `{"nodegroupName":"ng","nodeRole":"r"}`, "subnets is required"},
		{"foreign subnet", `{"nodegroupName":"ng","nodeRole":"r","subnets":["subnet-z"]}`, "subnet subnet-z is not in the cluster's VPC"},
		{"unknown type", `{"nodegroupName":"ng",` + base + `,"instanceTypes":["p4d.24xlarge"]}`, `unknown instance type "p4d.24xlarge"`},
		{"two types", `{"nodegroupName":"ng",` + base + `,"instanceTypes":["t3.large","m5.large"]}`, "one instance type"},
		{"spot", `{"nodegroupName":"ng",` + base + `,"capacityType":"SPOT"}`, "ON_DEMAND"},
		{"desired over max", `{"nodegroupName":"ng",` + base + `,"scalingConfig":{"minSize":1,"maxSize":2,"desiredSize":3}}`, "Desired capacity 3 can't be greater than max size 2"},
		{"bad label", `{"nodegroupName":"ng",` + base + `,"labels":{"a b":"c"}}`, "label a b=c"},
		{"bad effect", `{"nodegroupName":"ng",` + base + `,"taints":[{"key":"k","value":"v","effect":"NoSchedule"}]}`, "NO_SCHEDULE"},
	}
	s, c := testServer(t)
	for _, r := range refused {
		w := signedCall(t, s, "POST", "/clusters/demo/node-groups", r.body)
		var body map[string]string
		_ = json.Unmarshal(w.Body.Bytes(), &body)
		if w.Code != 400 || w.Header().Get("X-Amzn-ErrorType") != "InvalidParameterException" || !strings.Contains(body["message"], r.message) {
			t.Errorf("%s: got %d %s %s; want 400 InvalidParameterException with %q", r.name, w.Code, w.Header().Get("X-Amzn-ErrorType"), w.Body, r.message)
		}
	}

	w := signedCall(t, s, "POST", "/clusters/demo/node-groups", `{"nodegroupName":"ng-web",`+base+`,"labels":{"team":"web"},"taints":[{"key":"dedicated","value":"web","effect":"NO_SCHEDULE"}],"tags":{"owner":"me"},"diskSize":20}`)
	var out struct {
		Nodegroup struct {
			Status        string
			InstanceTypes []string
			NodeRole      string
			ScalingConfig scalingConfig
			Taints        []taint
			Tags          map[string]string
		}
	}
	if err := json.Unmarshal(w.Body.Bytes(), &out); w.Code != 200 || err != nil {
		t.Fatalf("create: %d %s (%v)", w.Code, w.Body, err)
	}
	g, sc := out.Nodegroup, out.Nodegroup.ScalingConfig
	if g.Status != "CREATING" || g.InstanceTypes[0] != "t3.medium" || *sc.MinSize != 1 || *sc.MaxSize != 2 || *sc.DesiredSize != 2 ||
		g.Taints[0].Effect != "NO_SCHEDULE" || g.Tags["owner"] != "me" || g.NodeRole != "arn:aws:iam::123456789012:role/n" {
		t.Errorf("created %s; want CREATING, t3.medium, 1/2/2, the taint, tag and role", w.Body)
	}
	ng := &v1alpha1.NodeGroup{}
	if err := c.Get(t.Context(), client.ObjectKey{Name: "ng-web"}, ng); err != nil || ng.Spec.Taints[0].Effect != "NoSchedule" || ng.Spec.Labels["team"] != "web" {
		t.Fatalf("NodeGroup %+v, %v; want the taint as NoSchedule and the label", ng.Spec, err)
	}
	w = signedCall(t, s, "POST", "/clusters/demo/node-groups", `{"nodegroupName":"ng-web",`+base+`}`)
	if w.Code != 409 || w.Header().Get("X-Amzn-ErrorType") != "ResourceInUseException" || !strings.Contains(w.Body.String(), "NodeGroup already exists with name ng-web and cluster name demo") {
		t.Errorf("second create: %d %s", w.Code, w.Body)
	}
	// UpdateNodegroupConfig with labels and taints, as EKS reports them.
	w = signedCall(t, s, "POST", "/clusters/demo/node-groups/ng-web/update-config", `{"labels":{"addOrUpdateLabels":{"tier":"front"},"removeLabels":["team"]},`+
		`"taints":{"addOrUpdateTaints":[{"key":"spot","value":"yes","effect":"PREFER_NO_SCHEDULE"}],"removeTaints":[{"key":"dedicated","effect":"NO_SCHEDULE"}]}}`)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `{"type":"LabelsToAdd","value":"{\"tier\":\"front\"}"}`) || !strings.Contains(w.Body.String(), `"TaintsToRemove"`) {
		t.Errorf("update labels and taints: %d %s", w.Code, w.Body)
	}
	if err := c.Get(t.Context(), client.ObjectKey{Name: "ng-web"}, ng); err != nil || len(ng.Spec.Labels) != 1 || ng.Spec.Labels["tier"] != "front" ||
		len(ng.Spec.Taints) != 1 || ng.Spec.Taints[0].Key != "spot" || ng.Spec.Taints[0].Effect != "PreferNoSchedule" {
		t.Errorf("after the update: labels %v, taints %v, %v", ng.Spec.Labels, ng.Spec.Taints, err)
	}
	w = signedCall(t, s, "POST", "/clusters/demo/node-groups/ng-web/update-config", `{"labels":{"addOrUpdateLabels":{"bad key":"x"}}}`)
	if w.Code != 400 || !strings.Contains(w.Body.String(), "label bad key=x") {
		t.Errorf("a bad label: %d %s", w.Code, w.Body)
	}
	w = signedCall(t, s, "POST", "/clusters/demo/node-groups/ng-web/update-config", `{}`)
	if w.Code != 400 || !strings.Contains(w.Body.String(), "at least one of scalingConfig, labels and taints") {
		t.Errorf("an empty update: %d %s", w.Code, w.Body)
	}

	w = signedCall(t, s, "DELETE", "/clusters/demo/node-groups/ng-web", "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"status":"DELETING"`) {
		t.Errorf("delete: %d %s; want DELETING", w.Code, w.Body)
	}
	w = signedCall(t, s, "DELETE", "/clusters/demo/node-groups/ng-web", "")
	if w.Code != 404 || !strings.Contains(w.Body.String(), "No node group found for name: ng-web.") {
		t.Errorf("delete again: %d %s; want 404", w.Code, w.Body)
	}
}
