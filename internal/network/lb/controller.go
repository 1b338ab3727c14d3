package lb

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	"github.com/fargo-dev/fargo/internal/network/ipam"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// Controller gives Services of type LoadBalancer their address and hostname.
type Controller struct {
	Client   client.Client
	Recorder record.EventRecorder
	Subnets  []Subnet
	// Cluster, Region and Suffix go into hostnames.
	Cluster, Region, Suffix string
	// Reserved reports addresses held outside Services and Sandboxes (the node
	// groups' shares of their subnets).
	Reserved  func(net.IP) bool
	Addresses *Addresses

	mu        sync.Mutex
	published string // the hosts file last written
	// written are the addresses this process wrote to a Service's status, until
	// the cache shows them: a reconcile in between must not take them for free.
	written map[string]written
}

type written struct {
	svc types.NamespacedName
	at  time.Time
}

// writtenFor is how long an address written is kept without the cache showing
// it (the Service changed meanwhile, or the write was lost).
const writtenFor = 30 * time.Second

// SetupWithManager registers the controller for Services and, to see where a
// Service's pods run, their EndpointSlices.
func (c *Controller) SetupWithManager(mgr ctrl.Manager) error {
	if c.Addresses == nil {
		c.Addresses = &Addresses{}
	}
	return ctrl.NewControllerManagedBy(mgr).Named("load-balancer").
		For(&corev1.Service{}).
		Watches(&discoveryv1.EndpointSlice{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []ctrl.Request {
			if svc := o.GetLabels()[discoveryv1.LabelServiceName]; svc != "" {
				return []ctrl.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: svc}}}
			}
			return nil
		})).
		Complete(c)
}

// ours reports whether svc is a load balancer this controller runs.
func ours(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.DeletionTimestamp == nil &&
		(svc.Spec.LoadBalancerClass == nil || *svc.Spec.LoadBalancerClass == ClassNLB)
}

// Reconcile keeps one Service's load-balancer status: an address and hostname
// while it is a load balancer of ours, none otherwise.
func (c *Controller) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	svc := &corev1.Service{}
	err := c.Client.Get(ctx, req.NamespacedName, svc)
	gone := apierrors.IsNotFound(err)
	if err != nil && !gone {
		return ctrl.Result{}, fmt.Errorf("reading service %s: %w", req, err)
	}
	if gone || !ours(svc) {
		c.forgetWritten(req.NamespacedName)
	}
	held, services, err := c.held(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	// The hostnames as the cache has them now; a status written below comes
	// back as an event, and this again.
	if err := c.publish(ctx, services); err != nil {
		return ctrl.Result{}, err
	}
	if gone {
		return ctrl.Result{}, nil // held no longer counts it
	}
	if !ours(svc) {
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer && len(svc.Status.LoadBalancer.Ingress) > 0 {
			return ctrl.Result{}, c.writeStatus(ctx, svc, nil) // no longer a load balancer: free its address
		}
		return ctrl.Result{}, nil
	}
	if why, err := c.refused(ctx, svc); err != nil || why != "" {
		if err == nil {
			c.Recorder.Event(svc, corev1.EventTypeWarning, "FailedDeployModel", why)
			err = c.writeStatus(ctx, svc, nil)
		}
		return ctrl.Result{}, err
	}
	ip, err := c.address(ctx, svc, held)
	if err != nil {
		c.Recorder.Event(svc, corev1.EventTypeWarning, "FailedDeployModel", err.Error())
		return ctrl.Result{}, c.writeStatus(ctx, svc, nil)
	}
	held[ip.String()] = req.NamespacedName
	c.Addresses.set(held)
	ing := []corev1.LoadBalancerIngress{{IP: ip.String(), IPMode: ptr.To(corev1.LoadBalancerIPModeVIP),
		Hostname: Hostname(c.Cluster, c.Region, c.Suffix, svc.Namespace, svc.Name, string(svc.UID))}}
	if equality.Semantic.DeepEqual(svc.Status.LoadBalancer.Ingress, ing) {
		return ctrl.Result{}, nil
	}
	if err := c.writeStatus(ctx, svc, ing); err != nil {
		return ctrl.Result{}, err
	}
	c.mu.Lock()
	if c.written == nil {
		c.written = map[string]written{}
	}
	c.written[ip.String()] = written{svc: req.NamespacedName, at: time.Now()}
	c.mu.Unlock()
	c.Recorder.Eventf(svc, corev1.EventTypeNormal, "SuccessfullyReconciled", "Successfully reconciled: %s (%s)", ing[0].Hostname, ip)
	return ctrl.Result{}, nil
}

