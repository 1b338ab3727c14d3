package meter

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// CheckpointKey is the ConfigMap holding the meter's checkpoint: every running
// record was metered at least until its meteredUntil.
var CheckpointKey = client.ObjectKey{Namespace: metav1.NamespaceSystem, Name: "fargo-meter"}

const checkpointField = "meteredUntil"

// checkpoint is the last time written to the checkpoint ConfigMap.
type checkpoint struct {
	mu sync.Mutex
	at time.Time
}

func (c *checkpoint) get() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

func (c *checkpoint) set(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if at.After(c.at) {
		c.at = at
	}
}

// keepCheckpoint loads the last checkpoint (a previous server's) and writes a
// new one every Interval until ctx ends: one write for all running records.
// A run lost in between ends at the checkpoint: it is billed at most an
// Interval short, or, noticed up to an Interval late, as much over.
func (l *Ledger) keepCheckpoint(ctx context.Context) error {
	cm := &corev1.ConfigMap{}
	if err := l.Client.Get(ctx, CheckpointKey, cm); err == nil {
		if at, err := time.Parse(time.RFC3339, cm.Data[checkpointField]); err == nil {
			l.checkpoint.set(at)
		}
	}
	for {
		// First an Interval: the ledger reconciles every record at its start,
		// and a run lost while no server ran must end at the old checkpoint.
		select {
		case <-ctx.Done():
			return nil
		case <-l.Clock.After(l.Interval):
		}
		if err := l.writeCheckpoint(ctx, l.Clock.Now()); err != nil && ctx.Err() == nil {
			log.FromContext(ctx).Error(err, "writing the meter's checkpoint")
		}
	}
}

// writeCheckpoint records that running records are metered until at.
func (l *Ledger) writeCheckpoint(ctx context.Context, at time.Time) error {
	at = at.Truncate(time.Second) // what a record's times keep
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: CheckpointKey.Namespace, Name: CheckpointKey.Name},
		Data: map[string]string{checkpointField: at.UTC().Format(time.RFC3339)}}
	err := l.Client.Update(ctx, cm)
	if apierrors.IsNotFound(err) {
		err = l.Client.Create(ctx, cm)
	}
	if err != nil {
		return err
	}
	l.checkpoint.set(at)
	return nil
}
