package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/server"
)

// readyPoll is how often a command asks a starting server again; readyNotice
// how often it says it is still waiting.
const (
	readyPoll   = 500 * time.Millisecond
	readyNotice = 10 * time.Second
)

// waitReady reads the cluster info a server publishes once its controllers and
// webhooks run, waiting while the server is still starting (not answering yet,
// or answering without the cluster info) until ctx ends (the --timeout), and
// saying so on w. Errors that waiting cannot cure (refused credentials, say)
// return at once.
func waitReady(ctx context.Context, c client.Client, host string, w io.Writer) (*corev1.ConfigMap, error) {
	var last error
	said := time.Time{}
	for {
		info := &corev1.ConfigMap{}
		err := c.Get(ctx, server.ClusterInfo, info)
		if err == nil {
			if !said.IsZero() {
				fmt.Fprintf(w, "the fargo server at %s is ready\n", host)
			}
			return info, nil
		}
		if !starting(err) {
			return nil, fmt.Errorf("reading cluster info from %s (is it a fargo server?): %w", host, err)
		}
		last = err
		if time.Since(said) >= readyNotice {
			fmt.Fprintf(w, "waiting for the fargo server at %s: it is still starting (%s); --timeout sets how long\n", host, why(err))
			said = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("the fargo server at %s is not ready (still starting, or stopped: see its output or DATA/logs/fargo.log): %s", host, why(last))
		case <-time.After(readyPoll):
		}
	}
}

// starting says whether err is what a server that is still starting answers:
// nothing on its port yet, or its API without fargo's cluster info.
func starting(err error) bool {
	switch {
	case apierrors.IsNotFound(err), apierrors.IsServiceUnavailable(err), apierrors.IsTimeout(err),
		apierrors.IsServerTimeout(err), apierrors.IsTooManyRequests(err), apierrors.IsInternalError(err):
		return true
	case apierrors.IsUnauthorized(err), apierrors.IsForbidden(err):
		return false
	}
	var status apierrors.APIStatus
	return !errors.As(err, &status) // a connection error: nothing listens yet
}

// why is err in a few words for a waiting line.
func why(err error) string {
	if apierrors.IsNotFound(err) {
		return "its API answers but fargo's controllers are not up yet"
	}
	return err.Error()
}
