//go:build e2e

package e2e

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fargo-dev/fargo/test/harness"
)

// make demo's script, as a user runs it but on free ports: every step of the
// second seed shows the seed's shape of results (profiles, fargate-ip-… nodes,
// EXTERNAL-IPs, nginx's page, CapacityProvisioned, free -m at the size, the
// bill), within two minutes; then make demo-down leaves nothing running.
func TestDemo(t *testing.T) {
	d := runDemo(t, "demo.sh")
	out := d.out
	// Each step's output, by the command the script printed.
	section := d.section
	fargateNode := regexp.MustCompile(`Running .* fargate-ip-192-168-\d+-\d+\.ap-southeast-1\.compute\.internal`)
	ngNode := regexp.MustCompile(`Running .*\sip-192-168-\d+-\d+\.ap-southeast-1\.compute\.internal`)
	count := func(re *regexp.Regexp, s string) int { return len(re.FindAllString(s, -1)) }

	if s := section("fargo get fargateprofile --cluster eksworkshop"); !strings.Contains(s, "test2-fargate") {
		t.Errorf("fargo get fargateprofile does not list test2-fargate:\n%s", s)
	}
	if s := section("kubectl get pods -n test2-fargate -o wide"); count(fargateNode, s) != 2 {
		t.Errorf("want both test2-fargate pods Running on fargate-ip-… nodes:\n%s", s)
	}
	if s := section("kubectl get pods -n test3-mixed -o wide"); count(fargateNode, s) != 2 || count(ngNode, s) != 2 {
		t.Errorf("want two test3-mixed pods on Fargate and two on the node group:\n%s", s)
	}
	if s := section("kubectl get pods -n test3-mixed -l runon -o wide"); count(fargateNode, s) != 2 || strings.Count(s, "Running") != 2 {
		t.Errorf("want only the two labelled pods, on Fargate:\n%s", s)
	}
	public := func(ip string) bool { // the example's three public subnets
		for _, cidr := range []string{"192.168.0.0/19", "192.168.32.0/19", "192.168.64.0/19"} {
			if _, n, _ := net.ParseCIDR(cidr); n.Contains(net.ParseIP(ip)) {
				return true
			}
		}
		return false
	}
	for _, ns := range []string{"test1-ec2nodegroup", "test3-mixed"} {
		s := section("kubectl get services --namespace " + ns)
		lines := strings.Split(strings.TrimSpace(s), "\n")
		if len(lines) < 2 {
			t.Errorf("no services in %s:\n%s", ns, s)
			continue
		}
		for _, l := range lines[1:] {
			f := strings.Fields(l)
			if len(f) < 4 || f[1] != "LoadBalancer" || !public(f[3]) {
				t.Errorf("%s: want a LoadBalancer with an EXTERNAL-IP in the public subnets: %q", ns, l)
			}
		}
	}
	if n := strings.Count(out, "<title>Welcome to nginx!</title>"); n != 4 {
		t.Errorf("nginx's page from %d of the 4 load balancers", n)
	}
	if !strings.Contains(out, "CapacityProvisioned: 1vCPU 2GB") {
		t.Error("kubectl describe pod does not show CapacityProvisioned: 1vCPU 2GB")
	}
	if m := regexp.MustCompile(`(?m)^Mem:\s+(\d+)`).FindStringSubmatch(out); m == nil || m[1] != "2048" {
		t.Errorf("free -m in the 1vCPU 2GB pod: want 2048 MiB total, got %v", m)
	}
	if m := regexp.MustCompile(`-- nproc\n(\d+)\n`).FindStringSubmatch(out); m == nil || m[1] != "1" {
		t.Errorf("nproc in the 1vCPU 2GB pod: want 1, got %v", m)
	}
	usage := section("fargo usage --by pod")
	if !strings.Contains(usage, "nginx-fargate-pod-") || !strings.Contains(usage, "nginx-mixed-fargate-") || !strings.Contains(usage, "TOTAL") {
		t.Errorf("fargo usage does not bill the Fargate pods:\n%s", usage)
	}
	d.checkDone()
	d.checkDown()
}

