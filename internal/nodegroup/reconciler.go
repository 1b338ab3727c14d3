package nodegroup

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// Reconciler keeps each NodeGroup's nodes running at its desired size: CREATING
// or UPDATING while nodes are made or drained and removed, then ACTIVE with their
// names; DEGRADED, with the reason, when that fails (retried). A deleted group is
// DELETING until every node is drained and removed (its finalizer holds it).
type Reconciler struct {
	Client  client.Client
	Kube    kubernetes.Interface
	Manager *Manager
	// Group resolves a NodeGroup's subnets against the cluster config.
	Group func(*v1alpha1.NodeGroup) (Group, error)
	// Blocked, when set, says why this machine runs no nodes (Manager is nil):
	// every group is DEGRADED with it, and deleting one is immediate.
	Blocked string
}

// SetupWithManager registers the reconciler; one group at a time, since nodes
// share the machine.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	// Status writes do not change the generation: only spec changes start a pass.
	deleted := predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetDeletionTimestamp() != nil })
	return ctrl.NewControllerManagedBy(mgr).For(&v1alpha1.NodeGroup{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, deleted))).Named("nodegroup").
		WithOptions(controller.Options{MaxConcurrentReconciles: 1}).Complete(r)
}

func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ng := &v1alpha1.NodeGroup{}
	if err := r.Client.Get(ctx, req.NamespacedName, ng); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if r.Blocked != "" {
		if ng.DeletionTimestamp != nil {
			return ctrl.Result{}, r.release(ctx, ng)
		}
		if g, err := r.Group(ng); err == nil {
			if err := r.recordSubnets(ctx, ng, g); err != nil {
				return ctrl.Result{}, err
			}
		}
		return ctrl.Result{}, r.setStatus(ctx, ng, v1alpha1.NodeGroupDegraded, nil, "no nodes: "+r.Blocked)
	}
	if ng.DeletionTimestamp != nil {
		return r.delete(ctx, ng)
	}
	if controllerutil.AddFinalizer(ng, v1alpha1.NodeGroupFinalizer) {
		if err := r.Client.Update(ctx, ng); err != nil {
			return ctrl.Result{}, fmt.Errorf("adding finalizer to node group %s: %w", ng.Name, err)
		}
	}
	g, err := r.Group(ng)
	if err == nil {
		if err := r.recordSubnets(ctx, ng, g); err != nil {
			return ctrl.Result{}, err
		}
	}
	if err == nil && len(ng.Status.Nodes) != g.Desired {
		state := v1alpha1.NodeGroupUpdating
		if ng.Status.Status == "" || ng.Status.Status == v1alpha1.NodeGroupCreating {
			state = v1alpha1.NodeGroupCreating
		}
		if err := r.setStatus(ctx, ng, state, ng.Status.Nodes, ""); err != nil {
			return ctrl.Result{}, err
		}
	}
	var names []string
	if err == nil {
		names, err = r.Manager.Ensure(ctx, g, r.Kube)
	}
	if err != nil {
		if serr := r.setStatus(ctx, ng, v1alpha1.NodeGroupDegraded, names, err.Error()); serr != nil {
			return ctrl.Result{}, serr
		}
		return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
	}
	return ctrl.Result{}, r.setStatus(ctx, ng, v1alpha1.NodeGroupActive, names, "")
}

// recordSubnets writes the subnets chosen for a group that named none into its
// spec, so they show and stay fixed.
func (r *Reconciler) recordSubnets(ctx context.Context, ng *v1alpha1.NodeGroup, g Group) error {
	if len(ng.Spec.Subnets) > 0 {
		return nil
	}
	patch := client.MergeFrom(ng.DeepCopy())
	for _, s := range g.Subnets {
		ng.Spec.Subnets = append(ng.Spec.Subnets, s.ID)
	}
	if err := r.Client.Patch(ctx, ng, patch); err != nil {
		return fmt.Errorf("recording the subnets of node group %s: %w", ng.Name, err)
	}
	return nil
}

// delete drains and removes every node of the group, then lets it go.
func (r *Reconciler) delete(ctx context.Context, ng *v1alpha1.NodeGroup) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(ng, v1alpha1.NodeGroupFinalizer) {
		return ctrl.Result{}, nil
	}
	if err := r.setStatus(ctx, ng, v1alpha1.NodeGroupDeleting, ng.Status.Nodes, ""); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.Manager.RemoveGroup(ctx, ng.Name, r.Kube); err != nil {
		if serr := r.setStatus(ctx, ng, v1alpha1.NodeGroupDeleteFailed, r.Manager.Nodes(ng.Name), err.Error()); serr != nil {
			return ctrl.Result{}, serr
		}
		return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
	}
	return ctrl.Result{}, r.release(ctx, ng)
}

// release lets a deleted group go.
func (r *Reconciler) release(ctx context.Context, ng *v1alpha1.NodeGroup) error {
	if !controllerutil.RemoveFinalizer(ng, v1alpha1.NodeGroupFinalizer) {
		return nil
	}
	if err := r.Client.Update(ctx, ng); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("releasing node group %s: %w", ng.Name, err)
	}
	return nil
}

func (r *Reconciler) setStatus(ctx context.Context, ng *v1alpha1.NodeGroup, state v1alpha1.NodeGroupState, nodes []string, msg string) error {
	if ng.Status.Status == state && strings.Join(ng.Status.Nodes, ",") == strings.Join(nodes, ",") && ng.Status.Message == msg &&
		ng.Status.ObservedGeneration == ng.Generation {
		return nil
	}
	ng.Status.Status, ng.Status.Nodes, ng.Status.Message, ng.Status.ObservedGeneration = state, nodes, msg, ng.Generation
	if err := r.Client.Status().Update(ctx, ng); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("updating node group %s: %w", ng.Name, err)
	}
	return nil
}
