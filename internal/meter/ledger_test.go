package meter

import (
	"context"
	"math"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fargo-dev/fargo/internal/scheme"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// The ledger against a fake API server and a fake clock.

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

type ledgerSuite struct {
	t     *testing.T
	c     client.Client
	clock *clocktesting.FakeClock
	l     *Ledger
}

func newLedger(t *testing.T, rule StopRule, objs ...client.Object) *ledgerSuite {
	c := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(objs...).
		WithStatusSubresource(&v1alpha1.UsageRecord{}, &v1alpha1.Sandbox{}).
		WithIndex(&corev1.Node{}, nodeUIDField, func(o client.Object) []string { return []string{string(o.GetUID())} }).Build()
	s := &ledgerSuite{t: t, c: c, clock: clocktesting.NewFakeClock(t0)}
	s.l = s.restart(rule)
	return s
}

// restart is a new server's ledger over the same store.
func (s *ledgerSuite) restart(rule StopRule) *Ledger {
	return &Ledger{Client: s.c, Prices: DefaultPrices(), Stop: rule, Interval: time.Minute, Retention: 24 * time.Hour,
		Clock: s.clock, Counters: NewCounters(DefaultPrices())}
}

func (s *ledgerSuite) reconcile(name string) (*v1alpha1.UsageRecord, ctrl.Result) {
	s.t.Helper()
	res, err := s.l.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Name: name}})
	if err != nil {
		s.t.Fatalf("Reconcile: %v", err)
	}
	rec := &v1alpha1.UsageRecord{}
	if err := s.c.Get(context.Background(), client.ObjectKey{Name: name}, rec); err != nil {
		return nil, res
	}
	return rec, res
}

func sandbox(uid string) *v1alpha1.Sandbox {
	return &v1alpha1.Sandbox{ObjectMeta: metav1.ObjectMeta{Name: "ip-192-168-1-5", Labels: map[string]string{v1alpha1.LabelPodUID: uid},
		CreationTimestamp: metav1.NewTime(t0.Add(-10 * time.Second))},
		Spec: v1alpha1.SandboxSpec{Pod: v1alpha1.PodReference{Namespace: "apps", Name: "job-x", UID: uid}, Profile: "fp-apps",
			CapacityProvisioned: "0.25vCPU 0.5GB", MilliCPU: 250, MemoryMiB: 512, EphemeralStorageGiB: 20, NodeName: "fargate-ip-192-168-1-5"}}
}

// step records a sandbox step at time at.
func (s *ledgerSuite) step(sb *v1alpha1.Sandbox, kind string, at time.Time) {
	s.t.Helper()
	sb.Status.Conditions = append(sb.Status.Conditions, metav1.Condition{Type: kind, Status: metav1.ConditionTrue, Reason: kind, LastTransitionTime: metav1.NewTime(at)})
	if err := s.c.Status().Update(context.Background(), sb); err != nil {
		s.t.Fatal(err)
	}
}

func cost(rec *v1alpha1.UsageRecord) float64 {
	v, _ := strconv.ParseFloat(rec.Status.Cost, 64)
	return v
}

