package main

import (
	"testing"
	"time"
)

// The twin adds what a placement cost beyond bare Echo, never less than
// nothing.
func TestTwinWork(t *testing.T) {
	for _, c := range []struct{ placement, redis, bare, want time.Duration }{
		{1500 * time.Microsecond, 100 * time.Microsecond, 100 * time.Microsecond, 1500 * time.Microsecond},
		{1200 * time.Microsecond, 0, 200 * time.Microsecond, 1000 * time.Microsecond},
		{50 * time.Microsecond, 0, 200 * time.Microsecond, 0},
	} {
		if got := twinWork(c.placement, c.redis, c.bare); got != c.want {
			t.Errorf("twinWork(%v, %v, %v) = %v, want %v", c.placement, c.redis, c.bare, got, c.want)
		}
	}
}

// work depends on every unit done (so the compiler cannot drop the loop),
// and the calibration counts some units in a microsecond.
func TestWorkIsDone(t *testing.T) {
	if work(1000) == work(1001) {
		t.Fatal("work(1000) == work(1001): the units do not all count")
	}
	if u := unitsPerMicrosecond(); !(u > 0) {
		t.Fatalf("%v units a microsecond", u)
	}
}
