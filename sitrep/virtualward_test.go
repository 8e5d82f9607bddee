package sitrep_test

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/sitrep"
)

// fakeWardDays is a hand-written fake: rows, and the window asked for.
type fakeWardDays struct {
	rows     []discharge.WardDay
	from, to int64
}

func (f *fakeWardDays) WardDays(_ context.Context, from, to int64) ([]discharge.WardDay, error) {
	f.from, f.to = from, to
	var out []discharge.WardDay
	for _, r := range f.rows {
		if n := discharge.DayNumber(r.Day); n >= from && n <= to {
			out = append(out, r)
		}
	}
	return out, nil
}

// fakeReader is a directory of JSON resources by type/id; fail fails reads.
type fakeReader struct {
	docs map[string]string
	fail error
}

func (f fakeReader) ReadMany(_ context.Context, partition string, refs []fhir.Ref) (map[string]fhir.Resource, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	out := map[string]fhir.Resource{}
	if partition != fhir.DirectoryPartition {
		return out, nil
	}
	for _, r := range refs {
		if j, ok := f.docs[r.Type+"/"+r.ID]; ok {
			out[r.Type+"/"+r.ID] = fhir.Resource{Type: r.Type, ID: r.ID, JSON: []byte(j)}
		}
	}
	return out, nil
}

