//go:build integration

package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/fargo-dev/fargo/test/harness"
)

// eksClient is the official AWS SDK client, pointed at the server's EKS API.
func eksClient(t *testing.T, s *harness.Server, region, accessKey, secret string) *eks.Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(readFile(t, filepath.Join(s.DataDir, "pki", "ca.crt")))
	httpClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	cfg := aws.Config{Region: region, HTTPClient: httpClient,
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, secret, "")}
	return eks.NewFromConfig(cfg, func(o *eks.Options) {
		o.BaseEndpoint = aws.String("https://127.0.0.1:" + strconv.Itoa(s.EKSAPIPort))
	})
}

// serverKeys reads the access key fargo generated into DATA/aws-credentials.
func serverKeys(t *testing.T, s *harness.Server) (string, string) {
	t.Helper()
	var id, secret string
	for _, line := range strings.Split(string(readFile(t, filepath.Join(s.DataDir, "aws-credentials"))), "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch strings.TrimSpace(k) {
		case "aws_access_key_id":
			id = strings.TrimSpace(v)
		case "aws_secret_access_key":
			secret = strings.TrimSpace(v)
		}
	}
	if id == "" || secret == "" {
		t.Fatal("no access key in DATA/aws-credentials")
	}
	return id, secret
}

func TestEKSAPIWithAWSSDK(t *testing.T) {
	s := harness.StartServer(t, "--config", writeLimitsConfig(t))
	id, secret := serverKeys(t, s)
	c := eksClient(t, s, "us-west-2", id, secret)
	ctx := context.Background()
	cluster := aws.String("limits")
	role := aws.String("arn:aws:iam::123456789012:role/AmazonEKSFargatePodExecutionRole")

	created, err := c.CreateFargateProfile(ctx, &eks.CreateFargateProfileInput{
		ClusterName: cluster, FargateProfileName: aws.String("sdk-a"), PodExecutionRoleArn: role,
		Selectors: []types.FargateProfileSelector{{Namespace: aws.String("sdk"), Labels: map[string]string{"app": "web*"}}},
		Tags:      map[string]string{"team": "a"},
	})
	if err != nil {
		t.Fatalf("CreateFargateProfile: %v", err)
	}
	arn := aws.ToString(created.FargateProfile.FargateProfileArn)
	if !strings.HasPrefix(arn, "arn:aws:eks:us-west-2:000000000000:fargateprofile/limits/sdk-a/") {
		t.Errorf("ARN = %s", arn)
	}
	if st := created.FargateProfile.Status; st != types.FargateProfileStatusCreating && st != types.FargateProfileStatusActive {
		t.Errorf("status after create = %s", st)
	}
	waiter := eks.NewFargateProfileActiveWaiter(c, func(o *eks.FargateProfileActiveWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second
	})
	if err := waiter.Wait(ctx, &eks.DescribeFargateProfileInput{ClusterName: cluster, FargateProfileName: aws.String("sdk-a")}, time.Minute); err != nil {
		t.Fatalf("FargateProfileActive waiter: %v", err)
	}
	d, err := c.DescribeFargateProfile(ctx, &eks.DescribeFargateProfileInput{ClusterName: cluster, FargateProfileName: aws.String("sdk-a")})
	if err != nil {
		t.Fatal(err)
	}
	fp := d.FargateProfile
	if fp.Status != types.FargateProfileStatusActive || aws.ToString(fp.FargateProfileArn) != arn || fp.CreatedAt == nil || time.Since(*fp.CreatedAt) > time.Hour ||
		strings.Join(fp.Subnets, ",") != "subnet-private-a,subnet-private-b" || fp.Selectors[0].Labels["app"] != "web*" || fp.Tags["team"] != "a" {
		t.Errorf("described profile = %+v", fp)
	}

	// Idempotency: the same clientRequestToken returns the same profile.
	for i := 0; i < 2; i++ {
		out, err := c.CreateFargateProfile(ctx, &eks.CreateFargateProfileInput{
			ClusterName: cluster, FargateProfileName: aws.String("sdk-b"), PodExecutionRoleArn: role, ClientRequestToken: aws.String("token-1"),
			Selectors: []types.FargateProfileSelector{{Namespace: aws.String("b")}},
		})
		if err != nil {
			t.Fatalf("create sdk-b attempt %d: %v", i, err)
		}
		if !strings.Contains(aws.ToString(out.FargateProfile.FargateProfileArn), "/sdk-b/") {
			t.Errorf("attempt %d: ARN %s", i, aws.ToString(out.FargateProfile.FargateProfileArn))
		}
		waitProfile(t, s, "sdk-b", "ACTIVE")
	}

	// Created through kubectl: seen through the API.
	createJSON(t, s, profileJSON("from-kubectl", `{"selectors":[{"namespace":"k"}]}`))
	waitProfile(t, s, "from-kubectl", "ACTIVE")
	var names []string
	pages := eks.NewListFargateProfilesPaginator(c, &eks.ListFargateProfilesInput{ClusterName: cluster, MaxResults: aws.Int32(1)})
	for n := 0; pages.HasMorePages(); n++ {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListFargateProfiles: %v", err)
		}
		if len(page.FargateProfileNames) > 1 {
			t.Errorf("page of maxResults 1 has %d names", len(page.FargateProfileNames))
		}
		names = append(names, page.FargateProfileNames...)
		if n > 10 {
			t.Fatal("pagination does not end")
		}
	}
	if strings.Join(names, ",") != "from-kubectl,sdk-a,sdk-b" {
		t.Errorf("listed %v", names)
	}
	if _, err := c.ListFargateProfiles(ctx, &eks.ListFargateProfilesInput{ClusterName: cluster, MaxResults: aws.Int32(101)}); !isAPIError[*types.InvalidParameterException](err) {
		t.Errorf("maxResults 101: %v", err)
	}
	// And the CLI sees what the SDK created.
	if out, err := fargoCLI(t, s, "get", "fargateprofile", "--cluster", "limits", "--name", "sdk-a"); err != nil || !strings.Contains(out, "app=web*") {
		t.Errorf("fargo get: %v\n%s", err, out)
	}

	// Tags.
	if _, err := c.TagResource(ctx, &eks.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"env": "dev"}}); err != nil {
		t.Fatalf("TagResource: %v", err)
	}
	if _, err := c.UntagResource(ctx, &eks.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"team"}}); err != nil {
		t.Fatalf("UntagResource: %v", err)
	}
	tags, err := c.ListTagsForResource(ctx, &eks.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	if err != nil || len(tags.Tags) != 1 || tags.Tags["env"] != "dev" {
		t.Errorf("ListTagsForResource = %v (err %v)", tags, err)
	}
	if got := s.Kubectl("get", "fp", "sdk-a", "-o", "jsonpath={.spec.tags}"); got != `{"env":"dev"}` {
		t.Errorf("tags in the object = %s", got)
	}

	// Errors, typed as the SDK models them.
	_, err = c.CreateFargateProfile(ctx, &eks.CreateFargateProfileInput{ClusterName: cluster, FargateProfileName: aws.String("pub"), PodExecutionRoleArn: role,
		Subnets: []string{"subnet-public-a"}, Selectors: []types.FargateProfileSelector{{Namespace: aws.String("x")}}})
	if !isAPIError[*types.InvalidParameterException](err) || !strings.Contains(err.Error(), "Subnet subnet-public-a provided in Fargate Profile is not a private subnet") {
		t.Errorf("public subnet: %v", err)
	}
	_, err = c.CreateFargateProfile(ctx, &eks.CreateFargateProfileInput{ClusterName: cluster, FargateProfileName: aws.String("sdk-a"), PodExecutionRoleArn: role,
		Selectors: []types.FargateProfileSelector{{Namespace: aws.String("x")}}})
	if !isAPIError[*types.ResourceInUseException](err) {
		t.Errorf("duplicate name: %v", err)
	}
	_, err = c.DescribeFargateProfile(ctx, &eks.DescribeFargateProfileInput{ClusterName: cluster, FargateProfileName: aws.String("nope")})
	if !isAPIError[*types.ResourceNotFoundException](err) {
		t.Errorf("missing profile: %v", err)
	}
	_, err = c.DescribeFargateProfile(ctx, &eks.DescribeFargateProfileInput{ClusterName: aws.String("other"), FargateProfileName: aws.String("sdk-a")})
	if !isAPIError[*types.ResourceNotFoundException](err) || !strings.Contains(err.Error(), "No cluster found for name: other") {
		t.Errorf("other cluster: %v", err)
	}

	cl, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: cluster})
	if err != nil || aws.ToString(cl.Cluster.Name) != "limits" || cl.Cluster.Status != types.ClusterStatusActive ||
		!strings.HasPrefix(aws.ToString(cl.Cluster.Endpoint), "https://127.0.0.1:") || aws.ToString(cl.Cluster.CertificateAuthority.Data) == "" {
		t.Errorf("DescribeCluster = %+v (err %v)", cl, err)
	}

	// Delete, through DELETING, with the waiter.
	del, err := c.DeleteFargateProfile(ctx, &eks.DeleteFargateProfileInput{ClusterName: cluster, FargateProfileName: aws.String("sdk-b")})
	if err != nil || del.FargateProfile.Status != types.FargateProfileStatusDeleting {
		t.Fatalf("DeleteFargateProfile: %+v %v", del, err)
	}
	gone := eks.NewFargateProfileDeletedWaiter(c, func(o *eks.FargateProfileDeletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second
	})
	if err := gone.Wait(ctx, &eks.DescribeFargateProfileInput{ClusterName: cluster, FargateProfileName: aws.String("sdk-b")}, time.Minute); err != nil {
		t.Fatalf("FargateProfileDeleted waiter: %v", err)
	}

	// 409: while sdk-a is DELETING (a pod of it is still stopping), creates are refused.
	s.Kubectl("create", "namespace", "held")
	waitFor(t, "the default service account of held", func() bool { _, err := s.TryKubectl("get", "sa", "default", "-n", "held"); return err == nil })
	createJSON(t, s, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"held","namespace":"held","finalizers":["test.fargo.dev/hold"],"labels":{"eks.amazonaws.com/fargate-profile":"sdk-a"}},"spec":{"containers":[{"name":"c","image":"x"}]}}`)
	if _, err := c.DeleteFargateProfile(ctx, &eks.DeleteFargateProfileInput{ClusterName: cluster, FargateProfileName: aws.String("sdk-a")}); err != nil {
		t.Fatal(err)
	}
	waitProfile(t, s, "sdk-a", "DELETING")
	_, err = c.CreateFargateProfile(ctx, &eks.CreateFargateProfileInput{ClusterName: cluster, FargateProfileName: aws.String("blocked"), PodExecutionRoleArn: role,
		Selectors: []types.FargateProfileSelector{{Namespace: aws.String("x")}}})
	var httpErr *awshttp.ResponseError
	if !isAPIError[*types.ResourceInUseException](err) || !errors.As(err, &httpErr) || httpErr.HTTPStatusCode() != http.StatusConflict ||
		!strings.Contains(err.Error(), "Cannot create Fargate Profile blocked because cluster limits currently has Fargate profile sdk-a in status DELETING") {
		t.Errorf("create during DELETING: %v", err)
	}
	s.Kubectl("patch", "pod", "-n", "held", "held", "--type=json", "-p", `[{"op":"remove","path":"/metadata/finalizers"}]`)
	if err := gone.Wait(ctx, &eks.DescribeFargateProfileInput{ClusterName: cluster, FargateProfileName: aws.String("sdk-a")}, time.Minute); err != nil {
		t.Fatalf("sdk-a not deleted once its pod was gone: %v", err)
	}
}

func TestEKSAPIRefusesUnsignedAndWronglySigned(t *testing.T) {
	s := harness.StartServer(t)
	id, secret := serverKeys(t, s)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(readFile(t, filepath.Join(s.DataDir, "pki", "ca.crt")))
	plain := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	body := `{"fargateProfileName":"unsigned","podExecutionRoleArn":"arn:aws:iam::123456789012:role/r","selectors":[{"namespace":"x"}]}`
	resp, err := plain.Post("https://127.0.0.1:"+strconv.Itoa(s.EKSAPIPort)+"/clusters/fargo/fargate-profiles", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != "MissingAuthenticationTokenException" {
		t.Errorf("unsigned request: %s, error type %q", resp.Status, resp.Header.Get("X-Amzn-ErrorType"))
	}
	ctx := context.Background()
	create := &eks.CreateFargateProfileInput{ClusterName: aws.String("fargo"), FargateProfileName: aws.String("badsig"),
		PodExecutionRoleArn: aws.String("arn:aws:iam::123456789012:role/r"), Selectors: []types.FargateProfileSelector{{Namespace: aws.String("x")}}}
	_, err = eksClient(t, s, "local-1", id, secret+"x").CreateFargateProfile(ctx, create)
	if err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") {
		t.Errorf("wrong secret: %v", err)
	}
	_, err = eksClient(t, s, "local-1", "AKIAUNKNOWN000000000", secret).CreateFargateProfile(ctx, create)
	if err == nil || !strings.Contains(err.Error(), "UnrecognizedClientException") {
		t.Errorf("unknown key: %v", err)
	}
	_, err = eksClient(t, s, "eu-west-1", id, secret).CreateFargateProfile(ctx, create)
	if err == nil || !strings.Contains(err.Error(), "Credential should be scoped to a valid region") {
		t.Errorf("wrong region: %v", err)
	}
	if out := s.Kubectl("get", "fp", "-o", "name"); strings.TrimSpace(out) != "" {
		t.Errorf("a refused request created something: %s", out)
	}
	// The generated key is kept in DATA/aws-credentials.
	if _, err := os.Stat(filepath.Join(s.DataDir, "aws-credentials")); err != nil {
		t.Fatal(err)
	}
}

func isAPIError[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}
