package placement_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/placement"
)

// fakeObserver is a hand-written Observer: it keeps what it hears and
// answers err.
type fakeObserver struct {
	got []placement.Search
	err error
}

func (f *fakeObserver) Observed(_ context.Context, s placement.Search) error {
	f.got = append(f.got, s)
	return f.err
}

// Every answered search is told to each observer once, in order: a stored
// ServiceRequest's with its case (partition and Encounter id), the caller,
// the need, the district, the radius, the total and the filters' counts; a
// what-if question's with no case. An observer's error is the answer's,
// as it is, and the observers after it hear nothing. Searches that fail
// are told to no one.
func TestOptionsTellsObservers(t *testing.T) {
	tr, err := mappings.LoadTranslator(os.DirFS(filepath.Join("..", "configs", "conceptmaps")))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 16, 10, 0, 0, 0, time.UTC)
	recs := walkthroughRecords(t, func(map[string]any) {})
	p := &auth.Principal{ClientID: "trust-a", Org: "RXA", Role: auth.RoleTrust}
	newSvc := func(recs fakeRecords, obs ...placement.Observer) *placement.Service {
		return placement.New(placement.Config{Freshness: discharge.DefaultFreshness, Weights: discharge.DefaultWeights,
			Translator: tr, Now: func() time.Time { return now }, Observers: obs},
			&fakeCapacity{}, fakeDirectory{}, fakeGeo{}, recs)
	}

	first, second := &fakeObserver{}, &fakeObserver{}
	svc := newSvc(recs, first, second)
	a, err := svc.Options(context.Background(), placement.Request{Principal: p, ServiceRequestID: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.got) != 1 || len(second.got) != 1 {
		t.Fatalf("told %d and %d times", len(first.got), len(second.got))
	}
	s := first.got[0]
	if s.Partition != "RXA" || s.CaseID != "e1" || s.Principal != p || !s.At.Equal(now) || s.Total != a.Total || s.Total != 0 {
		t.Fatalf("search %+v", s)
	}
	if s.Need == nil || s.Need.Setting != discharge.CareNursingDementia || len(s.Need.Requirements) != 2 ||
		s.Outcode != "M14" || s.RadiusKm != placement.DefaultRadius(s.Need.Setting) {
		t.Fatalf("search %+v, need %+v", s, s.Need)
	}

	// What-if: the same question inline has no case.
	params, err := mappings.DecodeParameters([]byte(`{"resourceType":"Parameters","parameter":[{"name":"serviceRequest","resource":`+
		string(recs["ServiceRequest/s1"])+`},{"name":"patient","resource":`+string(recs["Patient/p1"])+`}]}`), fhir.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Options(context.Background(), placement.Request{Principal: p, Parameters: params}); err != nil {
		t.Fatal(err)
	}
	if len(first.got) != 2 || first.got[1].Partition != "" || first.got[1].CaseID != "" || first.got[1].Need == nil {
		t.Fatalf("what-if search %+v", first.got)
	}

	// An observer that fails fails the answer with its error.
	down := &fakeObserver{err: discharge.E(discharge.KindUnavailable, "", "down")}
	after := &fakeObserver{}
	_, err = newSvc(recs, down, after).Options(context.Background(), placement.Request{Principal: p, ServiceRequestID: "s1"})
	if discharge.ErrorKind(err) != discharge.KindUnavailable || len(after.got) != 0 {
		t.Fatalf("err %v, later observer told %d times", err, len(after.got))
	}

	// A refused placement (the Encounter has ended) is no search.
	ended := &fakeObserver{}
	_, err = newSvc(walkthroughRecords(t, func(enc map[string]any) { enc["status"] = "finished" }), ended).
		Options(context.Background(), placement.Request{Principal: p, ServiceRequestID: "s1"})
	if discharge.ErrorKind(err) != discharge.KindBusinessRule || len(ended.got) != 0 {
		t.Fatalf("err %v, told %d times", err, len(ended.got))
	}
}