func day(s string) discharge.Date {
	d, err := discharge.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// wardWorld: W1 and W2 are managed by an organisation in ICB QOP (partOf by
// identifier), W3 by one in QWO (partOf by reference); W9 is not in the
// directory.
func wardWorld() (*fakeWardDays, fakeReader) {
	rows := &fakeWardDays{rows: []discharge.WardDay{
		{Location: "W1", Day: day("2026-11-30"), Occupied: 17, Capacity: 20, PeakOccupied: 17},
		{Location: "W2", Day: day("2026-11-25"), Occupied: 6, Capacity: 10, PeakOccupied: 6},
		{Location: "W3", Day: day("2026-11-30"), Occupied: 4, Capacity: 5, PeakOccupied: 5},
		{Location: "W9", Day: day("2026-11-29"), Occupied: 1, Capacity: 2, PeakOccupied: 1},
		{Location: "W1", Day: day("2026-10-01"), Occupied: 1, Capacity: 20, PeakOccupied: 1},
	}}
	dir := fakeReader{docs: map[string]string{
		"Location/W1":     `{"resourceType":"Location","id":"W1","name":"Alpha VW","address":{"postalCode":"M14 5AB"},"managingOrganization":{"reference":"Organization/O1"}}`,
		"Location/W2":     `{"resourceType":"Location","id":"W2","name":"Beta VW","address":{"postalCode":"M13 9PL"},"managingOrganization":{"reference":"Organization/O1"}}`,
		"Location/W3":     `{"resourceType":"Location","id":"W3","name":"Gamma VW","address":{"postalCode":"SK3 0AA"},"managingOrganization":{"reference":"Organization/O2"}}`,
		"Organization/O1": `{"resourceType":"Organization","id":"O1","partOf":{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"QOP"}}}`,
		"Organization/O2": `{"resourceType":"Organization","id":"O2","partOf":{"reference":"Organization/qwo"}}`,
	}}
	return rows, dir
}

func TestVirtualWardReport(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC) }
	hub := &auth.Principal{Org: "HUB1", Role: auth.RoleHub, Members: []string{"RXA"}}
	rows, dir := wardWorld()
	svc := sitrep.NewVirtualWards(rows, sitrep.DirectoryPlaces{Store: dir}, now)
	ctx := context.Background()

	rep, err := svc.Report(ctx, hub, sitrep.WardRequest{})
	if err != nil {
		t.Fatal(err)
	}
	// Default: the 14 days ending today, read with the carry window.
	if rep.From != day("2026-11-17") || rep.To != day("2026-11-30") || len(rep.Days) != 14 ||
		rows.from != discharge.DayNumber(day("2026-11-10")) || rows.to != discharge.DayNumber(day("2026-11-30")) {
		t.Fatalf("period %s..%s (%d days), read %d..%d", rep.From, rep.To, len(rep.Days), rows.from, rows.to)
	}
	last := rep.Last()
	// 30 Nov: W1 17/20, W2 6/10 (posted 25 Nov), W3 4/5, W9 1/2 = 28/37.
	if last.Total.Occupied != 28 || last.Total.Capacity != 37 || len(last.Wards) != 4 {
		t.Fatalf("total %+v wards %+v", last.Total, last.Wards)
	}
	var icbs, dists []string
	for _, f := range last.ICBs {
		icbs = append(icbs, f.Key)
	}
	for _, f := range last.Districts {
		dists = append(dists, f.Key)
	}
	if !slices.Equal(icbs, []string{"QOP", "QWO", "unknown"}) || !slices.Equal(dists, []string{"M13", "M14", "SK3", "unknown"}) ||
		last.ICBs[0].Occupied != 23 || last.ICBs[0].Capacity != 30 {
		t.Errorf("icbs %v %+v districts %v", icbs, last.ICBs, dists)
	}
	// 17 Nov: nothing stands yet (W1's October row is too old).
	if len(rep.Days[0].Wards) != 0 {
		t.Errorf("first day: %+v", rep.Days[0])
	}

	one, err := svc.Report(ctx, hub, sitrep.WardRequest{ICB: "QOP", From: day("2026-11-30"), To: day("2026-11-30")})
	if err != nil || len(one.Days) != 1 || one.Last().Total.Occupied != 23 || one.Last().Total.Capacity != 30 || one.Subject != "QOP" {
		t.Errorf("ICB QOP: %+v %v", one, err)
	}
	loc, err := svc.Report(ctx, hub, sitrep.WardRequest{Location: "W3", From: day("2026-11-30"), To: day("2026-11-30")})
	if err != nil || len(loc.Last().Wards) != 1 || loc.Last().Wards[0].Name != "Gamma VW" || loc.Subject != "Location/W3" {
		t.Errorf("Location W3: %+v %v", loc, err)
	}
	occ, err := svc.Occupancy(ctx, hub, discharge.Date{})
	if err != nil || len(occ) != 4 || occ[0] != (sitrep.WardOccupancy{Name: "Alpha VW", Occupied: 17, Capacity: 20}) || occ[3].Name != "W9" {
		t.Errorf("occupancy: %+v %v", occ, err)
	}

	for _, c := range []struct {
		name string
		r    sitrep.WardRequest
		kind discharge.Kind
	}{
		{"ends before it starts", sitrep.WardRequest{From: day("2026-11-30"), To: day("2026-11-01")}, discharge.KindValue},
		{"over 92 days", sitrep.WardRequest{From: day("2026-01-01"), To: day("2026-11-01")}, discharge.KindTooLarge},
	} {
		if _, err := svc.Report(ctx, hub, c.r); discharge.ErrorKind(err) != c.kind {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	outage := sitrep.NewVirtualWards(rows, sitrep.DirectoryPlaces{Store: fakeReader{fail: discharge.E(discharge.KindUnavailable, "", "down")}}, now)
	if _, err := outage.Report(ctx, hub, sitrep.WardRequest{}); discharge.ErrorKind(err) != discharge.KindUnavailable {
		t.Errorf("directory outage: %v", err)
	}
}

func TestVirtualWardTenancy(t *testing.T) {
	rows, dir := wardWorld()
	svc := sitrep.NewVirtualWards(rows, sitrep.DirectoryPlaces{Store: dir}, nil)
	for _, c := range []struct {
		p  *auth.Principal
		ok bool
	}{
		{&auth.Principal{Org: "RXA", Role: auth.RoleTrust}, true},
		{&auth.Principal{Org: "HUB1", Role: auth.RoleHub}, true},
		{&auth.Principal{Org: "1-1", Role: auth.RoleCareProvider}, false},
		{&auth.Principal{Org: "ops", Role: auth.RoleAdmin}, false},
		{nil, false},
	} {
		_, err := svc.Report(context.Background(), c.p, sitrep.WardRequest{})
		if (err == nil) != c.ok || (!c.ok && discharge.ErrorKind(err) != discharge.KindForbidden) {
			t.Errorf("%+v: %v", c.p, err)
		}
		if (sitrep.MayReadVirtualWards(c.p) == nil) != c.ok {
			t.Errorf("MayReadVirtualWards(%+v) disagrees", c.p)
		}
	}
}

func TestParseWardSubject(t *testing.T) {
	for _, c := range []struct {
		in, icb, loc string
		bad          bool
	}{
		{"", "", "", false},
		{"Organization/qop", "QOP", "", false},
		{"QOP", "QOP", "", false},
		{"Location/W1", "", "W1", false},
		{"Patient/1", "", "", true},
		{"Organization/", "", "", true},
		{"A|B", "", "", true},
		{"ABCDEFGHIJKL", "", "", true},
		{"Location/a b", "", "", true},
		{"x/Location/W1", "", "", true},
		{"Q-P", "", "", true},
	} {
		icb, loc, err := sitrep.ParseWardSubject(url.Values{"subject": {c.in}})
		if c.bad {
			var de *discharge.Error
			if !errors.As(err, &de) || len(de.Issues) != 1 || de.Issues[0].Expression != "subject" {
				t.Errorf("%q: %v", c.in, err)
			}
			continue
		}
		if err != nil || icb != c.icb || loc != c.loc {
			t.Errorf("%q: %q %q %v", c.in, icb, loc, err)
		}
	}
}

// FuzzParseWardSubject: no subject panics, and what is accepted is one of
// an ICB code (upper case, no separators) or a Location id.
func FuzzParseWardSubject(f *testing.F) {
	for _, s := range []string{"", "Organization/QOP", "Location/W1", "Patient/1", "a/b/c", "Organization/_history/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		icb, loc, err := sitrep.ParseWardSubject(url.Values{"subject": {s}})
		if err != nil {
			return
		}
		if icb != "" && loc != "" {
			t.Fatalf("%q: both %q and %q", s, icb, loc)
		}
		if icb != "" && (strings.ContainsAny(icb, "/|") || len(icb) > 10) {
			t.Fatalf("%q: ICB %q", s, icb)
		}
	})
}