// The meter starts at the image pull, not at the sandbox's creation; counts
// the one-minute minimum while running; stops when the containers have all
// terminated, rounded up; and the final record is written once.
func TestLedgerPodRun(t *testing.T) {
	sb := sandbox("uid-1")
	s := newLedger(t, StopContainers, sb)
	if rec, _ := s.reconcile("uid-1"); rec != nil {
		t.Fatalf("a record before the image pull: %+v", rec.Status)
	}
	s.step(sb, v1alpha1.SandboxPulling, t0)
	s.clock.SetTime(t0.Add(20 * time.Second))
	rec, res := s.reconcile("uid-1")
	if rec == nil || !rec.Status.Start.Time.Equal(t0) || rec.Status.BilledSeconds != 60 || rec.Status.Final || res.RequeueAfter != 0 {
		t.Fatalf("running record %+v, requeue %s; want started at the pull, 60 s so far (the minimum), no timer", rec.Status, res.RequeueAfter)
	}
	if rec.Spec.Kind != v1alpha1.UsagePod || rec.Spec.Profile != "fp-apps" || rec.Spec.Size.Name != "0.25vCPU 0.5GB" {
		t.Errorf("record spec %+v", rec.Spec)
	}
	// Running, nothing new: not written again (one checkpoint covers every
	// running record), no timer (its Sandbox's events wake it); readers extend it.
	written := rec.ResourceVersion
	s.clock.SetTime(t0.Add(85 * time.Second))
	if rec, res = s.reconcile("uid-1"); rec.ResourceVersion != written || res.RequeueAfter != 0 {
		t.Errorf("a running record with nothing new was written (%s, was %s) or put on a timer (%s)", rec.ResourceVersion, written, res.RequeueAfter)
	}
	extended := []v1alpha1.UsageRecord{*rec}
	Extend(extended, s.clock.Now())
	if st := extended[0].Status; st.BilledSeconds != 85 || math.Abs(cost(&extended[0])-0.012343*85/3600) > 0.0000006 {
		t.Errorf("extended to 85 s: billed %d, cost %s", st.BilledSeconds, st.Cost)
	}
	// A new usage reading is written.
	sb.Status.Usage = &v1alpha1.SandboxUsage{CPUSeconds: "1.5", MemoryPeakBytes: 1 << 20, Time: metav1.NewTime(t0.Add(80 * time.Second))}
	if err := s.c.Status().Update(context.Background(), sb); err != nil {
		t.Fatal(err)
	}
	if rec, _ = s.reconcile("uid-1"); rec.Status.CPUSecondsUsed != "1.5" || rec.Status.BilledSeconds != 85 || !rec.Status.Until.Time.Equal(t0.Add(85*time.Second)) {
		t.Errorf("after a usage reading at 85 s: %+v", rec.Status)
	}
	// The server goes down; meanwhile the Job's containers end at 90.4 s (the
	// pod is not deleted). The new server's ledger finds the stop on the Sandbox.
	s.l = s.restart(StopContainers)
	s.step(sb, v1alpha1.SandboxStopped, t0.Add(90*time.Second+400*time.Millisecond))
	s.clock.SetTime(t0.Add(10 * time.Minute))
	rec, _ = s.reconcile("uid-1")
	// metav1.Time keeps whole seconds: 90 s stored, billed 90.
	if !rec.Status.Final || rec.Status.BilledSeconds != 90 || rec.Status.StopReason != "ContainersTerminated" {
		t.Fatalf("final record %+v; want 90 s, ContainersTerminated", rec.Status)
	}
	if want := 0.012343 * 90 / 3600; math.Abs(cost(rec)-want) > 0.0000006 {
		t.Errorf("cost %s; want %.6f", rec.Status.Cost, want)
	}
	final := rec.ResourceVersion
	s.clock.SetTime(t0.Add(time.Hour))
	if rec, _ = s.reconcile("uid-1"); rec.ResourceVersion != final {
		t.Errorf("the final record was written again (%s, was %s)", rec.ResourceVersion, final)
	}
	// The new server counted the run once, all of it.
	if got := counterValue(t, s.l.Counters.vcpuSeconds.WithLabelValues("apps", "fp-apps")); got != 0.25*90 {
		t.Errorf("vCPU-seconds counted %g; want %g", got, 0.25*90)
	}
	// One record for the pod, whatever its containers did.
	list := &v1alpha1.UsageRecordList{}
	if err := s.c.List(context.Background(), list); err != nil || len(list.Items) != 1 {
		t.Errorf("records: %d, %v; want 1", len(list.Items), err)
	}
	// Kept for the retention period, then deleted.
	s.clock.SetTime(t0.Add(25 * time.Hour))
	if rec, _ = s.reconcile("uid-1"); rec != nil {
		t.Error("record kept past its retention")
	}
}

