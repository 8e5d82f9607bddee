package directory_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/directory"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
)

// fakeStore is an in-memory directory with function fields to inject
// failures.
type fakeStore struct {
	docs    map[string]fhir.Resource // "Type/id"
	gen     int64                    // moved on by every put and commit
	reads   int                      // Reads made
	commits [][]fhir.Write
	readErr error
	commit  func(writes []fhir.Write) error
}

func newFakeStore() *fakeStore { return &fakeStore{docs: map[string]fhir.Resource{}} }

func (f *fakeStore) put(t *testing.T, typ, id, doc string) {
	t.Helper()
	f.docs[typ+"/"+id] = fhir.Resource{Type: typ, ID: id, VersionID: 1, JSON: []byte(doc)}
	f.gen++
}

func (f *fakeStore) Generation(_ context.Context, part string) (int64, error) {
	if part != directory.Partition {
		return 0, errors.New("generation outside the directory partition")
	}
	if f.readErr != nil {
		return 0, f.readErr
	}
	return f.gen, nil
}

func (f *fakeStore) Read(_ context.Context, part, typ, id string) (fhir.Resource, error) {
	if part != directory.Partition {
		return fhir.Resource{}, errors.New("read outside the directory partition")
	}
	if f.readErr != nil {
		return fhir.Resource{}, f.readErr
	}
	f.reads++
	r, ok := f.docs[typ+"/"+id]
	if !ok {
		return fhir.Resource{}, discharge.KindOf(discharge.KindNotFound)
	}
	return r, nil
}

func (f *fakeStore) Search(_ context.Context, _ string, q fhir.Query) ([]fhir.Resource, int, error) {
	var out []fhir.Resource
	for _, id := range q.Filters[0].AnyOf {
		if r, ok := f.docs[q.Type+"/"+id]; ok {
			out = append(out, r)
		}
	}
	return out, len(out), nil
}

func (f *fakeStore) CommitParts(_ context.Context, part string, writes []fhir.Write) error {
	if f.commit != nil {
		if err := f.commit(writes); err != nil {
			return err
		}
	}
	f.commits = append(f.commits, writes)
	f.gen++
	for _, w := range writes {
		f.docs[w.Resource.Type+"/"+w.Resource.ID] = w.Resource
	}
	return nil
}

type fakeIndex struct{ indexed map[string]string }

func (f *fakeIndex) IndexLocation(_ context.Context, id string, _ discharge.Position, area string) error {
	f.indexed[id] = area
	return nil
}

type fakeGeo struct{}

func (fakeGeo) Locate(pc string) (discharge.Position, bool) {
	if strings.HasPrefix(pc, "M14") {
		return discharge.Position{Lat: 53.44, Lon: -2.22}, true
	}
	return discharge.Position{}, false
}
func (fakeGeo) AreaOf(string, discharge.Position) string { return "M" }

func provider(org string) *auth.Principal {
	return &auth.Principal{Org: org, OrgSystem: mappings.CQCProviderSystem, Role: auth.RoleCareProvider}
}

