package capacity_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/capacity"
	"github.com/dischargegateway/gateway/discharge"
)

// gatedRecord is the real record, with a hook run before each batch: a
// test holds the first batch back, or refuses batches, through it.
type gatedRecord struct {
	rec     capacity.Record
	batches atomic.Int64
	before  func(n int) error
}

func (g *gatedRecord) RecordBatch(ctx context.Context, cs []discharge.Capacity) ([]capacity.Outcome, error) {
	g.batches.Add(1)
	if g.before != nil {
		if err := g.before(len(cs)); err != nil {
			return nil, err
		}
	}
	return g.rec.RecordBatch(ctx, cs)
}

func (g *gatedRecord) Record(ctx context.Context, c discharge.Capacity) (discharge.Capacity, bool, error) {
	return g.rec.Record(ctx, c)
}

func (g *gatedRecord) EachLatest(ctx context.Context, f func(discharge.Capacity) error) error {
	return g.rec.EachLatest(ctx, f)
}

func (g *gatedRecord) HistoryPage(ctx context.Context, loc string, offset, count int) ([]discharge.Capacity, int, error) {
	return g.rec.HistoryPage(ctx, loc, offset, count)
}

func silent() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

// TestBatchRefusesOnlyItsInvalidMember: a batch of postings with one the
// record cannot hold commits the others (record and cache) and refuses
// that one, with its kind and the element at fault.
func TestBatchRefusesOnlyItsInvalidMember(t *testing.T) {
	ctx := context.Background()
	w := newRecordedWorld(t)
	rec := capacity.NewRecorded(w.record, w.cache, silent())
	ps := []capacity.Placed{
		{Capacity: discharge.Capacity{LocationID: "A", AsOf: w.now, Beds: beds(1)}},
		{Capacity: discharge.Capacity{LocationID: "B", AsOf: w.now, Beds: beds(2)}},
		{Capacity: discharge.Capacity{LocationID: "bad\x00id", AsOf: w.now, Beds: beds(3)}},
		{Capacity: discharge.Capacity{LocationID: "C", AsOf: w.now, Beds: beds(4)}},
		{Capacity: discharge.Capacity{LocationID: "A", AsOf: w.now.Add(time.Minute), Beds: beds(5)}},
	}
	outs := rec.PutBatch(ctx, ps)
	for i, o := range outs {
		if i == 2 {
			var e *discharge.Error
			if !errors.As(o.Err, &e) || e.Kind != discharge.KindValue || len(e.Issues) != 1 || e.Issues[0].Expression != "locationId" || o.Applied {
				t.Fatalf("invalid member: %+v", o)
			}
			continue
		}
		if o.Err != nil || !o.Applied {
			t.Fatalf("member %d: %+v", i, o)
		}
	}
	got := latest(t, w.record)
	want := map[string]int{"A": 5, "B": 2, "C": 4}
	if len(got) != len(want) {
		t.Fatalf("record holds %v", got)
	}
	for loc, free := range want {
		if got[loc].Beds[0].AcceptingAdmissions != free {
			t.Errorf("record: %s holds %+v", loc, got[loc])
		}
	}
	if got["A"].Version != 2 {
		t.Errorf("A at version %d, want 2 (two postings of one batch)", got["A"].Version)
	}
	cached, err := w.cache.Get(ctx, "A", "B", "C", "bad\x00id")
	if err != nil {
		t.Fatal(err)
	}
	for loc, free := range want {
		if cached[loc].Beds[0].AcceptingAdmissions != free {
			t.Errorf("cache: %s holds %+v", loc, cached[loc])
		}
	}
	if _, ok := cached["bad\x00id"]; ok {
		t.Error("the refused posting was cached")
	}
}

