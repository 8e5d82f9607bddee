package sitrep_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/placement"
	"github.com/dischargegateway/gateway/sitrep"
)

// fakeRecorder is a hand-written DemandRecorder.
type fakeRecorder struct {
	partitions []string
	got        []discharge.Demand
	err        error
}

func (f *fakeRecorder) RecordDemand(_ context.Context, partition string, d discharge.Demand) error {
	f.partitions = append(f.partitions, partition)
	f.got = append(f.got, d)
	return f.err
}

// search is a stored ServiceRequest's search as placement tells it.
func search(total int) placement.Search {
	return placement.Search{At: time.Date(2026, 11, 16, 10, 0, 0, 0, time.UTC),
		Principal: &auth.Principal{Org: "RXA", Role: auth.RoleTrust}, Partition: "RXA", CaseID: "e1",
		Need: &discharge.CareNeed{Setting: discharge.CareNursingDementia,
			Requirements: []discharge.Requirement{discharge.ReqDementia, discharge.ReqBariatric}},
		Outcode: "M14", RadiusKm: 25, Total: total,
		LeftOut: map[discharge.Filter]int{discharge.FilterVacancy: 4, discharge.FilterDistance: 1}}
}

// A search that finds fewer than three options is counted once, for the
// case's trust, by need and district, with no identity; one that found
// three, and a what-if question (no case), are not demand; a nil recorder
// counts nothing.
func TestUnmetDemandIsRecorded(t *testing.T) {
	rec := &fakeRecorder{}
	o := sitrep.NewDemandObserver(rec, nil)
	enough, whatIf := search(discharge.MinOptions), search(0)
	whatIf.Partition, whatIf.CaseID = "", ""
	for _, s := range []placement.Search{search(1), enough, whatIf} {
		if err := o.Observed(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(rec.got) != 1 || rec.partitions[0] != "RXA" {
		t.Fatalf("recorded %+v in %v", rec.got, rec.partitions)
	}
	d, s := rec.got[0], search(1)
	if d.Outcode != "M14" || d.Setting != discharge.CareNursingDementia || len(d.Requirements) != 2 || !d.At.Equal(s.At) ||
		d.Options != 1 || d.TopFilter != discharge.FilterVacancy {
		t.Fatalf("demand %+v", d)
	}
	if err := sitrep.NewDemandObserver(nil, nil).Observed(context.Background(), search(0)); err != nil {
		t.Fatal(err)
	}
}

// A demand count that cannot be written does not fail the answer, and is
// not dropped in silence: the log says so, by error kind only (nothing of
// the need or the district).
func TestUnmetDemandFailureIsLogged(t *testing.T) {
	rec := &fakeRecorder{err: discharge.E(discharge.KindUnavailable, "", "down")}
	var logs bytes.Buffer
	o := sitrep.NewDemandObserver(rec, slog.New(slog.NewTextHandler(&logs, nil)))
	if err := o.Observed(context.Background(), search(0)); err != nil {
		t.Fatal(err)
	}
	if err := o.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if len(rec.got) != 1 || !strings.Contains(out, "unmet demand not counted") || !strings.Contains(out, discharge.KindUnavailable.String()) {
		t.Fatalf("recorded %d, log %q", len(rec.got), out)
	}
	if strings.Contains(out, "M14") || strings.Contains(out, "nursing") || strings.Contains(out, "e1") {
		t.Fatalf("the log names the need, the district or the case: %q", out)
	}
}

// blockingRecorder records counts once release is closed.
type blockingRecorder struct {
	release chan struct{}
	mu      sync.Mutex
	got     []discharge.Demand
}

func (b *blockingRecorder) RecordDemand(_ context.Context, _ string, d discharge.Demand) error {
	<-b.release
	b.mu.Lock()
	defer b.mu.Unlock()
	b.got = append(b.got, d)
	return nil
}

func (b *blockingRecorder) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.got)
}

// The count is written behind the answer: Observed returns while the
// record is still busy, Drain waits for every count queued (and gives up
// with its context), and the counts are written in the order they came.
func TestUnmetDemandIsWrittenBehindTheAnswer(t *testing.T) {
	rec := &blockingRecorder{release: make(chan struct{})}
	o := sitrep.NewDemandObserver(rec, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 3 {
			if err := o.Observed(context.Background(), search(i)); err != nil {
				t.Error(err)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Observed waited for the record")
	}
	if n := rec.count(); n != 0 {
		t.Fatalf("%d counts written before the record answered", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := o.Drain(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Drain with the writes held: %v, want the context's deadline", err)
	}
	close(rec.release)
	if err := o.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rec.count() != 3 {
		t.Fatalf("%d counts written, want 3", rec.count())
	}
	for i, d := range rec.got {
		if d.Options != i {
			t.Fatalf("count %d has %d options: written out of order", i, d.Options)
		}
	}
	// Idle again: a later count starts a writer of its own.
	if err := o.Observed(context.Background(), search(0)); err != nil {
		t.Fatal(err)
	}
	if err := o.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rec.count() != 4 {
		t.Fatalf("%d counts written, want 4", rec.count())
	}
}

// A record that cannot keep up is not queued for without bound: past the
// queue's bound a count is dropped and logged, by error kind only.
func TestUnmetDemandQueueIsBounded(t *testing.T) {
	rec := &blockingRecorder{release: make(chan struct{})}
	var logs syncBuffer
	o := sitrep.NewDemandObserver(rec, slog.New(slog.NewTextHandler(&logs, nil)))
	const sent = 10000 + 2 // the bound and two too many
	for range sent {
		if err := o.Observed(context.Background(), search(0)); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(logs.String(), "unmet demand not counted"); n != 2 {
		t.Fatalf("%d dropped past the bound, want 2", n)
	}
	close(rec.release)
	if err := o.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	dropped := strings.Count(logs.String(), "unmet demand not counted")
	if rec.count() != 10000 || dropped != 2 {
		t.Fatalf("%d written and %d dropped of %d", rec.count(), dropped, sent)
	}
	if strings.Contains(logs.String(), "M14") {
		t.Fatal("the log names the district")
	}
}

// syncBuffer is a bytes.Buffer safe for the writer's goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
