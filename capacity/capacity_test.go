package capacity_test

import (
	"context"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/capacity"
	"github.com/dischargegateway/gateway/directory"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/placement"
)

func TestParseSummaryQuery(t *testing.T) {
	for _, tc := range []struct {
		query string
		kind  discharge.Kind
		expr  string
	}{
		{"near=53.4,-2.2", 0, ""},
		{"postcode=M14+4AB&radiusKm=200", 0, ""},
		{"near=53.4,-2.2&radiusKm=0.5&bedType=nursing", 0, ""},
		{"radiusKm=5", discharge.KindRequired, "near"},
		{"near=north", discharge.KindValue, "near"},
		{"near=91,0", discharge.KindValue, "near"},
		{"near=NaN,0", discharge.KindValue, "near"},
		{"near=0,NaN", discharge.KindValue, "near"},
		{"near=53.4,-2.2&radiusKm=NaN", discharge.KindValue, "radiusKm"},
		{"near=53.4,-2.2&radiusKm=+Inf", discharge.KindValue, "radiusKm"},
		{"near=53.4,-2.2&radiusKm=0", discharge.KindValue, "radiusKm"},
		{"near=53.4,-2.2&radiusKm=200.01", discharge.KindValue, "radiusKm"},
		{"near=53.4,-2.2&bedType=penthouse", discharge.KindCodeInvalid, "bedType"},
		{"near=53.4,-2.2&setting=spa", discharge.KindCodeInvalid, "setting"},
		{"near=53.4,-2.2&colour=blue", discharge.KindNotSupported, "colour"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			q, _ := url.ParseQuery(tc.query)
			sq, err := capacity.ParseSummaryQuery(q)
			if tc.kind == 0 {
				if err != nil || sq.RadiusKm <= 0 {
					t.Fatalf("%+v %v", sq, err)
				}
				return
			}
			var de *discharge.Error
			if !errors.As(err, &de) || de.Kind != tc.kind || len(de.Issues) == 0 || de.Issues[0].Expression != tc.expr {
				t.Fatalf("got %v, want %v at %s", err, tc.kind, tc.expr)
			}
		})
	}
}

// fakeStore keeps postings in memory.
type fakeStore struct {
	cur     map[string]discharge.Capacity
	failPut error
}

func (f *fakeStore) Put(_ context.Context, c discharge.Capacity, _ *discharge.Position, _ string) (discharge.Capacity, bool, error) {
	if f.failPut != nil {
		return c, false, f.failPut
	}
	if old, ok := f.cur[c.LocationID]; ok && old.AsOf.After(c.AsOf) {
		return old, false, nil
	}
	c.Version = f.cur[c.LocationID].Version + 1
	f.cur[c.LocationID] = c
	return c, true, nil
}
func (f *fakeStore) Get(_ context.Context, ids ...string) (map[string]discharge.Capacity, error) {
	out := map[string]discharge.Capacity{}
	for _, id := range ids {
		if c, ok := f.cur[id]; ok {
			out[id] = c
		}
	}
	return out, nil
}
func (f *fakeStore) Near(context.Context, []string, []discharge.BedType, float64, float64, float64, int) ([]placement.Nearby, error) {
	return nil, nil
}
func (f *fakeStore) HistoryPage(context.Context, string, int, int) ([]discharge.Capacity, int, error) {
	return nil, 0, nil
}
func (f *fakeStore) Covering(context.Context, string) ([]string, error) { return nil, nil }

// ownedBy says which organisation manages each location.
type ownedBy map[string]string

func (o ownedBy) OwnLocation(_ context.Context, p *auth.Principal, id string) (directory.Place, error) {
	org, ok := o[id]
	switch {
	case !ok:
		return directory.Place{}, discharge.E(discharge.KindNotFound, "locationId", "no such location")
	case org != p.Org:
		return directory.Place{}, discharge.E(discharge.KindForbidden, "locationId", "another's")
	}
	return directory.Place{}, nil
}

