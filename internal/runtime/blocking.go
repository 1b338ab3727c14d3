package runtime

import "context"

type blockingKey struct{}

// WithBlocking returns ctx carrying f, which Blocking calls: the caller learns
// that a call is about to wait on something other than this host's CPU (the
// agent then lets other pods start meanwhile).
func WithBlocking(ctx context.Context, f func()) context.Context {
	return context.WithValue(ctx, blockingKey{}, f)
}

// Blocking says that what follows waits on something outside the host (a
// registry) or on a container's own work (a hook): backends call it before a
// pull goes to the network.
func Blocking(ctx context.Context) {
	if f, ok := ctx.Value(blockingKey{}).(func()); ok {
		f()
	}
}
