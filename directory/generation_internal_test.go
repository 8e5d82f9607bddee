package directory

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestGenReadsNeverShareAReadBegunEarlier: a caller arriving while a read
// of the generation is in flight is answered by a later read, which sees a
// commit made in between.
func TestGenReadsNeverShareAReadBegunEarlier(t *testing.T) {
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

// TestGenReadsWaiterGivesUp: a caller whose context ends stops waiting;
// the read still answers the others.
func TestGenReadsWaiterGivesUp(t *testing.T) {
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
