package controlplane

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"time"

	"k8s.io/client-go/kubernetes"
)

const pollInterval = 50 * time.Millisecond

// waitFor polls check until it succeeds, ctx ends, or failed reports a component exit.
func waitFor(ctx context.Context, what string, failed <-chan error, check func(context.Context) error) error {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	var last error
	for {
		if last = check(ctx); last == nil {
			return nil
		}
		select {
		case err := <-failed:
			return fmt.Errorf("%s exited before it was ready: %w", what, err)
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last check: %v)", what, ctx.Err(), last)
		case <-t.C:
		}
	}
}

// apiServerReady asks kube-apiserver's /readyz, which passes once its post-start
// hooks (RBAC bootstrap, system namespaces, priority classes) are done.
func apiServerReady(client kubernetes.Interface) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	}
}

// insecureLocal is for the loopback health endpoints of controller-manager and
// scheduler, which serve an in-memory self-signed certificate.
var insecureLocal = &http.Client{
	Timeout:   2 * time.Second,
	Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // loopback health probe
}

// httpHealthy checks a component's /healthz on loopback.
func httpHealthy(port int) func(context.Context) error {
	url := fmt.Sprintf("https://127.0.0.1:%d/healthz", port)
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := insecureLocal.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", url, resp.Status)
		}
		return nil
	}
}
