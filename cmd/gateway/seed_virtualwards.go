package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/dischargegateway/gateway/adapters/geocode"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/internal/wiring"
	"github.com/dischargegateway/gateway/mappings"
)

// seedWard is one synthetic virtual ward: its provider's ICB (ODS code),
// where it is, its virtual beds, its usual occupancy in percent and how
// often it posts (every `every` days; 1: daily).
type seedWard struct {
	provider, location, name, postcode, icb string
	beds, usual, every                      int
}

// seedWards are synthetic virtual wards in three ICBs (NHS Greater
// Manchester QOP, NHS Cheshire and Merseyside QYG, NHS West Yorkshire
// QWO), some above and some below the 80 % target, one posting every
// third day (its figures are carried forward in between).
var seedWards = []seedWard{
	{"1-9000000001", "1-9000000101", "Salford frailty virtual ward", "M6 8HD", "QOP", 40, 86, 1},
	{"1-9000000001", "1-9000000102", "Manchester respiratory virtual ward", "M13 9WL", "QOP", 30, 72, 1},
	{"1-9000000002", "1-9000000201", "Liverpool hospital at home", "L7 8XP", "QYG", 50, 81, 1},
	{"1-9000000002", "1-9000000202", "Wirral frailty virtual ward", "CH49 5PE", "QYG", 20, 64, 3},
	{"1-9000000003", "1-9000000301", "Leeds virtual ward", "LS1 3EX", "QWO", 60, 78, 1},
	{"1-9000000003", "1-9000000302", "Bradford heart failure virtual ward", "BD9 6RJ", "QWO", 16, 90, 1},
}

// seedWardDays is how many days of postings the seed writes, today
// included: two weeks, the report's default trend.
const seedWardDays = 14

// seedVirtualWards stores the synthetic virtual wards that are not in the
// directory yet (Organization with partOf its ICB, Location, a
// virtual-ward HealthcareService, each with its search index) and posts
// their capacity over the last seedWardDays days through the capacity
// record, so the virtual-ward day rows are written as by any posting. A
// second seed leaves the directory entries; its postings older than a
// ward's latest are ignored, as any older posting is. It returns the wards
// created and the postings applied.
func seedVirtualWards(ctx context.Context, st *wiring.Stores, geo *geocode.Table, now time.Time) (created, posted int, err error) {
	for i, w := range seedWards {
		l := discharge.Listing{Name: w.name, ProviderID: w.provider, LocationID: w.location, Postcode: w.postcode,
			Services: []discharge.CareSetting{discharge.CareVirtualWard}}
		if pos, ok := geo.Locate(w.postcode); ok {
			l.Position = &pos
		}
		org, loc, svc := mappings.ListingToFHIR(l)
		org["name"] = w.name + " provider"
		org["partOf"] = map[string]any{"identifier": map[string]any{"system": mappings.ODSSystem, "value": w.icb}}
		if _, err := st.Record.Read(ctx, fhir.DirectoryPartition, "Location", loc["id"].(string)); err == nil {
			// already seeded
		} else if discharge.ErrorKind(err) != discharge.KindNotFound {
			return created, posted, err
		} else {
			var writes []fhir.Write
			for _, doc := range []map[string]any{org, loc, svc} {
				typ, id := doc["resourceType"].(string), doc["id"].(string)
				if typ == "Organization" {
					if _, err := st.Record.Read(ctx, fhir.DirectoryPartition, typ, id); err == nil {
						continue // the provider's other ward created it
					}
				}
				doc["meta"] = map[string]any{"versionId": "1", "lastUpdated": now.UTC().Format(time.RFC3339Nano)}
				body, err := json.Marshal(doc)
				if err != nil {
					return created, posted, err
				}
				writes = append(writes, fhir.Write{Resource: fhir.Resource{Type: typ, ID: id, VersionID: 1, LastUpdated: now.UTC(), JSON: body},
					Index: fhir.IndexEntries(typ, doc)})
			}
			if err := st.Record.Commit(ctx, fhir.DirectoryPartition, writes, nil); err != nil {
				return created, posted, err
			}
			created++
		}
		area := ""
		if l.Position != nil {
			area = geo.AreaOf(w.postcode, *l.Position)
		}
		today := discharge.DayNumber(discharge.Today(now))
		for back := seedWardDays - 1; back >= 0; back-- {
			if (seedWardDays-1-back)%w.every != 0 { // the first day always posts
				continue
			}
			// 08:00 UTC that day (or a minute ago, today before then).
			asOf := discharge.DayStart(discharge.DateOfDay(today - int64(back))).Add(8 * time.Hour)
			if asOf.After(now) {
				asOf = now.Add(-time.Minute)
			}
			// The ward's usual occupancy, moved a few points day to day.
			pct := w.usual + int((today-int64(back)+int64(3*i))%7) - 3
			occupied := min(w.beds*pct/100, w.beds)
			c := discharge.Capacity{LocationID: loc["id"].(string), AsOf: asOf, Beds: []discharge.BedCapacity{{
				Type: discharge.BedVirtualWard, MaxCapacity: w.beds, Occupied: occupied, AcceptingAdmissions: w.beds - occupied}}}
			if _, applied, err := st.Capacity.Put(ctx, c, l.Position, area); err != nil {
				return created, posted, err
			} else if applied {
				posted++
			}
		}
	}
	return created, posted, nil
}

// seedVirtualWardsAndSay is `gateway seed`'s virtual-ward step, with its
// line of output.
func seedVirtualWardsAndSay(ctx context.Context, st *wiring.Stores, geo *geocode.Table, stdout io.Writer) error {
	start := time.Now()
	created, posted, err := seedVirtualWards(ctx, st, geo, start)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seeded %d synthetic virtual wards (%d already there) with %d capacity postings over %d days in %s\n",
		created, len(seedWards)-created, posted, seedWardDays, time.Since(start).Round(time.Millisecond))
	return nil
}
