package sitrep

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/placement"
)

// DemandRecorder records unmet demand: a search that found fewer than
// discharge.MinOptions options, without the patient's identity, in the
// partition of the trust whose case it was (adapters/sqlstore.Sitrep).
type DemandRecorder interface {
	RecordDemand(ctx context.Context, partition string, d discharge.Demand) error
}

// DemandObserver counts unmet demand (docs/sitrep.md) from the searches
// placement answers: a placement.Observer. Only a stored ServiceRequest's
// search is counted (it has a case, so a trust); a what-if question is
// not demand.
//
// The count is written behind the answer, not in it. A search short of
// options already waits for its audit entry's commit; waiting for a second
// commit, the count's, before that one made those searches half of the
// slowest one in a hundred at 25,000 providers (docs/performance.md,
// thirteenth session). Observed queues the count and returns; one writer
// goroutine, started when the queue has work and gone when it is empty,
// writes the queue in order. What a crash can lose is what was queued and
// not yet written (the last few milliseconds' counts); a failed write was
// already lost, logged, before. `gateway serve` drains the queue on
// shutdown (Drain) after the last request has been answered.
type DemandObserver struct {
	rec DemandRecorder
	log *slog.Logger

	mu      sync.Mutex
	queue   []pendingDemand
	pending int // queued or in the writer's hands, not yet written
	writing bool
	idle    chan struct{} // closed when no writer runs; replaced when one starts
}

// pendingDemand is a count waiting for the writer.
type pendingDemand struct {
	partition string
	d         discharge.Demand
}

// maxQueuedDemand bounds the counts not yet written: past it, a count is dropped and logged
// as a failed write would be (a record that cannot keep up is down).
const maxQueuedDemand = 10000

// demandWriteTimeout bounds one count's write.
const demandWriteTimeout = 10 * time.Second

// NewDemandObserver counts into rec; log (nil: discarded) hears of a count
// that could not be written.
func NewDemandObserver(rec DemandRecorder, log *slog.Logger) *DemandObserver {
	idle := make(chan struct{})
	close(idle)
	return &DemandObserver{rec: rec, log: log, idle: idle}
}

var _ placement.Observer = (*DemandObserver)(nil)

// Observed counts a search that found fewer than discharge.MinOptions
// options: it queues one counter upsert for the writer and returns (a
// write on the slow path only, a search already short of options). The
// count is a by-product, so a failure to write it never fails the
// placement answer: it is logged by error kind only (never the need or the
// district, which describe the patient). Observed always returns nil.
func (o *DemandObserver) Observed(ctx context.Context, s placement.Search) error {
	if o.rec == nil || s.Partition == "" || s.Need == nil || s.Total >= discharge.MinOptions {
		return nil
	}
	d := discharge.Demand{At: s.At, Outcode: s.Outcode, Setting: s.Need.Setting, Requirements: slices.Clone(s.Need.Requirements),
		Options: s.Total, TopFilter: discharge.TopExclusion(s.LeftOut)}
	o.mu.Lock()
	if o.pending >= maxQueuedDemand {
		o.mu.Unlock()
		o.failed(ctx, discharge.E(discharge.KindUnavailable, "", "the unmet demand queue is full"))
		return nil
	}
	o.queue = append(o.queue, pendingDemand{partition: s.Partition, d: d})
	o.pending++
	if !o.writing {
		o.writing = true
		o.idle = make(chan struct{})
		go o.write(o.idle)
	}
	o.mu.Unlock()
	return nil
}

// write writes the queue until it is empty, then closes idle.
func (o *DemandObserver) write(idle chan struct{}) {
	for {
		o.mu.Lock()
		batch := o.queue
		o.queue = nil
		if len(batch) == 0 {
			o.writing = false
			close(idle)
			o.mu.Unlock()
			return
		}
		o.mu.Unlock()
		for _, p := range batch {
			ctx, cancel := context.WithTimeout(context.Background(), demandWriteTimeout)
			if err := o.rec.RecordDemand(ctx, p.partition, p.d); err != nil {
				o.failed(ctx, err)
			}
			cancel()
			o.mu.Lock()
			o.pending--
			o.mu.Unlock()
		}
	}
}

// failed logs a count that was not written, by error kind only.
func (o *DemandObserver) failed(ctx context.Context, err error) {
	if o.log != nil {
		o.log.WarnContext(ctx, "unmet demand not counted", "kind", discharge.ErrorKind(err).String())
	}
}

// Drain waits until every count queued so far has been written (or its
// write has failed), or ctx ends. Counts queued while it waits are waited
// for too.
func (o *DemandObserver) Drain(ctx context.Context) error {
	o.mu.Lock()
	idle := o.idle
	o.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
