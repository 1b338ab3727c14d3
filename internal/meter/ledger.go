package meter

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// Defaults of the Ledger.
const (
	DefaultInterval  = time.Minute
	DefaultRetention = 90 * 24 * time.Hour
)

const nodeUIDField = "metadata.uid"

// Ledger keeps the usage records: a controller over UsageRecords, woken by
// Sandboxes (Fargate pods) and node-group Nodes, never by a timer while they
// run. It makes a run's record when its meter starts, writes it again only
// when its usage reading changes, finalizes it once when the run stops (a
// deleted pod's once its host has released it with a last reading, an
// Interval at most), and deletes final records after Retention. A crash of
// the server loses nothing (the start and stop are on the Sandbox); for a run
// whose sandbox or node vanishes unseen (a lost host), one checkpoint, written
// every Interval for all running records at once (checkpoint.go), says until
// when it was metered: it loses at most an Interval, and the server writes one
// object per Interval, not one per run. Readers extend a running record to now
// (Extend).
type Ledger struct {
	Client    client.Client
	Prices    Prices
	Stop      StopRule
	Interval  time.Duration
	Retention time.Duration
	Clock     clock.Clock
	// Counters, if set, count what the records bill, for Prometheus.
	Counters *Counters

	checkpoint checkpoint
	// gone keeps, by pod UID, the last state seen of deleted Sandboxes until
	// their records are final: released right after its last reading, a
	// Sandbox may have left the cache when its record is reconciled.
	gone sync.Map // string → reading
}

// SetupWithManager registers the ledger with mgr.
func (l *Ledger) SetupWithManager(mgr ctrl.Manager) error {
	if l.Interval <= 0 {
		l.Interval = DefaultInterval
	}
	if l.Retention <= 0 {
		l.Retention = DefaultRetention
	}
	if l.Clock == nil {
		l.Clock = clock.RealClock{}
	}
	if l.Stop == "" {
		l.Stop = StopContainers
	}
	l.Counters.countUntil(l.countableUntil)
	if err := mgr.Add(manager.RunnableFunc(l.keepCheckpoint)); err != nil {
		return fmt.Errorf("adding the meter's checkpoint: %w", err)
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &corev1.Node{}, nodeUIDField, func(o client.Object) []string {
		return []string{string(o.GetUID())}
	}); err != nil {
		return fmt.Errorf("indexing nodes by UID: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).Named("meter").
		// Not woken by its own status writes: the Sandbox's and Node's events
		// drive a record (and, at a start, the list of every record).
		For(&v1alpha1.UsageRecord{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1alpha1.Sandbox{}, handler.EnqueueRequestsFromMapFunc(l.sandboxEvent)).
		Watches(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			if o.GetLabels()[labelNodeGroup] != "" {
				return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: string(o.GetUID())}}}
			}
			return nil
		})).
		Complete(l)
}

// sandboxEvent maps a Sandbox's event to its run's record, remembering a
// deleted Sandbox's last state.
func (l *Ledger) sandboxEvent(_ context.Context, o client.Object) []reconcile.Request {
	sb := o.(*v1alpha1.Sandbox)
	uid := sb.Spec.Pod.UID
	if uid == "" {
		return nil
	}
	if sb.DeletionTimestamp != nil {
		r := sandboxReading(sb, l.Stop)
		r.usage, r.settling = r.usage.DeepCopy(), false // gone, it settles no more
		l.gone.Store(uid, r)
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: uid}}}
}

// Reconcile brings the record of one run (named by its pod's or node's UID)
// up to date.
func (l *Ledger) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	rec := &v1alpha1.UsageRecord{}
	if err := l.Client.Get(ctx, req.NamespacedName, rec); apierrors.IsNotFound(err) {
		rec = nil
	} else if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading usage record %s: %w", req.Name, err)
	}
	if rec != nil && rec.Status.Final {
		l.gone.Delete(req.Name)
		return l.expire(ctx, rec)
	}
	r, found, err := l.read(ctx, req.Name, rec)
	if err != nil {
		return ctrl.Result{}, err
	}
	if rec == nil {
		if !found || r.start.IsZero() {
			l.gone.Delete(req.Name)   // a deleted sandbox's run that never started
			return ctrl.Result{}, nil // nothing metered (yet)
		}
		if rec, err = l.create(ctx, req.Name, r); apierrors.IsAlreadyExists(err) {
			return ctrl.Result{Requeue: true}, nil // made before; the cache has not caught up
		} else if err != nil {
			return ctrl.Result{}, err
		}
	}
	if !found { // its sandbox or node is gone unseen: metered up to the checkpoint
		r = reading{start: r.start, reason: "Lost"}
		if u := rec.Status.Until; u != nil {
			r.stop = u.Time
		}
		if at := l.checkpoint.get(); at.After(r.stop) && at.After(r.start) {
			r.stop = at
		}
	}
	if wait := l.Interval - l.Clock.Since(r.stop); r.settling && wait > 0 {
		// For the last reading (the Released step wakes it), an Interval at
		// most; the run has stopped all the same, so the counters stop there.
		settled := rec.DeepCopy()
		l.fill(settled, r)
		l.Counters.observe(settled, time.Time{})
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	if !l.due(rec, r) {
		// Running, nothing new: the checkpoint covers it, readers and the
		// counters extend it; its Sandbox's or Node's events (their deletion
		// too) wake it, and at a start the ledger looks at every record.
		l.Counters.observe(rec, l.countableUntil())
		return ctrl.Result{}, nil
	}
	l.fill(rec, r)
	if err := l.Client.Status().Update(ctx, rec); err != nil {
		return ctrl.Result{}, fmt.Errorf("recording usage of %s: %w", describe(rec), err)
	}
	l.Counters.observe(rec, l.countableUntil())
	if rec.Status.Final {
		l.gone.Delete(req.Name)
		return ctrl.Result{RequeueAfter: l.Retention}, nil
	}
	return ctrl.Result{}, nil
}

