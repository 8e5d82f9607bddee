package directory

import (
	"context"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/internal/coalesce"
)

// genReads shares reads of the directory's generation between concurrent
// callers (coalesce.Flights): a caller is answered by a read that began
// after it asked, never by one already in flight, so it sees every
// directory commit made before it asked, as a read of its own would.
// Concurrent postings thus read the counter about twice per round trip
// instead of once each.
type genReads struct {
	flights coalesce.Flights[*genRead]
}

// genRead is one caller's answer.
type genRead struct {
	gen int64
	err error
}

// read returns the generation as read (by read) after this call began.
func (g *genReads) read(ctx context.Context, read func(context.Context) (int64, error)) (int64, error) {
	r := &genRead{}
	err := g.flights.Do(ctx, r, func(ctx context.Context, rs []*genRead) {
		// A read that panics answers its waiters with this, never with a
		// generation of zero, which would let the cache answer them.
		failed := discharge.E(discharge.KindInternal, "", "The directory's generation could not be read.")
		for _, r := range rs {
			r.err = failed
		}
		gen, err := read(ctx)
		for _, r := range rs {
			r.gen, r.err = gen, err
		}
	})
	if err != nil {
		return 0, discharge.Wrap(discharge.KindTimeout, "directory.Generation", err)
	}
	return r.gen, r.err
}
