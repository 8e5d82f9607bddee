package sqlstore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/discharge"
)

func wardPosting(loc string, at time.Time, occupied, capacity int) discharge.Capacity {
	return discharge.Capacity{LocationID: loc, AsOf: at, Beds: []discharge.BedCapacity{{Type: discharge.BedVirtualWard,
		MaxCapacity: capacity, Occupied: occupied, AcceptingAdmissions: capacity - occupied}}}
}

// TestVirtualWardDays: recording postings keeps one row per ward and day
// in the same transaction, by hand: the day's latest figures, its peak, a
// correction at the same asOf, an older posting ignored, a ward closed by
// a posting without its virtual-ward bed, care homes not counted, and
// England's day of a posting at 23:30 UTC in summer.
func TestVirtualWardDays(t *testing.T) {
	at := func(s string) time.Time {
		x, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	sqlEngines(t, map[string]func(t *testing.T, s *sqlstore.Store){
		"daily rows": func(t *testing.T, s *sqlstore.Store) {
			ctx := context.Background()
			rec, vw := sqlstore.NewCapacity(s), sqlstore.NewVirtualWards(s)
			for _, p := range []discharge.Capacity{
				wardPosting("VW1", at("2026-11-23T09:00:00Z"), 14, 20),
				wardPosting("VW1", at("2026-11-23T15:00:00Z"), 18, 20),
				wardPosting("VW1", at("2026-11-23T21:00:00Z"), 16, 20),
				wardPosting("VW1", at("2026-11-23T21:00:00Z"), 15, 20), // correction, same asOf
				wardPosting("VW2", at("2026-11-23T10:00:00Z"), 5, 10),
				wardPosting("VW1", at("2026-11-24T10:00:00Z"), 12, 22),
				wardPosting("VW1", at("2026-11-23T12:00:00Z"), 1, 1), // older than VW1's latest: ignored
				posting("VW2", at("2026-11-25T08:00:00Z"), 2),        // VW2's ward closed
				posting("CH1", at("2026-11-25T08:00:00Z"), 2),        // a care home
				wardPosting("VW3", at("2026-06-01T23:30:00Z"), 3, 4), // 00:30 BST on 2 June
			} {
				if _, _, err := rec.Record(ctx, p); err != nil {
					t.Fatal(err)
				}
			}
			got, err := vw.WardDays(ctx, discharge.DayNumber(d("2026-11-23")), discharge.DayNumber(d("2026-11-25")))
			if err != nil {
				t.Fatal(err)
			}
			want := []discharge.WardDay{
				{Location: "VW1", Day: d("2026-11-23"), Occupied: 15, Capacity: 20, PeakOccupied: 18},
				{Location: "VW1", Day: d("2026-11-24"), Occupied: 12, Capacity: 22, PeakOccupied: 12},
				{Location: "VW2", Day: d("2026-11-23"), Occupied: 5, Capacity: 10, PeakOccupied: 5},
				{Location: "VW2", Day: d("2026-11-25"), Occupied: 0, Capacity: 0, PeakOccupied: 0},
			}
			if !slices.Equal(got, want) {
				t.Errorf("rows:\n got %+v\nwant %+v", got, want)
			}
			june, err := vw.WardDays(ctx, discharge.DayNumber(d("2026-06-01")), discharge.DayNumber(d("2026-06-02")))
			if err != nil {
				t.Fatal(err)
			}
			if len(june) != 1 || june[0].Day != d("2026-06-02") {
				t.Errorf("summer night posting: %+v", june)
			}
			one, err := vw.WardDays(ctx, discharge.DayNumber(d("2026-11-24")), discharge.DayNumber(d("2026-11-24")))
			if err != nil || len(one) != 1 || one[0].Location != "VW1" {
				t.Errorf("one day: %+v %v", one, err)
			}
		},
	})
}
