package server

import (
	"os"

	"github.com/coreos/go-systemd/v22/daemon"
)

// takeNotifySocket takes $NOTIFY_SOCKET (systemd's, for a Type=notify unit)
// out of the environment and returns how to tell systemd of a state. Left
// there, the embedded etcd would say READY=1 as soon as it alone is up, and
// the kubelets and containerds fargo starts would inherit it.
func takeNotifySocket() func(state string) {
	sock, ok := os.LookupEnv("NOTIFY_SOCKET")
	if !ok {
		return func(string) {}
	}
	_ = os.Unsetenv("NOTIFY_SOCKET")
	return func(state string) {
		// go-systemd reads the socket from the environment: there for the call only.
		_ = os.Setenv("NOTIFY_SOCKET", sock)
		_, _ = daemon.SdNotify(true, state)
	}
}

// The states the server reports.
const (
	notifyReady    = daemon.SdNotifyReady
	notifyStopping = daemon.SdNotifyStopping
)