func TestImportRows(t *testing.T) {
	now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	st := &fakeStore{cur: map[string]discharge.Capacity{}}
	svc := capacity.New(st, nil, ownedBy{"L1": "P1", "L2": "P2"}, nil, discharge.DefaultFreshness, func() time.Time { return now })
	p := &auth.Principal{Org: "P1", Role: auth.RoleCareProvider}
	bed := func(accepting int) []discharge.BedCapacity {
		return []discharge.BedCapacity{{Type: discharge.BedNursing, MaxCapacity: 10, Occupied: 10 - accepting, AcceptingAdmissions: accepting}}
	}
	postings := []discharge.BulkPosting{
		{Capacity: discharge.Capacity{LocationID: "L1", AsOf: now.Add(-time.Hour), Beds: bed(2)}, Rows: []int{2, 3}},
		{Capacity: discharge.Capacity{LocationID: "L2", AsOf: now.Add(-time.Hour), Beds: bed(2)}, Rows: []int{4}},
		{Capacity: discharge.Capacity{LocationID: "L9", AsOf: now.Add(-time.Hour), Beds: bed(2)}, Rows: []int{5}},
		{Capacity: discharge.Capacity{LocationID: "L1", AsOf: now.Add(-2 * time.Hour), Beds: bed(1)}, Rows: []int{6}},
	}
	rep, err := svc.Import(context.Background(), p, postings, []discharge.RowIssue{{Row: 7, Reason: "unreadable"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 6 || rep.Accepted != 2 || rep.Ignored != 1 || len(rep.Rejected) != 3 {
		t.Fatalf("%+v", rep)
	}
	for i, want := range []int{4, 5, 7} {
		if rep.Rejected[i].Row != want {
			t.Fatalf("rejected rows %+v", rep.Rejected)
		}
	}
	// The gateway's own failure stops the import instead of blaming rows.
	st.failPut = discharge.KindOf(discharge.KindUnavailable)
	if _, err := svc.Import(context.Background(), p, postings[:1], nil); discharge.ErrorKind(err) != discharge.KindUnavailable {
		t.Fatalf("outage: %v", err)
	}
	// Only care providers post.
	if _, err := svc.Import(context.Background(), &auth.Principal{Org: "P1", Role: auth.RoleTrust}, postings, nil); discharge.ErrorKind(err) != discharge.KindForbidden {
		t.Fatalf("trust: %v", err)
	}
}

// TestImportCSV: the service reads the file with its parser; a file the
// parser cannot read is the caller's (structure), the parser's refused
// rows reach the report, and a service without a parser refuses files.
func TestImportCSV(t *testing.T) {
	now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	p := &auth.Principal{Org: "P1", Role: auth.RoleCareProvider}
	parse := func(r io.Reader) ([]discharge.BulkPosting, []discharge.RowIssue, error) {
		b, _ := io.ReadAll(r)
		if string(b) != "ok" {
			return nil, nil, errors.New("line 1: not a capacity file")
		}
		return []discharge.BulkPosting{{Capacity: discharge.Capacity{LocationID: "L1", AsOf: now.Add(-time.Hour),
				Beds: []discharge.BedCapacity{{Type: discharge.BedNursing, MaxCapacity: 10, Occupied: 8, AcceptingAdmissions: 2}}}, Rows: []int{2}}},
			[]discharge.RowIssue{{Row: 3, Reason: "unreadable"}}, nil
	}
	svc := capacity.New(&fakeStore{cur: map[string]discharge.Capacity{}}, nil, ownedBy{"L1": "P1"}, parse, discharge.DefaultFreshness, func() time.Time { return now })
	rep, err := svc.ImportCSV(context.Background(), p, strings.NewReader("ok"))
	if err != nil || rep.Rows != 2 || rep.Accepted != 1 || len(rep.Rejected) != 1 || rep.Rejected[0].Row != 3 {
		t.Fatalf("%+v %v", rep, err)
	}
	if _, err := svc.ImportCSV(context.Background(), p, strings.NewReader("x")); discharge.ErrorKind(err) != discharge.KindStructure {
		t.Fatalf("unreadable file: %v", err)
	}
	none := capacity.New(&fakeStore{}, nil, ownedBy{}, nil, discharge.DefaultFreshness, nil)
	if _, err := none.ImportCSV(context.Background(), p, strings.NewReader("ok")); discharge.ErrorKind(err) != discharge.KindNotSupported {
		t.Fatalf("no parser: %v", err)
	}
}
