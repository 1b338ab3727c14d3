package controlplane

import (
	"net"
	"strings"
	"testing"
)

func TestCheckPortsNamesTheFlag(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	err = CheckPorts([]Port{{Flag: "--scheduler-port", Host: "127.0.0.1", Port: port}})
	if err == nil || !strings.Contains(err.Error(), "--scheduler-port") || !strings.Contains(err.Error(), "already in use") {
		t.Errorf("got %v", err)
	}
	l.Close()
	if err := CheckPorts([]Port{{Flag: "--scheduler-port", Host: "127.0.0.1", Port: port}}); err != nil {
		t.Errorf("a free port was reported: %v", err)
	}
}

func TestEtcdVersionOK(t *testing.T) {
	for v, want := range map[string]bool{"3.4.30": false, "3.5.0": true, "3.6.1": true, "3.10.0": true, "4.0.0": true, "junk": false} {
		if got := etcdVersionOK(v); got != want {
			t.Errorf("etcdVersionOK(%q) = %v, want %v", v, got, want)
		}
	}
}
