package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/internal/testclock"
)

func stockAt(t *testing.T, r *sqlstore.Sitrep, partition string, day discharge.Date) (int, bool) {
	t.Helper()
	_, closeHour := discharge.ReportingHours(day)
	open, kept, err := r.StockAt(context.Background(), partition, closeHour)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, o := range open {
		n += o.N
	}
	return n, kept
}

// The stock at a day's close, copied on the first change after it, on
// both engines. The database's clock cannot be moved, so the test writes
// now and then ages the copies a day (AgeStockForTest), as if the first
// change had happened yesterday.
//
// The test's dates come from the Go clock and the copies' closes from the
// database's, so both must fall on one reporting day: within two minutes of
// midnight the case waits for it to pass (testclock; a run at 23:59:59
// once failed).
func TestStockAtClose(t *testing.T) {
	ctx := context.Background()
	sqlEngines(t, map[string]func(t *testing.T, s *sqlstore.Store){
		"copy on the first change after each close": func(t *testing.T, s *sqlstore.Store) {
			now := testclock.AwayFromMidnight()
			today := discharge.Today(now)
			yesterday := discharge.DateOfDay(discharge.DayNumber(today) - 1)
			before := discharge.DateOfDay(discharge.DayNumber(today) - 2)
			nctr := yesterday.String()
			r := sqlstore.NewSitrep(s)
			// A day that closed before the copies began has no answer.
			if _, kept := stockAt(t, r, "RXA", before); kept {
				t.Fatal("a close before migration 18 was answered")
			}
			// Yesterday: a goes NCTR (its first change copies the empty
			// stock under the close before it).
			writeSitrepEnc(t, s, "RXA", 1, now, sitrepEnc{id: "a", pathway: "3", nctrSince: nctr, reason: "other"})
			if err := sqlstore.AgeStockForTest(ctx, s, "RXA", 24); err != nil {
				t.Fatal(err)
			}
			// Today: b goes NCTR (the first change after yesterday's close
			// copies a), then c (no second copy), then a is discharged.
			writeSitrepEnc(t, s, "RXA", 1, now, sitrepEnc{id: "b", pathway: "1", nctrSince: nctr, reason: "transport"})
			writeSitrepEnc(t, s, "RXA", 1, now, sitrepEnc{id: "c", pathway: "1", nctrSince: nctr, reason: "transport"})
			writeSitrepEnc(t, s, "RXA", 2, now, sitrepEnc{id: "a", status: "finished", pathway: "3", nctrSince: nctr, reason: "other",
				end: now.UTC().Format(time.RFC3339)})
			if n, kept := stockAt(t, r, "RXA", yesterday); !kept || n != 1 {
				t.Fatalf("yesterday's close: %d kept %v, want a alone", n, kept)
			}
			if n, kept := stockAt(t, r, "RXA", before); !kept || n != 0 {
				t.Fatalf("the close before: %d kept %v, want none", n, kept)
			}
			// The stock now is b and c.
			stock := sitrepOf(t, r, "RXA", today, today, today)
			if stock.NCTR != 2 {
				t.Fatalf("stock now %d", stock.NCTR)
			}
			// Another trust's copies are its own: RXB has changed nothing
			// since yesterday's close, so its stock then is its stock now.
			if n, kept := stockAt(t, r, "RXB", yesterday); !kept || n != 0 {
				t.Fatalf("RXB: %d kept %v", n, kept)
			}
		},
	})
}