func TestCheckWrite(t *testing.T) {
	st := newFakeStore()
	st.put(t, "Organization", "o1", `{"resourceType":"Organization","identifier":[{"system":"`+mappings.CQCProviderSystem+`","value":"P1"}]}`)
	st.put(t, "Organization", "o2", `{"resourceType":"Organization","identifier":[{"system":"`+mappings.CQCProviderSystem+`","value":"P2"}]}`)
	st.put(t, "Location", "l1", `{"resourceType":"Location","managingOrganization":{"reference":"Organization/o1"}}`)
	st.put(t, "Location", "l2", `{"resourceType":"Location","managingOrganization":{"reference":"Organization/o2"}}`)
	svc := directory.New(st, nil, nil, nil, nil, nil)
	doc := func(s string) map[string]any {
		d, err := fhir.DecodeDoc([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, tc := range []struct {
		name      string
		p         *auth.Principal
		w         directory.Write
		kind      discharge.Kind
		expr      string
		wantError bool
	}{
		{"own organization", provider("P1"), directory.Write{Type: "Organization", Path: "Organization",
			Doc: doc(`{"identifier":[{"system":"` + mappings.CQCProviderSystem + `","value":"P1"}]}`)}, 0, "", false},
		{"organization of another", provider("P1"), directory.Write{Type: "Organization", Path: "Organization",
			Doc: doc(`{"identifier":[{"system":"` + mappings.CQCProviderSystem + `","value":"P2"}]}`)}, discharge.KindForbidden, "Organization.identifier", true},
		{"no caller", nil, directory.Write{Type: "Organization", Path: "Organization", Doc: doc(`{}`)}, discharge.KindForbidden, "", true},
		{"own location", provider("P1"), directory.Write{Type: "Location", Path: "Location",
			Doc: doc(`{"managingOrganization":{"reference":"Organization/o1"}}`)}, 0, "", false},
		{"location without manager", provider("P1"), directory.Write{Type: "Location", Path: "Location", Doc: doc(`{}`)},
			discharge.KindRequired, "Location.managingOrganization", true},
		{"location of another", provider("P1"), directory.Write{Type: "Location", Path: "Location",
			Doc: doc(`{"managingOrganization":{"reference":"Organization/o2"}}`)}, discharge.KindForbidden, "Location.managingOrganization.reference", true},
		{"manager not in the directory", provider("P1"), directory.Write{Type: "Location", Path: "Bundle.entry[1].resource",
			Doc: doc(`{"managingOrganization":{"reference":"Organization/none"}}`)}, discharge.KindBusinessRule, "Bundle.entry[1].resource.managingOrganization.reference", true},
		{"manager in the same transaction", provider("P3"), directory.Write{Type: "Location", Path: "Location",
			Doc:     doc(`{"managingOrganization":{"reference":"Organization/new"}}`),
			Pending: map[string]map[string]any{"Organization/new": doc(`{"identifier":[{"system":"` + mappings.CQCProviderSystem + `","value":"P3"}]}`)}}, 0, "", false},
		{"taking over another's location", provider("P1"), directory.Write{Type: "Location", ID: "l2", Path: "Location", Replaces: true,
			Doc: doc(`{"managingOrganization":{"reference":"Organization/o1"}}`)}, discharge.KindForbidden, "Location", true},
		{"service at own location", provider("P1"), directory.Write{Type: "HealthcareService", Path: "HealthcareService",
			Doc: doc(`{"providedBy":{"reference":"Organization/o1"},"location":[{"reference":"Location/l1"}]}`)}, 0, "", false},
		{"service at another's location", provider("P1"), directory.Write{Type: "HealthcareService", Path: "HealthcareService",
			Doc: doc(`{"providedBy":{"reference":"Organization/o1"},"location":[{"reference":"Location/l1"},{"reference":"Location/l2"}]}`)},
			discharge.KindForbidden, "HealthcareService.location[1].reference", true},
		{"service location not a reference", provider("P1"), directory.Write{Type: "HealthcareService", Path: "HealthcareService",
			Doc: doc(`{"providedBy":{"reference":"Organization/o1"},"location":[{"display":"x"}]}`)},
			discharge.KindRequired, "HealthcareService.location[0].reference", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := svc.CheckWrite(context.Background(), tc.p, tc.w)
			if !tc.wantError {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var de *discharge.Error
			if !errors.As(err, &de) || de.Kind != tc.kind {
				t.Fatalf("got %v, want kind %v", err, tc.kind)
			}
			if tc.expr != "" && !hasExpression(de, tc.expr) {
				t.Fatalf("no issue at %s: %+v", tc.expr, de.Issues)
			}
		})
	}
}

func hasExpression(de *discharge.Error, expr string) bool {
	for _, is := range de.Issues {
		if is.Expression == expr {
			return true
		}
	}
	return false
}

func TestOwnLocation(t *testing.T) {
	st := newFakeStore()
	st.put(t, "Organization", "o1", `{"resourceType":"Organization","identifier":[{"system":"`+mappings.CQCProviderSystem+`","value":"P1"}]}`)
	st.put(t, "Location", "l1", `{"resourceType":"Location","managingOrganization":{"reference":"Organization/o1"},"address":{"postalCode":"M14 4AB"}}`)
	svc := directory.New(st, nil, fakeGeo{}, nil, nil, nil)
	ctx := context.Background()
	place, err := svc.OwnLocation(ctx, provider("P1"), "l1")
	if err != nil || place.Position == nil || place.Area != "M" {
		t.Fatalf("own location: %+v %v", place, err)
	}
	if _, err := svc.OwnLocation(ctx, provider("P2"), "l1"); discharge.ErrorKind(err) != discharge.KindForbidden {
		t.Fatalf("another's: %v", err)
	}
	if _, err := svc.OwnLocation(ctx, provider("P1"), "none"); discharge.ErrorKind(err) != discharge.KindNotFound {
		t.Fatalf("absent: %v", err)
	}
	// An outage is an outage, not a verdict on ownership.
	st.readErr = discharge.KindOf(discharge.KindUnavailable)
	if _, err := svc.OwnLocation(ctx, provider("P1"), "l1"); discharge.ErrorKind(err) != discharge.KindUnavailable {
		t.Fatalf("outage: %v", err)
	}
}

// TestOwnLocationCachedPerGeneration: a yes is answered again without
// reading the directory until the directory's generation moves; then the
// Location is read again and a new manager is seen at once.
func TestOwnLocationCachedPerGeneration(t *testing.T) {
	st := newFakeStore()
	st.put(t, "Organization", "o1", `{"resourceType":"Organization","identifier":[{"system":"`+mappings.CQCProviderSystem+`","value":"P1"}]}`)
	st.put(t, "Organization", "o2", `{"resourceType":"Organization","identifier":[{"system":"`+mappings.CQCProviderSystem+`","value":"P2"}]}`)
	st.put(t, "Location", "l1", `{"resourceType":"Location","managingOrganization":{"reference":"Organization/o1"},"address":{"postalCode":"M14 4AB"}}`)
	svc := directory.New(st, nil, fakeGeo{}, nil, nil, nil)
	ctx := context.Background()
	for i := range 3 {
		place, err := svc.OwnLocation(ctx, provider("P1"), "l1")
		if err != nil || place.Position == nil || place.Position.Lat != 53.44 || place.Area != "M" {
			t.Fatalf("call %d: %+v %v", i+1, place, err)
		}
		place.Position.Lat = 0 // a caller's copy: the cache keeps its own
	}
	if st.reads != 2 {
		t.Fatalf("three calls read the directory %d times, want 2 (the Location and its Organization, once)", st.reads)
	}
	// No is not cached: every refusal reads.
	for range 2 {
		if _, err := svc.OwnLocation(ctx, provider("P2"), "l1"); discharge.ErrorKind(err) != discharge.KindForbidden {
			t.Fatalf("another's: %v", err)
		}
	}
	if st.reads != 6 {
		t.Fatalf("after two refusals %d reads, want 6", st.reads)
	}
	// The Location changes hands: the generation moves and the cache goes.
	st.put(t, "Location", "l1", `{"resourceType":"Location","managingOrganization":{"reference":"Organization/o2"},"address":{"postalCode":"M14 4AB"}}`)
	if _, err := svc.OwnLocation(ctx, provider("P1"), "l1"); discharge.ErrorKind(err) != discharge.KindForbidden {
		t.Fatalf("old owner after the change: %v", err)
	}
	place, err := svc.OwnLocation(ctx, provider("P2"), "l1")
	if err != nil || place.Position == nil || place.Position.Lat != 53.44 {
		t.Fatalf("new owner: %+v %v", place, err)
	}
}

func listing(row int, provider, location, postcode string) discharge.Listing {
	return discharge.Listing{Row: row, Name: "Home " + location, ProviderID: provider, LocationID: location, Postcode: postcode,
		Services: []discharge.CareSetting{discharge.CareSetting("nursing")}}
}

func TestImport(t *testing.T) {
	ctx := context.Background()
	st := newFakeStore()
	idx := &fakeIndex{indexed: map[string]string{}}
	now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	svc := directory.New(st, idx, fakeGeo{}, nil, nil, func() time.Time { return now })
	ls := []discharge.Listing{listing(2, "P1", "L1", "M14 4AB"), listing(3, "P2", "L2", "ZZ1 1ZZ")}

	t.Run("owner rejects other providers' rows", func(t *testing.T) {
		rep, err := svc.Import(ctx, ls, "P1")
		if err != nil || rep.Rows != 2 || rep.Created != 1 || len(rep.Rejected) != 1 || rep.Rejected[0].Row != 3 || rep.Rejected[0].Column != "providerId" {
			t.Fatalf("%+v %v", rep, err)
		}
		if len(st.commits) != 1 || len(st.commits[0]) != 3 {
			t.Fatalf("commits: %d", len(st.commits))
		}
		if _, ok := idx.indexed["cqc-L1"]; !ok {
			t.Fatalf("the Location was not geo-indexed: %v", idx.indexed)
		}
	})
	t.Run("a second run changes nothing", func(t *testing.T) {
		commits := len(st.commits)
		rep, err := svc.Import(ctx, ls[:1], "")
		if err != nil || rep.Unchanged != 1 || rep.Accepted != 1 || len(st.commits) != commits {
			t.Fatalf("%+v %v, %d commits", rep, err, len(st.commits)-commits)
		}
	})
	t.Run("a changed row is an update at the next version", func(t *testing.T) {
		l := ls[0]
		l.Name = "Renamed"
		rep, err := svc.Import(ctx, []discharge.Listing{l}, "")
		if err != nil || rep.Updated != 1 {
			t.Fatalf("%+v %v", rep, err)
		}
		last := st.commits[len(st.commits)-1]
		for _, w := range last {
			if w.ExpectVersion != 1 || w.Resource.VersionID != 2 {
				t.Fatalf("%s/%s expect %d version %d", w.Resource.Type, w.Resource.ID, w.ExpectVersion, w.Resource.VersionID)
			}
		}
	})
	t.Run("a lost race is compared again", func(t *testing.T) {
		lost := 0
		st.commit = func([]fhir.Write) error {
			if lost == 0 {
				lost++
				return discharge.KindOf(discharge.KindRetry)
			}
			return nil
		}
		defer func() { st.commit = nil }()
		rep, err := svc.Import(ctx, []discharge.Listing{listing(2, "P3", "L3", "M14 4AB")}, "")
		if err != nil || rep.Created != 1 || lost != 1 {
			t.Fatalf("%+v %v", rep, err)
		}
	})
	t.Run("a store failure is returned", func(t *testing.T) {
		st.commit = func([]fhir.Write) error { return discharge.KindOf(discharge.KindUnavailable) }
		defer func() { st.commit = nil }()
		if _, err := svc.Import(ctx, []discharge.Listing{listing(2, "P4", "L4", "M14 4AB")}, ""); discharge.ErrorKind(err) != discharge.KindUnavailable {
			t.Fatalf("%v", err)
		}
	})
}
