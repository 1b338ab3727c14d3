// Package ownwrites gives a controller-runtime client read-your-writes: a Get
// from the informer cache that has not yet seen this process's own create or
// update returns the object as written instead.
//
// Without it, every reconcile that runs between a write and its watch event
// (a burst of pods makes many) works from the old object: it redoes steps
// already done, creates what exists (409), and writes on a stale
// resourceVersion (409 again, then a retry). Those duplicates were a tenth of
// the API server's work per Fargate pod. The remedy is KCM's "expectations",
// kept per object: the write's result is remembered with the resourceVersions
// it replaced, and served while the cache still shows one of those. Once the
// cache shows the written version, or anything else (another writer, a
// delete), the cache is right again and the entry is dropped. Lists are not
// covered; resourceVersions are only compared for equality, never ordered.
package ownwrites

import (
	"context"
	"reflect"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// maxAge bounds how long a write is served while the cache shows none of it:
// the watch delivers in milliseconds, so an entry this old means the cache
// missed the object for good (created and deleted before it looked).
const maxAge = 30 * time.Second

// absent stands for "no object" among the versions a create replaced.
const absent = ""

type key struct {
	gvk schema.GroupVersionKind
	typ reflect.Type // a Pod and a PartialObjectMetadata of it are apart
	types.NamespacedName
}

// written is what this process last wrote of one object.
type written struct {
	obj      client.Object       // as the server returned it
	replaced map[string]struct{} // resourceVersions (or absent) it supersedes
	at       time.Time
}

// Client is a client.Client whose Gets see its own writes.
type Client struct {
	client.Client
	clock clock.PassiveClock

	mu      sync.Mutex
	entries map[key]*written
}

// New wraps c, whose reads come from an informer cache.
func New(c client.Client) *Client {
	return &Client{Client: c, clock: clock.RealClock{}, entries: map[key]*written{}}
}

// NewClient is client.New with read-your-writes: a manager's NewClient, so that
// every controller of the manager sees the writes of all of them.
func NewClient(cfg *rest.Config, o client.Options) (client.Client, error) {
	c, err := client.New(cfg, o)
	if err != nil {
		return nil, err
	}
	return New(c), nil
}

// Get reads obj from the cache, or this process's newer write of it.
func (c *Client) Get(ctx context.Context, k client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	err := c.Client.Get(ctx, k, obj, opts...)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	id, ok := c.key(obj, k)
	if !ok {
		return err
	}
	seen := absent
	if err == nil {
		seen = obj.GetResourceVersion()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.entries[id]
	if w == nil {
		return err
	}
	if _, stale := w.replaced[seen]; !stale || c.clock.Since(w.at) > maxAge {
		delete(c.entries, id) // caught up, or changed by someone else
		return err
	}
	reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(w.obj.DeepCopyObject()).Elem())
	return nil
}

// Create creates obj and remembers it.
func (c *Client) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	if err := c.Client.Create(ctx, obj, opts...); err != nil {
		return err
	}
	c.record(obj, absent)
	return nil
}

// Update updates obj and remembers the result.
func (c *Client) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	from := obj.GetResourceVersion()
	if err := c.Client.Update(ctx, obj, opts...); err != nil {
		return err
	}
	c.record(obj, from)
	return nil
}

// Patch patches obj and remembers the result.
func (c *Client) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	from := obj.GetResourceVersion()
	if err := c.Client.Patch(ctx, obj, patch, opts...); err != nil {
		return err
	}
	c.record(obj, from)
	return nil
}

// Delete deletes obj and forgets what was written of it.
func (c *Client) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	err := c.Client.Delete(ctx, obj, opts...)
	if id, ok := c.key(obj, client.ObjectKeyFromObject(obj)); ok {
		c.mu.Lock()
		delete(c.entries, id)
		c.mu.Unlock()
	}
	return err
}

// Status is the status writer, remembering what it writes.
func (c *Client) Status() client.SubResourceWriter {
	return &statusWriter{SubResourceWriter: c.Client.Status(), c: c}
}

type statusWriter struct {
	client.SubResourceWriter
	c *Client
}

func (s *statusWriter) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	from := obj.GetResourceVersion()
	if err := s.SubResourceWriter.Update(ctx, obj, opts...); err != nil {
		return err
	}
	s.c.record(obj, from)
	return nil
}

func (s *statusWriter) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	from := obj.GetResourceVersion()
	if err := s.SubResourceWriter.Patch(ctx, obj, patch, opts...); err != nil {
		return err
	}
	s.c.record(obj, from)
	return nil
}

// record remembers obj as written over version from. A write on top of this
// process's previous one keeps what that one replaced: the cache may still be
// two writes behind.
func (c *Client) record(obj client.Object, from string) {
	id, ok := c.key(obj, client.ObjectKeyFromObject(obj))
	if !ok {
		return
	}
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	replaced := map[string]struct{}{from: {}}
	if prev := c.entries[id]; prev != nil && prev.obj.GetResourceVersion() == from {
		for v := range prev.replaced {
			replaced[v] = struct{}{}
		}
	}
	c.entries[id] = &written{obj: obj.DeepCopyObject().(client.Object), replaced: replaced, at: now}
	for k, w := range c.entries { // a sweep per write keeps the map to live entries
		if now.Sub(w.at) > maxAge {
			delete(c.entries, k)
		}
	}
}

// key names obj's kind and k; objects of no registered type (unstructured) are
// not remembered.
func (c *Client) key(obj client.Object, k client.ObjectKey) (key, bool) {
	if _, ok := obj.(interface{ UnstructuredContent() map[string]any }); ok {
		return key{}, false
	}
	gvk, err := c.Client.GroupVersionKindFor(obj)
	if err != nil {
		return key{}, false
	}
	return key{gvk: gvk, typ: reflect.TypeOf(obj), NamespacedName: k}, true
}
