// Package coalesce shares one piece of work between concurrent callers, as
// group commit shares a transaction: a caller's item is handled by a
// flight that begins after it asked, never by one already in flight, so
// the caller sees every change made before it asked, as work of its own
// would. While one flight runs, the callers that arrive join the next,
// which begins when that one ends and handles them all. The shared rate
// limit's round trip and the directory generation's read use it.
package coalesce

import (
	"context"
	"sync"

	"github.com/dischargegateway/gateway/internal/detach"
)

// Flights runs the flights of one piece of work. The zero value is ready.
type Flights[T any] struct {
	mu      sync.Mutex
	running *flight[T] // in flight
	next    *flight[T] // begins when running ends; callers arriving now join it
}

// flight is one run of the work and the items it handles.
type flight[T any] struct {
	done  chan struct{}
	items []T
}

// Do puts item in a flight that begins after this call and returns once
// that flight has run: nil, and the caller reads its answer from item
// (run writes each item's). A caller that finds no flight waiting joins
// none: it runs one (after the flight in progress, if any) on behalf of
// every caller that joins it meanwhile, in its own context's values and
// deadline without its cancellation (detach.Context), and returns when it
// has run. A caller that joined another's flight and gives up before it
// ran gets ctx's error; its item may still be handled.
//
// run must answer every item; a panic in run still ends the flight, so
// run should give each item a failure before it starts that its success
// replaces.
func (f *Flights[T]) Do(ctx context.Context, item T, run func(ctx context.Context, items []T)) error {
	f.mu.Lock()
	if fl := f.next; fl != nil {
		// Not begun yet: it runs after this call began.
		fl.items = append(fl.items, item)
		f.mu.Unlock()
		select {
		case <-fl.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	fl := &flight[T]{done: make(chan struct{}), items: []T{item}}
	if prev := f.running; prev != nil {
		// A flight is in progress: this caller leads the next one, for
		// itself and whoever arrives meanwhile.
		f.next = fl
		f.mu.Unlock()
		<-prev.done // bounded by its leader's deadline
		f.mu.Lock()
		f.next = nil
	}
	f.running = fl
	f.mu.Unlock()
	f.run(ctx, fl, run)
	return nil
}

// run runs fl for every caller in it.
func (f *Flights[T]) run(ctx context.Context, fl *flight[T], run func(context.Context, []T)) {
	rctx, cancel := detach.Context(ctx)
	defer func() {
		cancel()
		f.mu.Lock()
		if f.running == fl {
			f.running = nil
		}
		f.mu.Unlock()
		close(fl.done)
	}()
	// The items are read under the lock: no caller joins fl once it is
	// running (f.next no longer points at it).
	f.mu.Lock()
	items := fl.items
	f.mu.Unlock()
	run(rctx, items)
}
