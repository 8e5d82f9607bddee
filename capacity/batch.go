package capacity

import (
	"context"
	"log/slog"
	"sync"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/internal/detach"
)

// Placed is a posting with where its Location is geo-indexed (Pos nil: in
// no geo shard) and the postcode area of that shard.
type Placed struct {
	Capacity discharge.Capacity
	Pos      *discharge.Position
	Area     string
}

// Outcome is what became of one posting of a batch: the capacity now
// current for its location and whether this posting was applied, or why
// this posting, and only this one, was refused (Err).
type Outcome struct {
	Current discharge.Capacity
	Applied bool
	Err     error
}

// maxBatch bounds the postings one transaction records: enough to absorb
// every client of a busy gateway, few enough that a batch holds the
// record's write lock briefly.
const maxBatch = 64

// posting is one caller's posting waiting in Recorded's queue.
type posting struct {
	ctx      context.Context
	in       Placed
	out      Outcome
	done     chan struct{}
	answered bool // by the flusher, which alone answers
}

// defaultBatches is how many batches may commit at once by default. In
// BenchmarkPostings (8 callers, three rounds on each engine,
// bench/perf-2026-11-30-groupcommit.md) one batch in flight was as fast as
// two or faster in four comparisons of six and faster than four in all:
// a second transaction in flight mostly shrinks both batches.
const defaultBatches = 1

// batcher is Recorded's group commit: postings that arrive while the
// batches in flight commit wait in queue and go together in the next
// one, so concurrent postings share one transaction (one durable flush of
// the record) and one pipeline to the cache. At most max batches are
// being recorded per Recorded, each flusher's previous batch meanwhile
// being cached (flush); the goroutines that commit them run only while
// the queue is not empty.
type batcher struct {
	mu       sync.Mutex
	queue    []*posting
	flushing int // goroutines committing batches
	max      int // at most this many; 0: defaultBatches
	// cached is closed once the batch recorded last has been cached and
	// answered (nil: none yet). A batch's cache stage waits for the one
	// before it, so batches reach the cache in the order they were
	// recorded.
	cached chan struct{}
}

// SetBatches sets how many batches may commit at once (at least one).
func (r *Recorded) SetBatches(n int) {
	r.b.mu.Lock()
	r.b.max = max(n, 1)
	r.b.mu.Unlock()
}

// enqueue adds postings to the queue and starts a flusher if none runs.
func (r *Recorded) enqueue(ps ...*posting) {
	r.b.mu.Lock()
	r.b.queue = append(r.b.queue, ps...)
	limit := r.b.max
	if limit == 0 {
		limit = defaultBatches
	}
	start := r.b.flushing < limit
	if start {
		r.b.flushing++
	}
	r.b.mu.Unlock()
	if start {
		go r.flush()
	}
}

// flush commits batches until the queue is empty. Commits overlap by one
// stage: the next batch is recorded while the one before it is cached and
// answered, and no further (a flusher waits for that batch's cache stage
// before it takes another). At 16 clients a batch's record was about
// 1.0 ms and its cache about 0.7 ms, one after the other.
func (r *Recorded) flush() {
	for {
		r.b.mu.Lock()
		n := min(len(r.b.queue), maxBatch)
		if n == 0 {
			r.b.flushing--
			r.b.mu.Unlock()
			return
		}
		batch := make([]*posting, n)
		copy(batch, r.b.queue)
		r.b.queue = append(r.b.queue[:0], r.b.queue[n:]...)
		r.b.mu.Unlock()
		// The batch runs in its first caller's values (trace, logger) and
		// deadline, but not its cancellation: the others wait for it too.
		ctx, cancel := detach.Context(batch[0].ctx)
		waitFor(r.safeCommit(ctx, cancel, batch))
	}
}

// nextStage makes the next batch's place in the cache order: it returns
// the channel of the batch before it (nil: none) and its own, which its
// cache stage closes.
func (r *Recorded) nextStage() (before <-chan struct{}, mine chan struct{}) {
	mine = make(chan struct{})
	r.b.mu.Lock()
	prev := r.b.cached
	r.b.cached = mine
	r.b.mu.Unlock()
	return prev, mine
}

// safeCommit records a batch and starts its cache stage (cacheAndAnswer,
// on a goroutine of its own, once the batch before it is cached), then
// returns the channel of that batch before, for the flusher to wait on;
// done ends the batch's context once it is answered. A panic in a store,
// in either stage, answers the batch's unanswered callers with an internal
// error (as the request's own goroutine would have) instead of ending the
// process from this one.
func (r *Recorded) safeCommit(ctx context.Context, done context.CancelFunc, batch []*posting) (before <-chan struct{}) {
	before, mine := r.nextStage()
	// finish ends the batch's stage: callers left unanswered by a panic
	// (v) hear of it, and the next stage may go.
	finish := func(v any) {
		r.answerPanic(v, batch)
		close(mine)
		done()
	}
	staged := false
	defer func() {
		if !staged {
			v := recover()
			waitFor(before)
			finish(v)
		}
	}()
	outs := r.recordBatch(ctx, batch, before)
	staged = true
	go func() {
		defer func() { finish(recover()) }()
		waitFor(before)
		if outs != nil {
			r.cacheAndAnswer(ctx, batch, outs)
		}
	}()
	return before
}

