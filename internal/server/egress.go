package server

import (
	"context"
	"fmt"
	"net"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/agent/kubeletapi"
	"github.com/fargo-dev/fargo/internal/controlplane"
	"github.com/fargo-dev/fargo/internal/network/names"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// routeByNode routes the apiserver's connections by node: a Fargate node's
// kubelet port (its address is the pod's, inside a sandbox) goes to the kubelet
// API of the agent on the sandbox's host, wherever that agent runs; everything
// else (webhooks, a node-group node's own kubelet at its address) is dialled
// directly.
func routeByNode(c client.Reader, vpc *net.IPNet) controlplane.DialFunc {
	port := strconv.Itoa(kubeletapi.Port)
	return func(ctx context.Context, addr string) (net.Conn, error) {
		h, p, err := net.SplitHostPort(addr)
		ip := net.ParseIP(h)
		if err != nil || p != port || ip == nil || !vpc.Contains(ip) {
			return controlplane.DirectDial(ctx, addr)
		}
		sb := &v1alpha1.Sandbox{}
		if err := c.Get(ctx, client.ObjectKey{Name: names.SandboxName(ip)}, sb); apierrors.IsNotFound(err) {
			return controlplane.DirectDial(ctx, addr) // no sandbox: a node group's kubelet
		} else if err != nil {
			return nil, fmt.Errorf("looking up the Fargate node at %s: %w", ip, err)
		}
		host := &v1alpha1.Host{}
		if err := c.Get(ctx, client.ObjectKey{Name: sb.Spec.Host}, host); err != nil {
			return nil, fmt.Errorf("host %s of node %s: %w", sb.Spec.Host, sb.Spec.NodeName, err)
		}
		if host.Status.KubeletEndpoint == "" {
			return nil, fmt.Errorf("host %s of node %s publishes no kubelet API (is its agent running?)", host.Name, sb.Spec.NodeName)
		}
		if err := dialable(host.Status.KubeletEndpoint); err != nil {
			return nil, fmt.Errorf("host %s: kubelet endpoint %q: %w", host.Name, host.Status.KubeletEndpoint, err)
		}
		return kubeletapi.Dial(ctx, host.Status.KubeletEndpoint, ip)
	}
}

// dialable refuses a published endpoint that is not ip:port, or whose address is
// not a host's (link-local, multicast, unspecified: e.g. a cloud metadata
// service), so a Host object cannot point the control plane anywhere.
func dialable(endpoint string) error {
	h, p, err := net.SplitHostPort(endpoint)
	if err != nil {
		return err
	}
	ip := net.ParseIP(h)
	if n, perr := strconv.Atoi(p); perr != nil || n <= 0 || n > 65535 || ip == nil {
		return fmt.Errorf("want ip:port")
	}
	if ip.IsUnspecified() || ip.IsMulticast() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() {
		return fmt.Errorf("%s is not a host address", ip)
	}
	return nil
}