// read finds the run's sandbox or node; found is false when it is gone.
func (l *Ledger) read(ctx context.Context, name string, rec *v1alpha1.UsageRecord) (reading, bool, error) {
	if rec == nil || rec.Spec.Kind == v1alpha1.UsagePod {
		list := &v1alpha1.SandboxList{}
		if err := l.Client.List(ctx, list, client.MatchingLabels{v1alpha1.LabelPodUID: name}); err != nil {
			return reading{}, false, fmt.Errorf("listing the sandbox of pod %s: %w", name, err)
		}
		if len(list.Items) > 0 {
			return sandboxReading(&list.Items[0], l.Stop), true, nil
		}
		if r, ok := l.gone.Load(name); ok {
			return r.(reading), true, nil
		}
	}
	if rec == nil || rec.Spec.Kind == v1alpha1.UsageNode {
		list := &corev1.NodeList{}
		if err := l.Client.List(ctx, list, client.MatchingFields{nodeUIDField: name}); err != nil {
			return reading{}, false, fmt.Errorf("listing the node %s: %w", name, err)
		}
		if len(list.Items) > 0 {
			return nodeReading(&list.Items[0]), true, nil
		}
	}
	if rec != nil && rec.Status.Start != nil {
		return reading{start: rec.Status.Start.Time}, false, nil
	}
	return reading{}, false, nil
}

// create makes the run's record; its status is filled next.
func (l *Ledger) create(ctx context.Context, name string, r reading) (*v1alpha1.UsageRecord, error) {
	rec := &v1alpha1.UsageRecord{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: r.spec}
	if err := l.Client.Create(ctx, rec); err != nil {
		return nil, fmt.Errorf("creating the usage record of %s: %w", describe(rec), err)
	}
	log.FromContext(ctx).V(1).Info("meter started", "run", describe(rec), "size", rec.Spec.Size.Name)
	return rec, nil
}

// due says whether the record must be written now: when it is new, its run
// has stopped, or its usage reading changed. Otherwise readers extend it to now
// and the checkpoint covers it.
func (l *Ledger) due(rec *v1alpha1.UsageRecord, r reading) bool {
	st := rec.Status
	if st.Until == nil || !r.stop.IsZero() {
		return true
	}
	return r.usage != nil && (r.usage.CPUSeconds != st.CPUSecondsUsed || r.usage.MemoryPeakBytes != st.MemoryPeakBytes)
}

// countableUntil is how far the counters may count running records: countLag
// before now, and not past the checkpoint, where a lost run's record ends.
func (l *Ledger) countableUntil() time.Time {
	return minTime(l.Clock.Now().Add(-countLag), l.checkpoint.get())
}

// fill sets the record's reading: metered until now, or final at its stop.
func (l *Ledger) fill(rec *v1alpha1.UsageRecord, r reading) {
	st := &rec.Status
	if st.Start == nil {
		st.Start = &metav1.Time{Time: r.start}
	}
	until := l.Clock.Now()
	if !r.stop.IsZero() {
		until, st.Final, st.StopReason = r.stop, true, r.reason
	}
	if until.Before(st.Start.Time) {
		until = st.Start.Time
	}
	st.Until = &metav1.Time{Time: until}
	billed := Billed(st.Start.Time, until)
	st.BilledSeconds = int64(billed / time.Second)
	st.Cost, st.Currency = strconv.FormatFloat(l.Prices.Cost(size(rec.Spec.Size), billed), 'f', 6, 64), l.Prices.Currency
	if u := r.usage; u != nil {
		st.CPUSecondsUsed, st.MemoryPeakBytes = u.CPUSeconds, u.MemoryPeakBytes
	}
}

// expire deletes a final record past its retention, or waits for it.
func (l *Ledger) expire(ctx context.Context, rec *v1alpha1.UsageRecord) (ctrl.Result, error) {
	l.Counters.observe(rec, time.Time{}) // counted once, after a restart too
	age := l.Clock.Since(rec.Status.Until.Time)
	if age < l.Retention {
		return ctrl.Result{RequeueAfter: l.Retention - age}, nil
	}
	if err := l.Client.Delete(ctx, rec); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("deleting expired usage record %s: %w", rec.Name, err)
	}
	l.Counters.forget(rec.Name)
	return ctrl.Result{}, nil
}

// describe names what a record meters, for messages.
func describe(rec *v1alpha1.UsageRecord) string {
	if p := rec.Spec.Pod; p != nil {
		return "pod " + p.Namespace + "/" + p.Name
	}
	return "node " + rec.Spec.Node
}