// The first seed's walkthrough (make demo-seed1): CoreDNS on Fargate nodes,
// a node group added afterwards running nginx, and the seed's curl pod on a
// fargate-ip-… node, provisioned 1vCPU 2GB, reaching nginx by Service name.
func TestDemoSeed1(t *testing.T) {
	d := runDemo(t, "demo-seed1.sh")
	fargateNode := regexp.MustCompile(`Running .* fargate-ip-192-168-\d+-\d+\.local-1\.compute\.internal`)
	if s := d.section("fargo get fargateprofile --cluster fargo"); strings.Count(s, "fp-default") != 2 {
		t.Errorf("fp-default does not select default and kube-system:\n%s", s)
	}
	if s := d.section("kubectl get pods -n kube-system -o wide"); len(fargateNode.FindAllString(s, -1)) != 2 {
		t.Errorf("want both CoreDNS pods Running on fargate-ip-… nodes:\n%s", s)
	}
	if s := d.section("kubectl get nodes"); strings.Count(s, " Ready ") != 4 {
		t.Errorf("want 2 Fargate and 2 node-group nodes Ready:\n%s", s)
	}
	if s := d.section("kubectl get pods,services -n demo -o wide"); !regexp.MustCompile(`Running .*\sip-192-168-\d+-\d+\.local-1`).MatchString(s) {
		t.Errorf("nginx is not Running on a node-group node:\n%s", s)
	}
	run := d.section("kubectl run curl --image=radial/busyboxplus:curl -i --tty   (image " + d.registry + "/fargo/curl:1, the seed's resources)")
	if !regexp.MustCompile(`Name:\s+nginx\.demo\.svc\.cluster\.local\s+Address: 10\.100\.`).MatchString(run) {
		t.Errorf("nslookup in the curl pod did not find nginx's Service:\n%s", run)
	}
	if !strings.Contains(run, "<title>Welcome to nginx!</title>") {
		t.Errorf("curl nginx.demo in the curl pod did not get nginx's page:\n%s", run)
	}
	if s := d.section("kubectl get pod curl -o wide"); !regexp.MustCompile(`fargate-ip-192-168-\d+-\d+\.local-1\.compute\.internal`).MatchString(s) {
		t.Errorf("the curl pod is not on a Fargate node:\n%s", s)
	}
	if !strings.Contains(d.out, "CapacityProvisioned: 1vCPU 2GB") {
		t.Error("the seed's pod spec (limits 1/128Mi) is not provisioned 1vCPU 2GB")
	}
	d.checkDone()
	d.checkDown()
}

// demo is one run of a demo script on free ports.
type demo struct {
	t        *testing.T
	out      string
	dataDir  string
	registry string
	down     func() (string, error)
}

// runDemo runs hack/<script> as make would, but on free ports and in a data
// dir of the test's, and fails the test if it fails.
func runDemo(t *testing.T, script string) *demo {
	harness.RequireRoot(t)
	harness.Bin(t, "images-tool")
	dataDir, _ := harness.ClusterDir(t, "fargo-demo-", "")
	d := &demo{t: t, dataDir: dataDir, registry: "127.0.0.1:" + strconv.Itoa(harness.FreePort(t))}
	env := append(os.Environ(), "DEMO_DATA_DIR="+dataDir, "DEMO_REGISTRY="+d.registry, "DEMO_SERVER_ARGS="+strings.Join(harness.PortArgs(t), " "))
	path := filepath.Join(harness.Root(), "hack", script)
	d.down = func() (string, error) {
		cmd := exec.Command(path, "down")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() { _, _ = d.down() })
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path)
	cmd.Env = env
	data, err := cmd.CombinedOutput()
	d.out = string(data)
	t.Logf("%s output:\n%s", script, d.out)
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dataDir, "demo", "server.log"))
		t.Fatalf("hack/%s: %v\nserver output:\n%s", script, err, harness.Tail(string(log), 30))
	}
	return d
}

// section is the output of the step that ran command, as the script printed it.
func (d *demo) section(command string) string {
	d.t.Helper()
	_, after, ok := strings.Cut(d.out, "\n$ "+command+"\n")
	if !ok {
		d.t.Errorf("the demo did not run %q", command)
		return ""
	}
	next, _, _ := strings.Cut(after, "\n$ ")
	return next
}

// checkDone finds the demo's closing line, within two minutes.
func (d *demo) checkDone() {
	d.t.Helper()
	m := regexp.MustCompile(`demo: done in (\d+)s`).FindStringSubmatch(d.out)
	if m == nil {
		d.t.Fatal("the demo did not say it was done")
	}
	if secs, _ := strconv.Atoi(m[1]); secs > 120 {
		d.t.Errorf("the walkthrough took %d s, want under two minutes", secs)
	}
}

// checkDown runs make demo-down's script: server and registry stopped, no
// sandbox left.
func (d *demo) checkDown() {
	d.t.Helper()
	pid, _ := os.ReadFile(filepath.Join(d.dataDir, "demo", "server.pid"))
	if out, err := d.down(); err != nil {
		d.t.Fatalf("demo down: %v\n%s", err, out)
	}
	if n, err := strconv.Atoi(strings.TrimSpace(string(pid))); err == nil && exec.Command("kill", "-0", strconv.Itoa(n)).Run() == nil {
		d.t.Errorf("the demo's server (pid %d) still runs after demo-down", n)
	}
	if c, err := net.DialTimeout("tcp", d.registry, time.Second); err == nil {
		c.Close()
		d.t.Error("the demo's registry still answers after demo-down")
	}
	if left := harness.SandboxProcs(); len(left) > 0 {
		d.t.Errorf("sandbox processes left after demo-down: %v", left)
	}
}