// waitFor waits until ch is closed; a nil ch (no earlier stage) is not
// waited for.
func waitFor(ch <-chan struct{}) {
	if ch != nil {
		<-ch
	}
}

// answerPanic answers batch's unanswered callers after a store panicked
// with v (nothing to do for v nil).
func (r *Recorded) answerPanic(v any, batch []*posting) {
	if v == nil {
		return
	}
	r.log.Error("capacity batch panicked", slog.Any("panic", v))
	for _, p := range batch {
		if !p.answered {
			p.answer(Outcome{Current: p.in.Capacity, Err: discharge.E(discharge.KindInternal, "", "The posting could not be recorded.")})
		}
	}
}

// wait waits for a posting's outcome, or for its caller to give up: the
// posting may then still be recorded (and is, if its batch commits), as a
// posting whose caller hung up after the commit always could.
func (p *posting) wait() Outcome {
	select {
	case <-p.done:
		return p.out
	case <-p.ctx.Done():
		return Outcome{Current: p.in.Capacity, Err: discharge.Wrap(discharge.KindTimeout, "capacity.Recorded.Put", p.ctx.Err())}
	}
}

func (p *posting) answer(o Outcome) {
	p.out = o
	p.answered = true
	close(p.done)
}

// recordBatch records a batch in one transaction and returns each posting's
// outcome in the record, for its cache stage. A batch the record refuses
// as a whole is recorded again one posting at a time, so a failure is
// reported to the caller whose posting caused it and the others are kept:
// those are recorded, cached and answered here, once the batch before
// (before) is cached, and recordBatch returns nil (nothing left to cache).
func (r *Recorded) recordBatch(ctx context.Context, batch []*posting, before <-chan struct{}) []Outcome {
	cs := make([]discharge.Capacity, len(batch))
	for i, p := range batch {
		cs[i] = p.in.Capacity
	}
	outs, err := r.record.RecordBatch(ctx, cs)
	if err == nil {
		return outs
	}
	if len(batch) == 1 {
		batch[0].answer(Outcome{Current: cs[0], Err: err})
		return nil
	}
	r.log.Warn("capacity batch refused by the record: recording its postings one by one",
		slog.Int("postings", len(batch)), slog.String("error", err.Error()))
	waitFor(before)
	for _, p := range batch {
		// Each in its own caller's time, not the first caller's.
		pctx, cancel := detach.Context(p.ctx)
		if outs := r.recordBatch(pctx, []*posting{p}, nil); outs != nil {
			r.cacheAndAnswer(pctx, []*posting{p}, outs)
		}
		cancel()
	}
	return nil
}

// cacheAndAnswer caches what the record applied of a batch in one
// pipeline, and answers every caller.
func (r *Recorded) cacheAndAnswer(ctx context.Context, batch []*posting, outs []Outcome) {
	var put []Placed
	var putAt []int
	for i, o := range outs {
		if o.Err == nil && o.Applied {
			put = append(put, Placed{Capacity: o.Current, Pos: batch[i].in.Pos, Area: batch[i].in.Area})
			putAt = append(putAt, i)
		}
	}
	if len(put) > 0 {
		cached := r.Cache.PutBatch(ctx, put)
		for j, i := range putAt {
			if cached[j].Err != nil {
				r.log.Warn("capacity posting recorded but not cached: the cache is mended by the next rebuild",
					slog.String("error", cached[j].Err.Error()))
				batch[i].answer(Outcome{Current: outs[i].Current, Applied: true})
				continue
			}
			batch[i].answer(Outcome{Current: cached[j].Current, Applied: true})
		}
	}
	// After the applied ones are cached: a posting that lost to a newer
	// one of the same batch finds that one in the cache.
	for i, o := range outs {
		switch {
		case o.Err != nil:
			batch[i].answer(Outcome{Current: batch[i].in.Capacity, Err: o.Err})
		case !o.Applied:
			batch[i].answer(r.notApplied(ctx, o.Current, batch[i].in))
		}
	}
}

// notApplied answers a posting the record ignored for a newer one, cur:
// the cache may lack cur if its own write failed, so it is cached now
// unless it is there.
func (r *Recorded) notApplied(ctx context.Context, cur discharge.Capacity, in Placed) Outcome {
	got, err := r.Cache.Get(ctx, cur.LocationID)
	if err == nil {
		if have, ok := got[cur.LocationID]; ok && !have.AsOf.Before(cur.AsOf) {
			return Outcome{Current: have}
		}
		if cached, _, err := r.Cache.Put(ctx, cur, in.Pos, in.Area); err == nil {
			return Outcome{Current: cached}
		}
	}
	return Outcome{Current: cur}
}