// held is every address the load balancers hold now, from the Services
// themselves, so nothing is lost on a restart; it also becomes Addresses. The
// Services come with it.
func (c *Controller) held(ctx context.Context) (map[string]types.NamespacedName, []corev1.Service, error) {
	list := &corev1.ServiceList{}
	if err := c.Client.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, nil, fmt.Errorf("listing services: %w", err)
	}
	out := map[string]types.NamespacedName{}
	for i := range list.Items {
		svc := &list.Items[i]
		if !ours(svc) {
			continue
		}
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			if ing.IP != "" {
				out[ing.IP] = types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
			}
		}
	}
	c.mu.Lock()
	for ip, w := range c.written {
		switch held, taken := out[ip]; {
		case held == w.svc || time.Since(w.at) > writtenFor:
			delete(c.written, ip) // the cache has caught up, or never will
		case !taken:
			out[ip] = w.svc
		}
	}
	c.mu.Unlock()
	c.Addresses.set(out)
	return out, list.Items, nil
}

// forgetWritten drops what this process wrote for svc: it is gone, or no
// longer a load balancer.
func (c *Controller) forgetWritten(svc types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ip, w := range c.written {
		if w.svc == svc {
			delete(c.written, ip)
		}
	}
}

// refused says why svc cannot have a load balancer ("" when it can): target
// type instance reaches pods through NodePorts, which Fargate nodes do not have.
func (c *Controller) refused(ctx context.Context, svc *corev1.Service) (string, error) {
	if svc.Annotations[AnnotationTarget] != TargetInstance {
		return "", nil
	}
	slices := &discoveryv1.EndpointSliceList{}
	if err := c.Client.List(ctx, slices, client.InNamespace(svc.Namespace), client.MatchingLabels{discoveryv1.LabelServiceName: svc.Name}); err != nil {
		return "", fmt.Errorf("listing endpoints of service %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	for _, s := range slices.Items {
		for _, ep := range s.Endpoints {
			if ep.NodeName == nil {
				continue
			}
			node := &corev1.Node{}
			err := c.Client.Get(ctx, client.ObjectKey{Name: *ep.NodeName}, node)
			if apierrors.IsNotFound(err) {
				continue
			}
			if err != nil {
				return "", fmt.Errorf("reading node %s: %w", *ep.NodeName, err)
			}
			if node.Labels[v1alpha1.LabelComputeType] == v1alpha1.ComputeFargate {
				pod := ""
				if ep.TargetRef != nil {
					pod = " (pod " + ep.TargetRef.Name + ")"
				}
				return fmt.Sprintf("target type instance cannot reach pods on Fargate nodes: endpoint on %s%s; set annotation %s: ip", *ep.NodeName, pod, AnnotationTarget), nil
			}
		}
	}
	return "", nil
}

// address is svc's current address while it still fits its scheme, else a free
// one from the top of the scheme's subnets.
func (c *Controller) address(ctx context.Context, svc *corev1.Service, held map[string]types.NamespacedName) (net.IP, error) {
	public := svc.Annotations[AnnotationScheme] == SchemeInternetFacing
	var subnets []Subnet
	for _, s := range c.Subnets {
		if s.Public == public {
			subnets = append(subnets, s)
		}
	}
	sort.Slice(subnets, func(i, j int) bool { return subnets[i].ID < subnets[j].ID })
	scheme := "internal"
	if public {
		scheme = SchemeInternetFacing
	}
	if len(subnets) == 0 {
		kind := map[bool]string{true: "public", false: "private"}[public]
		return nil, fmt.Errorf("unable to resolve at least one subnet: the cluster has no %s subnets for scheme %s; add vpc.subnets.%s to the cluster config, or set annotation %s", kind, scheme, kind, AnnotationScheme)
	}
	me := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
	for _, ing := range svc.Status.LoadBalancer.Ingress {
		ip := net.ParseIP(ing.IP)
		if ip == nil || held[ing.IP] != me {
			continue
		}
		for _, s := range subnets {
			if s.Net.Contains(ip) {
				return ip, nil
			}
		}
	}
	sandboxes := &v1alpha1.SandboxList{}
	if err := c.Client.List(ctx, sandboxes, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing sandboxes: %w", err)
	}
	pods := map[string]bool{}
	for _, sb := range sandboxes.Items {
		pods[sb.Spec.IP] = true
	}
	inUse := func(ip net.IP) bool {
		_, lb := held[ip.String()]
		return lb || pods[ip.String()] || (c.Reserved != nil && c.Reserved(ip))
	}
	var tried []string
	for _, s := range subnets {
		if ip, ok := ipam.FreeIPFromTop(s.Net, inUse); ok {
			return ip, nil
		}
		tried = append(tried, s.ID+" ("+s.Net.String()+")")
	}
	return nil, fmt.Errorf("no free address for a %s load balancer in subnets %s", scheme, strings.Join(tried, ", "))
}

// writeStatus sets svc's load-balancer ingress (nil: none).
func (c *Controller) writeStatus(ctx context.Context, svc *corev1.Service, ing []corev1.LoadBalancerIngress) error {
	if equality.Semantic.DeepEqual(svc.Status.LoadBalancer.Ingress, ing) {
		return nil
	}
	patch := client.MergeFrom(svc.DeepCopy())
	svc.Status.LoadBalancer.Ingress = ing
	if err := c.Client.Status().Patch(ctx, svc, patch); err != nil {
		return fmt.Errorf("writing the load balancer of service %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	return nil
}
