package detach

import (
	"context"
	"testing"
	"time"
)

type key struct{}

// The detached context keeps the caller's values and deadline and outlives
// the caller's cancellation.
func TestContext(t *testing.T) {
	dl := time.Now().Add(time.Hour)
	parent, cancelParent := context.WithDeadline(context.WithValue(context.Background(), key{}, "v"), dl)
	ctx, cancel := Context(parent)
	defer cancel()
	cancelParent()
	if ctx.Err() != nil {
		t.Fatalf("cancelled with its caller: %v", ctx.Err())
	}
	if got, ok := ctx.Deadline(); !ok || !got.Equal(dl) {
		t.Fatalf("deadline %v %v, want %v", got, ok, dl)
	}
	if ctx.Value(key{}) != "v" {
		t.Fatal("lost the caller's values")
	}
	cancel()
	if ctx.Err() == nil {
		t.Fatal("cancel did not end it")
	}
	if _, ok := func() (time.Time, bool) { c, cl := Context(context.Background()); defer cl(); return c.Deadline() }(); ok {
		t.Fatal("a deadline from nowhere")
	}
}
