package testclock

import (
	"testing"
	"time"

	"github.com/dischargegateway/gateway/discharge"
)

func TestAwayFrom(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	for _, c := range []struct {
		name      string
		at        time.Time
		wantSleep time.Duration
	}{
		{"midday", time.Date(2026, 12, 2, 12, 0, 0, 0, london), 0},
		{"one second before midnight in winter", time.Date(2026, 12, 2, 23, 59, 59, 0, london), 2 * time.Second},
		{"a minute before midnight in summer (BST)", time.Date(2026, 7, 1, 23, 59, 0, 0, london), 61 * time.Second},
		{"just outside the margin", time.Date(2026, 12, 2, 23, 57, 59, 0, london), 0},
		{"just after midnight", time.Date(2026, 12, 3, 0, 0, 1, 0, london), 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			var slept time.Duration
			got := awayFrom(c.at, func(d time.Duration) { slept += d }, func() time.Time { return c.at.Add(slept) })
			if slept != c.wantSleep {
				t.Fatalf("slept %v, want %v", slept, c.wantSleep)
			}
			if !got.Equal(c.at.Add(slept)) {
				t.Fatalf("returned %v, want %v", got, c.at.Add(slept))
			}
			// Whatever it returns is at least Margin-1s before the next day.
			today := discharge.Today(got)
			_, next := discharge.ReportingHours(today)
			if left := time.Unix(next*3600, 0).Sub(got); left < Margin-time.Second {
				t.Fatalf("%v left in %s", left, today)
			}
		})
	}
}