// Under EKS's rule the meter runs until the pod is deleted.
func TestLedgerStopPod(t *testing.T) {
	sb := sandbox("uid-2")
	sb.Finalizers = []string{v1alpha1.SandboxFinalizer}
	s := newLedger(t, StopPod, sb)
	// The fake API server stamps deletions with the real time: run an hour before it.
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	s.step(sb, v1alpha1.SandboxPulling, start)
	s.step(sb, v1alpha1.SandboxStopped, start.Add(30*time.Second))
	s.clock.SetTime(start.Add(5 * time.Minute))
	if rec, _ := s.reconcile("uid-2"); rec.Status.Final || rec.Status.BilledSeconds != 300 {
		t.Fatalf("under the pod rule, a finished pod's record %+v; want still running, 300 s", rec.Status)
	}
	if err := s.c.Delete(context.Background(), sb); err != nil { // the pod's deletion releases it
		t.Fatal(err)
	}
	if err := s.c.Get(context.Background(), client.ObjectKeyFromObject(sb), sb); err != nil {
		t.Fatal(err)
	}
	s.clock.SetTime(time.Now().Add(time.Minute))
	rec, _ := s.reconcile("uid-2")
	if want := int64(sb.DeletionTimestamp.Sub(start).Seconds()); !rec.Status.Final || rec.Status.BilledSeconds != want || rec.Status.StopReason != "PodDeleted" {
		t.Errorf("record %+v; want final at the deletion, %d s", rec.Status, want)
	}
}

// A running pod deleted: its record waits for its host's release, which
// brings the last usage reading, an Interval at most; it ends at the deletion,
// with the last reading even when the released Sandbox has left the cache
// before the ledger looks (the watch's last state of it is kept).
func TestLedgerWaitsForTheRelease(t *testing.T) {
	for _, c := range []struct{ released, gone bool }{{true, false}, {true, true}, {false, false}} {
		released := c.released
		sb := sandbox("uid-4")
		sb.Finalizers = []string{v1alpha1.SandboxFinalizer}
		s := newLedger(t, StopContainers, sb)
		start := time.Now().Add(-time.Hour).Truncate(time.Second) // the fake API server stamps deletions with the real time
		s.step(sb, v1alpha1.SandboxPulling, start)
		s.clock.SetTime(start.Add(10 * time.Second))
		s.reconcile("uid-4") // running, counted
		if err := s.c.Get(context.Background(), client.ObjectKeyFromObject(sb), sb); err != nil {
			t.Fatal(err)
		}
		if err := s.c.Delete(context.Background(), sb); err != nil {
			t.Fatal(err)
		}
		if err := s.c.Get(context.Background(), client.ObjectKeyFromObject(sb), sb); err != nil {
			t.Fatal(err)
		}
		deleted := sb.DeletionTimestamp.Time
		s.clock.SetTime(deleted.Add(time.Second))
		rec, res := s.reconcile("uid-4")
		if rec.Status.Final || res.RequeueAfter != time.Minute-time.Second {
			t.Fatalf("record %+v, requeue %s before the release; want it waiting, an Interval at most", rec.Status, res.RequeueAfter)
		}
		// The counters stop at the deletion while it waits, whenever scraped.
		s.l.Counters.countUntil(func() time.Time { return deleted.Add(time.Hour) })
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(s.l.Counters.Collectors()...)
		if _, err := reg.Gather(); err != nil {
			t.Fatal(err)
		}
		if got, want := counterValue(t, s.l.Counters.vcpuSeconds.WithLabelValues("apps", "fp-apps")), 0.25*deleted.Sub(start).Seconds(); got != want {
			t.Errorf("%+v: counted %g vCPU-s while waiting for the release; want %g, up to the deletion", c, got, want)
		}
		if released {
			sb.Status.Usage = &v1alpha1.SandboxUsage{CPUSeconds: "7.5", MemoryPeakBytes: 3 << 20, Time: metav1.NewTime(deleted.Add(time.Second))}
			s.step(sb, v1alpha1.SandboxReleased, deleted.Add(2*time.Second))
			if c.gone { // the watch saw it released, then it went
				s.l.sandboxEvent(context.Background(), sb)
				sb.Finalizers = nil
				if err := s.c.Update(context.Background(), sb); err != nil {
					t.Fatal(err)
				}
				if err := s.c.Get(context.Background(), client.ObjectKeyFromObject(sb), sb); !apierrors.IsNotFound(err) {
					t.Fatalf("the released sandbox is still there: %v", err)
				}
			}
		} else {
			s.clock.SetTime(deleted.Add(time.Minute)) // its host is gone
		}
		rec, _ = s.reconcile("uid-4")
		if want := int64(deleted.Sub(start).Seconds()); !rec.Status.Final || rec.Status.BilledSeconds != want || rec.Status.StopReason != "PodDeleted" {
			t.Errorf("%+v: record %+v; want final at the deletion, %d s", c, rec.Status, want)
		}
		if released && (rec.Status.CPUSecondsUsed != "7.5" || rec.Status.MemoryPeakBytes != 3<<20) {
			t.Errorf("record %+v; want the last reading, 7.5 CPU-s, 3 MiB", rec.Status)
		}
	}
}

