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

// fakeReferrals records the shortlisted calls; fail makes them fail.
type fakeReferrals struct {
	shortlisted []string
	fail        error
}

func (f *fakeReferrals) ActiveHolds(context.Context, []string) (map[string]map[discharge.BedType]int, error) {
	return nil, f.fail
}
func (f *fakeReferrals) ProviderAnswers(context.Context, []string, time.Time) (map[string]discharge.Answers, error) {
	return nil, f.fail
}
func (f *fakeReferrals) Shortlisted(_ context.Context, partition, caseID, actor, org string, _ time.Time) error {
	if f.fail != nil {
		return f.fail
	}
	f.shortlisted = append(f.shortlisted, partition+"/"+caseID+" by "+actor+"@"+org)
	return nil
}

// A stored ServiceRequest's placement marks its case shortlisted (the
// record keeps only the first); a what-if question marks nothing; a record
// that cannot take the mark fails the answer as unavailable.
func TestOptionsShortlists(t *testing.T) {
	tr, err := mappings.LoadTranslator(os.DirFS(filepath.Join("..", "configs", "conceptmaps")))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 16, 10, 0, 0, 0, time.UTC)
	recs := walkthroughRecords(t, func(map[string]any) {})
	p := &auth.Principal{ClientID: "trust-a", Org: "RXA", Role: auth.RoleTrust}
	for _, c := range []struct {
		name   string
		stored bool
		fail   error
		want   []string
		down   bool // the answer is KindUnavailable
	}{
		{"stored", true, nil, []string{"RXA/e1 by trust-a@RXA"}, false},
		{"what-if", false, nil, nil, false},
		{"record down", true, discharge.E(discharge.KindInternal, "", "closed"), nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			refs := &fakeReferrals{fail: c.fail}
			svc := placement.New(placement.Config{Freshness: discharge.DefaultFreshness, Weights: discharge.DefaultWeights,
				Translator: tr, Now: func() time.Time { return now }, Referrals: refs},
				&fakeCapacity{}, fakeDirectory{}, fakeGeo{}, recs)
			req := placement.Request{Principal: p, ServiceRequestID: "s1"}
			if !c.stored {
				params, err := mappings.DecodeParameters([]byte(`{"resourceType":"Parameters","parameter":[{"name":"serviceRequest","resource":`+
					string(recs["ServiceRequest/s1"])+`},{"name":"patient","resource":`+string(recs["Patient/p1"])+`}]}`), fhir.Limits{})
				if err != nil {
					t.Fatal(err)
				}
				req = placement.Request{Principal: p, Parameters: params}
			}
			_, err := svc.Options(context.Background(), req)
			if c.stored && !c.down {
				// Again: this process knows the case is past referred.
				if _, err := svc.Options(context.Background(), req); err != nil {
					t.Fatal(err)
				}
			}
			if (err != nil) != c.down || (c.down && discharge.ErrorKind(err) != discharge.KindUnavailable) {
				t.Fatalf("err %v, want unavailable: %v", err, c.down)
			}
			if len(refs.shortlisted) != len(c.want) || (len(c.want) > 0 && refs.shortlisted[0] != c.want[0]) {
				t.Fatalf("shortlisted %v, want %v", refs.shortlisted, c.want)
			}
		})
	}
}
