package capacity

import (
	"context"
	"log/slog"

	"github.com/dischargegateway/gateway/directory"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/placement"
)

// Record is the system of record behind the capacity cache: every applied
// posting, durably, as its provider asserted it (adapters/sqlstore's
// Capacity). The cache (Store) is derived from it and can be rebuilt.
type Record interface {
	// Record stores a posting unless the latest recorded for its location
	// is newer (an older one is ignored, an equal asOf corrects), and
	// returns the posting now latest and whether this one was applied.
	Record(ctx context.Context, c discharge.Capacity) (discharge.Capacity, bool, error)
	// RecordBatch records postings in one transaction, in order, each as
	// Record would; a posting refused on its own (Outcome.Err) is left out
	// and the others recorded. An error means none was recorded.
	RecordBatch(ctx context.Context, cs []discharge.Capacity) ([]Outcome, error)
	// EachLatest calls f with every location's latest posting.
	EachLatest(ctx context.Context, f func(discharge.Capacity) error) error
	// HistoryPage returns a page of a location's postings, newest first,
	// and how many it holds: every posting ever applied.
	HistoryPage(ctx context.Context, loc string, offset, count int) ([]discharge.Capacity, int, error)
}

// Cache is the capacity cache as a gateway uses it: current postings and
// their geo index (the Store's reads and writes, but not its history, which
// is the record's), the posting versions placement caches by, and the geo
// index of directory Locations (adapters/rediscache's CapacityStore). Put
// keeps the version of the posting it is given, the record's, so a
// posting has one version wherever it is read (a posting of version 0 is
// given the one after the cache's, for a cache used without a record).
type Cache interface {
	Put(ctx context.Context, c discharge.Capacity, pos *discharge.Position, area string) (discharge.Capacity, bool, error)
	Get(ctx context.Context, ids ...string) (map[string]discharge.Capacity, error)
	Near(ctx context.Context, areas []string, beds []discharge.BedType, lat, lon, radiusKm float64, limit int) ([]placement.Nearby, error)
	Covering(ctx context.Context, outcode string) ([]string, error)
	Versions(ctx context.Context, ids ...string) ([]int64, error)
	IndexLocation(ctx context.Context, id string, pos discharge.Position, area string) error
	NearLocations(ctx context.Context, areas []string, lat, lon, radiusKm float64, limit int) ([]discharge.Nearby, error)
	// PutBatch stores postings as Put does, in order, each with its own
	// outcome (one round trip or two for the batch).
	PutBatch(ctx context.Context, ps []Placed) []Outcome
}

// Recorded is a capacity store whose postings go to the record first and
// to the cache second; reads are the cache's. It is the Store the Service
// (and anything else that posts capacity: the demo world, `gateway seed`)
// writes through, so the acknowledged write is the record's commit.
type Recorded struct {
	Cache
	record Record
	log    *slog.Logger
	b      batcher
}

var (
	_ Cache = (*Recorded)(nil)
	_ Store = (*Recorded)(nil)
)

// NewRecorded returns the store that records postings in record before
// caching them in cache. A nil log is slog.Default.
func NewRecorded(record Record, cache Cache, log *slog.Logger) *Recorded {
	if log == nil {
		log = slog.Default()
	}
	return &Recorded{Cache: cache, record: record, log: log}
}

// HistoryPage returns a page of a location's postings, newest first, and
// how many there are: the record's, which keeps every posting applied (the
// cache keeps only the current one).
func (r *Recorded) HistoryPage(ctx context.Context, loc string, offset, count int) ([]discharge.Capacity, int, error) {
	return r.record.HistoryPage(ctx, loc, offset, count)
}

// Put records a posting, then caches the posting now latest. Once the
// record has committed, the posting is acknowledged whatever the cache
// does: a cache failure is logged, not returned, and mended by the next
// rebuild (Rebuilder), so a client never retries a posting that is
// already kept. The capacity returned is the cache's when it answered (the
// version reads will show), else the record's.
//
// Postings are group-committed (batch.go): those that arrive while one
// batch commits are recorded together in the next transaction and cached
// in one pipeline, and each caller is answered only once its batch has
// committed. A batch the record refuses is recorded again posting by
// posting, so only the posting at fault fails.
func (r *Recorded) Put(ctx context.Context, c discharge.Capacity, pos *discharge.Position, area string) (discharge.Capacity, bool, error) {
	p := &posting{ctx: ctx, in: Placed{Capacity: c, Pos: pos, Area: area}, done: make(chan struct{})}
	r.enqueue(p)
	o := p.wait()
	return o.Current, o.Applied, o.Err
}