// A host lost with its sandbox: the run is billed up to the meter's last
// checkpoint (one write for all running records), which a new server reads.
func TestLedgerSandboxGone(t *testing.T) {
	sb := sandbox("uid-3")
	s := newLedger(t, StopContainers, sb)
	s.step(sb, v1alpha1.SandboxPulling, t0)
	s.clock.SetTime(t0.Add(20 * time.Second))
	s.reconcile("uid-3") // its record, written at 20 s
	s.clock.SetTime(t0.Add(3 * time.Minute))
	if err := s.l.writeCheckpoint(context.Background(), s.clock.Now()); err != nil {
		t.Fatal(err)
	}
	s.reconcile("uid-3")
	if err := s.c.Delete(context.Background(), sb); err != nil {
		t.Fatal(err)
	}
	// Counted no further than the checkpoint while it ran.
	s.clock.SetTime(t0.Add(4 * time.Minute))
	s.reconcile("uid-3")
	// A new server finds the sandbox gone: the run ends at the checkpoint.
	s.l = s.restart(StopContainers)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // load the checkpoint and write one, then stop
	if err := s.l.keepCheckpoint(ctx); err != nil {
		t.Fatal(err)
	}
	s.clock.SetTime(t0.Add(10 * time.Minute))
	if rec, _ := s.reconcile("uid-3"); !rec.Status.Final || rec.Status.BilledSeconds != 180 || rec.Status.StopReason != "Lost" {
		t.Errorf("record %+v; want final at the checkpoint, 180 s, Lost", rec.Status)
	}
}

// A node-group node is billed at its instance type's price from its creation.
func TestLedgerNode(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "ip-192-168-31-225", UID: "node-uid",
		CreationTimestamp: metav1.NewTime(t0), Labels: map[string]string{labelNodeGroup: "ng-1", labelInstanceType: "m5.large"}}}
	s := newLedger(t, StopContainers, node)
	s.clock.SetTime(t0.Add(time.Hour))
	rec, _ := s.reconcile("node-uid")
	if rec == nil || rec.Spec.Kind != v1alpha1.UsageNode || rec.Spec.NodeGroup != "ng-1" || rec.Status.BilledSeconds != 3600 || cost(rec) != 0.096 {
		t.Fatalf("node record %+v %+v; want an hour of m5.large, 0.096", rec.Spec, rec.Status)
	}
}
