package coalesce

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// genReads is how the directory shares reads of its generation: each
// caller's answer is the value its flight read.
type genReads struct {
	Flights[*genRead]
}

type genRead struct{ gen int64 }

func (g *genReads) read(ctx context.Context, read func(context.Context) (int64, error)) (int64, error) {
	r := &genRead{}
	err := g.Do(ctx, r, func(ctx context.Context, rs []*genRead) {
		gen, _ := read(ctx)
		for _, r := range rs {
			r.gen = gen
		}
	})
	return r.gen, err
}

// TestNeverShareAFlightBegunEarlier: a caller arriving while a flight (a
// read of the directory's generation) is in progress is answered by a
// later flight, which sees a commit made in between.
func TestNeverShareAFlightBegunEarlier(t *testing.T) {
	var g genReads
	var current, reads atomic.Int64
	current.Store(1)
	release := make(chan struct{})
	read := func(context.Context) (int64, error) {
		n := current.Load() // the value as of the read's start
		if reads.Add(1) == 1 {
			<-release
		}
		return n, nil
	}
	ctx := context.Background()
	first := make(chan int64)
	go func() {
		gen, _ := g.read(ctx, read)
		first <- gen
	}()
	waitFor(t, func() bool { return reads.Load() == 1 })
	current.Store(2) // a directory commit while the first read is in flight
	var wg sync.WaitGroup
	later := make([]int64, 4)
	for i := range later {
		wg.Add(1)
		go func() {
			defer wg.Done()
			later[i], _ = g.read(ctx, read)
		}()
	}
	waitFor(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return g.next != nil })
	time.Sleep(20 * time.Millisecond) // let the others arrive while the first read is in flight
	close(release)
	if gen := <-first; gen != 1 {
		t.Fatalf("first caller: generation %d, want 1", gen)
	}
	wg.Wait()
	for i, gen := range later {
		if gen != 2 {
			t.Fatalf("caller %d, arrived after the commit: generation %d, want 2", i, gen)
		}
	}
}

// TestWaiterGivesUp: a caller whose context ends stops waiting; the
// flight still answers the others.
func TestWaiterGivesUp(t *testing.T) {
	var g genReads
	release := make(chan struct{})
	started := make(chan struct{})
	var once sync.Once
	read := func(context.Context) (int64, error) {
		once.Do(func() { close(started) })
		<-release
		return 7, nil
	}
	go g.read(context.Background(), read)
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := g.read(context.Background(), read) // leads the next read
		done <- err
	}()
	waitFor(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return g.next != nil })
	gaveUp := make(chan error)
	go func() {
		_, err := g.read(ctx, read)
		gaveUp <- err
	}()
	time.Sleep(10 * time.Millisecond)
	cancel()
	select {
	case err := <-gaveUp:
		if err == nil {
			t.Fatal("a caller that gave up got no error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a caller that gave up is still waiting")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}