// TestConcurrentPostingsShareACommit: postings that arrive while a batch
// commits go together in the next one, and each caller is answered with
// its own posting once that batch has committed.
func TestConcurrentPostingsShareACommit(t *testing.T) {
	ctx := context.Background()
	w := newRecordedWorld(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	g := &gatedRecord{rec: w.record}
	g.before = func(int) error {
		once.Do(func() { close(entered); <-release })
		return nil
	}
	rec := capacity.NewRecorded(g, w.cache, silent())
	rec.SetBatches(1) // one batch in flight: the others wait for it
	const n = 16
	type answer struct {
		c       discharge.Capacity
		applied bool
		err     error
	}
	answers := make([]answer, n)
	var answered atomic.Int64
	var wg sync.WaitGroup
	put := func(i int) {
		defer wg.Done()
		c, applied, err := rec.Put(ctx, discharge.Capacity{LocationID: fmt.Sprintf("L%d", i), AsOf: w.now, Beds: beds(i % 10)}, nil, "")
		answers[i] = answer{c, applied, err}
		answered.Add(1)
	}
	wg.Add(1)
	go put(0)
	<-entered // the first batch is committing
	for i := 1; i < n; i++ {
		wg.Add(1)
		go put(i)
	}
	for deadline := time.Now().Add(10 * time.Second); capacity.Queued(rec) < n-1; {
		if time.Now().After(deadline) {
			t.Fatalf("only %d postings queued", capacity.Queued(rec))
		}
		time.Sleep(time.Millisecond)
	}
	if a := answered.Load(); a != 0 {
		t.Fatalf("%d postings answered before their batch committed", a)
	}
	close(release)
	wg.Wait()
	if b := g.batches.Load(); b != 2 {
		t.Fatalf("%d batches for %d postings, want 2 (one, then the %d that waited)", b, n, n-1)
	}
	got := latest(t, w.record)
	for i, a := range answers {
		loc := fmt.Sprintf("L%d", i)
		if a.err != nil || !a.applied || a.c.LocationID != loc || a.c.Beds[0].AcceptingAdmissions != i%10 {
			t.Fatalf("posting %d answered %+v", i, a)
		}
		if got[loc].Beds[0].AcceptingAdmissions != i%10 {
			t.Fatalf("posting %d acknowledged but the record holds %+v", i, got[loc])
		}
	}
}

// TestRefusedBatchIsRetriedOneByOne: when the record refuses a batch as a
// whole (a failed transaction), its postings are recorded one at a time,
// so every posting that can be kept is kept and acknowledged.
func TestRefusedBatchIsRetriedOneByOne(t *testing.T) {
	ctx := context.Background()
	w := newRecordedWorld(t)
	g := &gatedRecord{rec: w.record}
	g.before = func(n int) error {
		if n > 1 {
			return discharge.Wrap(discharge.KindUnavailable, "test", errors.New("transaction aborted"))
		}
		return nil
	}
	rec := capacity.NewRecorded(g, w.cache, silent())
	outs := rec.PutBatch(ctx, []capacity.Placed{
		{Capacity: discharge.Capacity{LocationID: "A", AsOf: w.now, Beds: beds(1)}},
		{Capacity: discharge.Capacity{LocationID: "B", AsOf: w.now, Beds: beds(2)}},
		{Capacity: discharge.Capacity{LocationID: "C", AsOf: w.now, Beds: beds(3)}},
	})
	for i, o := range outs {
		if o.Err != nil || !o.Applied {
			t.Fatalf("member %d: %+v", i, o)
		}
	}
	if got := latest(t, w.record); len(got) != 3 || got["C"].Beds[0].AcceptingAdmissions != 3 {
		t.Fatalf("record holds %v", got)
	}
	if b := g.batches.Load(); b != 4 {
		t.Fatalf("%d calls to the record, want 4 (the batch, then each posting)", b)
	}
}

// TestPanickingBatchAnswersItsCallers: a store that panics answers the
// batch's callers with an internal error, and the next posting is
// recorded (the flusher lives on, the process too).
func TestPanickingBatchAnswersItsCallers(t *testing.T) {
	ctx := context.Background()
	w := newRecordedWorld(t)
	var calls atomic.Int64
	g := &gatedRecord{rec: w.record}
	g.before = func(int) error {
		if calls.Add(1) == 1 {
			panic("store bug")
		}
		return nil
	}
	rec := capacity.NewRecorded(g, w.cache, silent())
	_, _, err := rec.Put(ctx, discharge.Capacity{LocationID: "A", AsOf: w.now, Beds: beds(1)}, nil, "")
	if discharge.ErrorKind(err) != discharge.KindInternal {
		t.Fatalf("after a panic: %v", err)
	}
	if _, applied, err := rec.Put(ctx, discharge.Capacity{LocationID: "A", AsOf: w.now, Beds: beds(2)}, nil, ""); err != nil || !applied {
		t.Fatalf("the posting after a panic: %v %v", applied, err)
	}
}

// gatedCache is the real cache with a hook before each PutBatch: a test
// holds a batch's cache stage back through it.
type gatedCache struct {
	capacity.Cache
	before func(ps []capacity.Placed)
}

func (g *gatedCache) PutBatch(ctx context.Context, ps []capacity.Placed) []capacity.Outcome {
	if g.before != nil {
		g.before(ps)
	}
	return g.Cache.PutBatch(ctx, ps)
}

// TestNextBatchIsRecordedWhileOneIsCached: while a batch is being cached,
// the next is recorded (the two stages overlap), but it is cached and
// answered only after the batch before it: a later posting of the same
// location, recorded while the earlier one's caching is held, never
// reaches the cache first, and the cache ends with the later one.
func TestNextBatchIsRecordedWhileOneIsCached(t *testing.T) {
	ctx := context.Background()
	w := newRecordedWorld(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var order []int // AcceptingAdmissions of each batch's first posting, as it reaches the cache
	var mu sync.Mutex
	cache := &gatedCache{Cache: w.cache, before: func(ps []capacity.Placed) {
		mu.Lock()
		order = append(order, ps[0].Capacity.Beds[0].AcceptingAdmissions)
		mu.Unlock()
		once.Do(func() { close(entered); <-release })
	}}
	g := &gatedRecord{rec: w.record}
	rec := capacity.NewRecorded(g, cache, silent())
	rec.SetBatches(1)

	first := make(chan error, 1)
	go func() {
		_, _, err := rec.Put(ctx, discharge.Capacity{LocationID: "L1", AsOf: w.now, Beds: beds(1)}, nil, "")
		first <- err
	}()
	<-entered // the first batch is recorded, and its caching held
	second := make(chan discharge.Capacity, 1)
	go func() {
		c, _, err := rec.Put(ctx, discharge.Capacity{LocationID: "L1", AsOf: w.now.Add(time.Minute), Beds: beds(2)}, nil, "")
		if err != nil {
			t.Error(err)
		}
		second <- c
	}()
	// The second batch commits to the record (RecordBatch counts a batch
	// as it begins, so the record itself is what is waited for).
	for deadline := time.Now().Add(10 * time.Second); latest(t, w.record)["L1"].Beds[0].AcceptingAdmissions != 2; {
		if time.Now().After(deadline) {
			t.Fatalf("the second batch was not recorded while the first was cached (%d batches begun)", g.batches.Load())
		}
		time.Sleep(time.Millisecond)
	}
	// Recorded, but nobody is answered and the cache has neither posting.
	if got, err := w.cache.Get(ctx, "L1"); err != nil || len(got) != 0 {
		t.Fatalf("the cache holds %+v (%v) while the first batch's caching is held", got, err)
	}
	time.Sleep(20 * time.Millisecond)
	select {
	case <-first:
		t.Fatal("the first posting was answered before it was cached")
	case <-second:
		t.Fatal("the second posting was answered before the first was cached")
	default:
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if c := <-second; c.Beds[0].AcceptingAdmissions != 2 || c.Version != 2 {
		t.Fatalf("second answered %+v", c)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(order) != 2 || order[0] != 1 || order[1] != 2 {
		t.Fatalf("batches reached the cache in the order %v, want [1 2]", order)
	}
	got, err := w.cache.Get(ctx, "L1")
	if err != nil || got["L1"].Beds[0].AcceptingAdmissions != 2 {
		t.Fatalf("the cache holds %+v (%v)", got["L1"], err)
	}
}
