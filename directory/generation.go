package directory

import (
	"context"
	"sync"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/internal/detach"
)

// genReads shares reads of the directory's generation between concurrent
// callers, as group commit shares a transaction: a caller is answered by a
// read that began after it asked, never by one already in flight, so it
// sees every directory commit made before it asked, as a read of its own
// would. While one read is in flight, the callers that arrive wait for the
// next, which begins when that one ends and answers them all. Concurrent
// postings thus read the counter about twice per round trip instead of
// once each.
type genReads struct {
	mu      sync.Mutex
	running *genRead // in flight
	next    *genRead // begins when running ends; callers arriving now join it
}

// genRead is one read of the generation and the callers it answers.
type genRead struct {
	done chan struct{}
	gen  int64
	err  error
}

// read returns the generation as read (by read) after this call began.
func (g *genReads) read(ctx context.Context, read func(context.Context) (int64, error)) (int64, error) {
	g.mu.Lock()
	if r := g.next; r != nil {
		// Not begun yet: its answer is read after this call began.
		g.mu.Unlock()
		return r.wait(ctx)
	}
	if g.running == nil {
		r := &genRead{done: make(chan struct{})}
		g.running = r
		g.mu.Unlock()
		g.run(ctx, r, read)
		return r.gen, r.err
	}
	// A read is in flight, begun before this call: this caller leads the
	// next one, for itself and whoever arrives meanwhile.
	prev, r := g.running, &genRead{done: make(chan struct{})}
	g.next = r
	g.mu.Unlock()
	<-prev.done // bounded by its leader's deadline
	g.mu.Lock()
	g.running, g.next = r, nil
	g.mu.Unlock()
	g.run(ctx, r, read)
	return r.gen, r.err
}

// run makes read r for every caller waiting on it, in the leader's
// context without its cancellation (the others wait for the answer too)
// but with its deadline, as a capacity batch does.
func (g *genReads) run(ctx context.Context, r *genRead, read func(context.Context) (int64, error)) {
	rctx, cancel := detach.Context(ctx)
	defer func() {
		cancel()
		g.mu.Lock()
		if g.running == r {
			g.running = nil
		}
		g.mu.Unlock()
		close(r.done)
	}()
	// A read that panics answers its waiters with this, never with a
	// generation of zero, which would let the cache answer them.
	r.err = discharge.E(discharge.KindInternal, "", "The directory's generation could not be read.")
	r.gen, r.err = read(rctx)
}

// wait waits for r's answer, or for the caller to give up.
func (r *genRead) wait(ctx context.Context) (int64, error) {
	select {
	case <-r.done:
		return r.gen, r.err
	case <-ctx.Done():
		return 0, discharge.Wrap(discharge.KindTimeout, "directory.Generation", ctx.Err())
	}
}
