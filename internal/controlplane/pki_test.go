package controlplane

import (
	"net"
	"os"
	"testing"
)

func testConfig(t *testing.T) *Config {
	_, svc, _ := net.ParseCIDR("10.100.0.0/16")
	return &Config{DataDir: t.TempDir(), BindAddress: net.ParseIP("127.0.0.1"), ServiceCIDR: svc, APIPort: 6443}
}

func TestCertsAreReusedAndReissuedWhenAddressesChange(t *testing.T) {
	c := testConfig(t)
	first, err := ensureCerts(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.APIServer.Cert.CheckSignatureFrom(first.CA.Cert); err != nil {
		t.Fatalf("apiserver cert not signed by the CA: %v", err)
	}
	if !containsIP(first.APIServer.Cert.IPAddresses, "10.100.0.1") || !containsIP(first.APIServer.Cert.IPAddresses, "127.0.0.1") {
		t.Errorf("apiserver cert IPs = %v, want the kubernetes service IP and loopback", first.APIServer.Cert.IPAddresses)
	}
	if got := first.Admin.Cert.Subject.Organization; len(got) != 1 || got[0] != "system:masters" {
		t.Errorf("admin cert groups = %v", got)
	}

	again, err := ensureCerts(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !again.CA.Cert.Equal(first.CA.Cert) || !again.APIServer.Cert.Equal(first.APIServer.Cert) {
		t.Error("certificates were regenerated on a second start")
	}

	moved, err := ensureCerts(c, net.ParseIP("192.0.2.10"))
	if err != nil {
		t.Fatal(err)
	}
	if !moved.CA.Cert.Equal(first.CA.Cert) {
		t.Error("the CA changed when only the advertise address did")
	}
	if !containsIP(moved.APIServer.Cert.IPAddresses, "192.0.2.10") {
		t.Errorf("serving cert not re-issued for the new address: %v", moved.APIServer.Cert.IPAddresses)
	}
	if !moved.Admin.Cert.Equal(first.Admin.Cert) {
		t.Error("the admin cert changed though it names no address")
	}
	st, err := os.Stat(moved.CA.KeyFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("CA key mode = %v (err %v), want 0600", st.Mode(), err)
	}
}

func TestCorruptCertificateIsAnError(t *testing.T) {
	c := testConfig(t)
	cs, err := ensureCerts(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cs.CA.CertFile, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ensureCerts(c, nil); err == nil {
		t.Error("a corrupt CA was silently replaced; that would orphan every issued credential")
	}
}

func containsIP(ips []net.IP, want string) bool {
	for _, ip := range ips {
		if ip.Equal(net.ParseIP(want)) {
			return true
		}
	}
	return false
}
