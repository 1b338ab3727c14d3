package server

import "testing"

func TestDialable(t *testing.T) {
	for ep, ok := range map[string]bool{
		"127.0.0.1:41234": true, "10.0.3.7:10250": true,
		"169.254.169.254:80": false, "0.0.0.0:10250": false, "224.0.0.1:10250": false,
		"host.example:10250": false, "10.0.3.7": false, "10.0.3.7:0": false,
	} {
		if err := dialable(ep); (err == nil) != ok {
			t.Errorf("dialable(%q) = %v, want ok=%v", ep, err, ok)
		}
	}
}
