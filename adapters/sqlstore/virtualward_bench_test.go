package sqlstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/internal/pgtest"
	"github.com/dischargegateway/gateway/sitrep"
)

// loadWards writes n virtual wards into the directory (five per provider
// Organization, providers spread over 42 ICBs) and 14 days of one posting
// a day each through Capacity.Record, as production does.
func loadWards(b *testing.B, s *sqlstore.Store, n int, now time.Time) {
	b.Helper()
	ctx := context.Background()
	rec := sqlstore.NewCapacity(s)
	put := func(typ, id string, doc map[string]any) fhir.Write {
		doc["resourceType"], doc["id"] = typ, id
		body, _ := json.Marshal(doc)
		return fhir.Write{Resource: fhir.Resource{Type: typ, ID: id, VersionID: 1, LastUpdated: now, JSON: body}, Index: fhir.IndexEntries(typ, doc)}
	}
	var writes []fhir.Write
	for w := 0; w < n; w++ {
		org := fmt.Sprintf("O%04d", w/5)
		if w%5 == 0 {
			writes = append(writes, put("Organization", org, map[string]any{"name": org,
				"partOf": map[string]any{"identifier": map[string]any{"value": fmt.Sprintf("Q%02d", (w/5)%42)}}}))
		}
		writes = append(writes, put("Location", fmt.Sprintf("W%05d", w), map[string]any{"name": fmt.Sprintf("Ward %d", w),
			"address": map[string]any{"postalCode": fmt.Sprintf("M%d 1AA", w%40+1)}, "managingOrganization": map[string]any{"reference": "Organization/" + org}}))
		if len(writes) >= 200 || w == n-1 {
			if err := s.Commit(ctx, fhir.DirectoryPartition, writes, nil); err != nil {
				b.Fatal(err)
			}
			writes = writes[:0]
		}
	}
	for back := 13; back >= 0; back-- {
		for w := 0; w < n; w++ {
			if _, _, err := rec.Record(ctx, wardPosting(fmt.Sprintf("W%05d", w), now.Add(-time.Duration(back)*24*time.Hour), (w+back)%20, 20)); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkVirtualWards measures the virtual-ward report of VW_WARDS (500,
// about England's number of virtual wards) wards over 14 days, beside two
// same-run baselines: the one statement reading the day rows, and one raw
// read by key per ward (the directory reads that place the wards). It also
// measures recording a posting with a virtual-ward bed (the day row's
// upsert in the posting's transaction) beside a care-home posting (no
// extra statement). SITREP_ENGINES=sqlite,postgres chooses the engines.
func BenchmarkVirtualWards(b *testing.B) {
	n := envInt("VW_WARDS", 500)
	engines := os.Getenv("SITREP_ENGINES")
	if engines == "" {
		engines = "sqlite"
	}
	now := time.Now()
	for _, eng := range []string{"sqlite", "postgres"} {
		if !containsWord(engines, eng) {
			continue
		}
		b.Run(eng, func(b *testing.B) {
			var s *sqlstore.Store
			var err error
			if eng == "sqlite" {
				s, err = sqlstore.Open(context.Background(), "", b.TempDir())
			} else {
				_, url := pgtest.Start(b).NewDatabase(b)
				s, err = sqlstore.Open(context.Background(), url, "")
			}
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			start := time.Now()
			loadWards(b, s, n, now)
			b.Logf("%s: loaded %d wards x 14 days in %s", eng, n, time.Since(start).Round(time.Millisecond))
			ctx := context.Background()
			days := sqlstore.NewVirtualWards(s)
			svc := sitrep.NewVirtualWards(days, sitrep.DirectoryPlaces{Store: s}, nil)
			hub := &auth.Principal{Org: "HUB", Role: auth.RoleHub}
			b.Run("report-14-days", func(b *testing.B) {
				for b.Loop() {
					rep, err := svc.Report(ctx, hub, sitrep.WardRequest{})
					if err != nil {
						b.Fatal(err)
					}
					if got := len(rep.Last().Wards); got != n || len(rep.Last().ICBs) != min(42, (n+4)/5) {
						b.Fatalf("%d wards, %d ICBs", got, len(rep.Last().ICBs))
					}
				}
			})
			today := discharge.DayNumber(discharge.Today(now))
			b.Run("baseline-day-rows", func(b *testing.B) {
				for b.Loop() {
					if _, err := days.WardDays(ctx, today-20, today); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("baseline-read-per-ward", func(b *testing.B) {
				for b.Loop() {
					for w := 0; w < n; w++ {
						if _, err := s.Read(ctx, fhir.DirectoryPartition, "Location", fmt.Sprintf("W%05d", w)); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
			rec := sqlstore.NewCapacity(s)
			// One clock for every run (-count), so each posting is newer.
			i := 0
			for _, c := range []struct {
				name string
				post func(i int) discharge.Capacity
			}{
				{"post-care-home", func(i int) discharge.Capacity {
					return posting("CH-bench", now.Add(time.Duration(i)*time.Millisecond), 3)
				}},
				{"post-virtual-ward", func(i int) discharge.Capacity {
					return wardPosting("VW-bench", now.Add(time.Duration(i)*time.Millisecond), i%20, 20)
				}},
			} {
				b.Run(c.name, func(b *testing.B) {
					for b.Loop() {
						i++
						if _, applied, err := rec.Record(ctx, c.post(i)); err != nil || !applied {
							b.Fatal(applied, err)
						}
					}
				})
			}
		})
	}
}
