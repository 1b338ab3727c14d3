package instancetype

import (
	"strings"
	"testing"
)

func TestInstanceTypes(t *testing.T) {
	xl, err := Lookup("t3.xlarge")
	if err != nil || xl.VCPU != 4 || xl.MemoryMiB != 16384 || xl.MaxPods != 58 {
		t.Fatalf("t3.xlarge = %+v, %v; want 4 vCPU, 16 GiB, 58 pods", xl, err)
	}
	if got := xl.BlockSize(); got != 64 {
		t.Errorf("t3.xlarge block = %d addresses, want 64 (58 pods + the node)", got)
	}
	big, _ := Lookup("m5.4xlarge")
	if got := big.BlockSize(); got != 256 {
		t.Errorf("m5.4xlarge block = %d, want 256 (234 pods + the node)", got)
	}
	for _, family := range []string{"t3.", "m5.", "c5.", "r5."} {
		if _, err := Lookup(family + "large"); err != nil {
			t.Errorf("%slarge: %v", family, err)
		}
	}
	if _, err := Lookup("p4d.24xlarge"); err == nil || !strings.Contains(err.Error(), "t3.xlarge") {
		t.Errorf("unknown type: %v; want an error listing the known types", err)
	}
}
