//go:build integration

package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/fargo-dev/fargo/internal/clusterdns"
	"github.com/fargo-dev/fargo/test/harness"
)

// The cluster DNS answers the region's compute.internal zone as AWS's VPC
// resolver does: a node's ip-a-b-c-d name is its address, anything else there
// does not exist (NXDOMAIN, which lets a search go on, where an unreachable
// upstream's SERVFAIL ends it).
func TestComputeInternalZone(t *testing.T) {
	port := harness.FreePort(t)
	conf := filepath.Join(t.TempDir(), "Corefile")
	zone := strings.Replace(clusterdns.ComputeZone("local-1"), ":53 {", ":"+strconv.Itoa(port)+" {", 1)
	if err := os.WriteFile(conf, []byte(zone), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(harness.Bin(t, "coredns"), "-conf", conf)
	cmd.Stdout, cmd.Stderr = &out, &out
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("coredns:\n%s", out.String())
		}
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	query := func(name string, qtype uint16) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		var r *dns.Msg
		var err error
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if r, err = dns.Exchange(m, "127.0.0.1:"+strconv.Itoa(port)); err == nil {
				return r
			}
		}
		t.Fatalf("querying %s: %v", name, err)
		return nil
	}
	r := query("ip-192-168-1-5.local-1.compute.internal.", dns.TypeA)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.168.1.5" {
		t.Errorf("A of a node's name: %v", r)
	}
	if r := query("ip-192-168-1-5.local-1.compute.internal.", dns.TypeAAAA); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
		t.Errorf("AAAA of a node's name: %v; want no data", r)
	}
	for _, name := range []string{"kubernetes.default.svc.cluster.local.local-1.compute.internal.", "ip-1-2-3.local-1.compute.internal."} {
		if r := query(name, dns.TypeA); r.Rcode != dns.RcodeNameError {
			t.Errorf("A of %s: %s; want NXDOMAIN", name, dns.RcodeToString[r.Rcode])
		}
	}
}