// PutBatch records and caches postings as Put does, in order, in as few
// batches as the queue allows (a bulk import's rows commit together).
func (r *Recorded) PutBatch(ctx context.Context, ps []Placed) []Outcome {
	queued := make([]*posting, len(ps))
	for i, in := range ps {
		queued[i] = &posting{ctx: ctx, in: in, done: make(chan struct{})}
	}
	r.enqueue(queued...)
	outs := make([]Outcome, len(ps))
	for i, p := range queued {
		outs[i] = p.wait()
	}
	return outs
}

// Placer says where a Location is from its position or postcode
// (directory.Service.Place).
type Placer interface {
	Place(pos *discharge.Position, postcode string) (*discharge.Position, string)
}

var _ Placer = (*directory.Service)(nil)

// LocationSearcher pages through the directory's Locations in the record
// (the fhir.Store the directory is kept in).
type LocationSearcher interface {
	Search(ctx context.Context, partition string, q fhir.Query) ([]fhir.Resource, int, error)
}

// Rebuilder puts into the cache what the record holds: every location's
// latest posting, geo-indexed where its directory Location is, and the geo
// index of directory Locations behind Location?near=. It is how an empty
// or flushed Redis (or the embedded one after a restart) heals; until it
// has run, placement sees the missing locations' capacity as unknown.
type Rebuilder struct {
	Record    Record
	Cache     Cache
	Directory LocationSearcher
	Places    Placer
}

// RebuildReport is what a rebuild did.
type RebuildReport struct {
	Postings  int // latest postings in the record
	Cached    int // of those, put into the cache (it lacked them or held older ones)
	Locations int // directory Locations geo-indexed
}

// pageSize is how many postings one cache read checks, and how many
// Locations one directory read takes.
const pageSize = 500

// Rebuild puts every latest posting the cache lacks, or holds an older
// posting or version of, into the cache. With force, or when any was missing, it
// first geo-indexes every directory Location again (a cache that lost
// postings lost the Location index too). A posting racing with the
// rebuild is safe either way: the cache never lets an older posting
// replace a newer one.
func (b *Rebuilder) Rebuild(ctx context.Context, force bool) (RebuildReport, error) {
	var rep RebuildReport
	var missing, batch []discharge.Capacity
	check := func() error {
		if len(batch) == 0 {
			return nil
		}
		ids := make([]string, len(batch))
		for i, c := range batch {
			ids[i] = c.LocationID
		}
		have, err := b.Cache.Get(ctx, ids...)
		if err != nil {
			return err
		}
		for _, c := range batch {
			// A version below the record's: a cache written before it kept
			// the record's versions (they read as 0) or that missed a
			// correction at the same as-of.
			if h, ok := have[c.LocationID]; !ok || h.AsOf.Before(c.AsOf) || h.Version < c.Version {
				missing = append(missing, c)
			}
		}
		batch = batch[:0]
		return nil
	}
	err := b.Record.EachLatest(ctx, func(c discharge.Capacity) error {
		rep.Postings++
		batch = append(batch, c)
		if len(batch) == pageSize {
			return check()
		}
		return nil
	})
	if err == nil {
		err = check()
	}
	if err != nil {
		return rep, err
	}
	if !force && len(missing) == 0 {
		return rep, nil
	}
	places, err := b.indexLocations(ctx)
	rep.Locations = len(places)
	if err != nil {
		return rep, err
	}
	for _, c := range missing {
		pl := places[c.LocationID]
		if _, _, err := b.Cache.Put(ctx, c, pl.Position, pl.Area); err != nil {
			return rep, err
		}
		rep.Cached++
	}
	return rep, nil
}

// indexLocations geo-indexes every directory Location that has a place and
// returns where each is.
func (b *Rebuilder) indexLocations(ctx context.Context) (map[string]directory.Place, error) {
	places := map[string]directory.Place{}
	for offset := 0; ; offset += pageSize {
		page, total, err := b.Directory.Search(ctx, directory.Partition, fhir.Query{Type: "Location", Offset: offset, Count: pageSize})
		if err != nil {
			return places, err
		}
		for _, r := range page {
			doc, err := fhir.DecodeDoc(r.JSON)
			if err != nil {
				return places, err
			}
			pos, area := b.Places.Place(mappings.LocationPlace(doc))
			if pos == nil {
				continue
			}
			if err := b.Cache.IndexLocation(ctx, r.ID, *pos, area); err != nil {
				return places, err
			}
			places[r.ID] = directory.Place{Position: pos, Area: area}
		}
		if len(page) == 0 || offset+len(page) >= total {
			return places, nil
		}
	}
}
