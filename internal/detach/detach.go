// Package detach gives work done on behalf of several callers a context of
// its own: the first caller's values and deadline, without its
// cancellation, so that the caller going away does not fail the others
// waiting on the same work (a capacity batch, a shared rate-limit round
// trip, a shared read of the directory's generation).
package detach

import "context"

// Context is ctx's values and deadline without its cancellation; cancel
// releases it.
func Context(ctx context.Context) (context.Context, context.CancelFunc) {
	d := context.WithoutCancel(ctx)
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(d, dl)
	}
	return context.WithCancel(d)
}
