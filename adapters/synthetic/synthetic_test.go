package synthetic_test

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/geocode"
	"github.com/dischargegateway/gateway/adapters/synthetic"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
)

func TestProvidersAreValidDeterministicAndEnglish(t *testing.T) {
	geo, err := geocode.LoadFiles(filepath.Join("..", "..", "configs", "geo", "uk-outcode-centroids.csv"), "")
	if err != nil {
		t.Fatal(err)
	}
	places := synthetic.England(geo)
	if len(places) < 2000 {
		t.Fatalf("%d English districts", len(places))
	}
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	ls, caps := synthetic.Providers(2000, places, now, 42)
	ls2, _ := synthetic.Providers(2000, places, now, 42)
	if !reflect.DeepEqual(ls, ls2) {
		t.Fatal("the same seed gave a different world")
	}
	homeCare, accepting := 0, 0
	for i, c := range caps {
		if is := mappings.Validate(c, now); len(is) != 0 {
			t.Fatalf("posting %d invalid: %+v", i, is)
		}
		if ls[i].Position.Lat < 49.8 || ls[i].Position.Lat > 55.9 {
			t.Fatalf("not in England: %+v", ls[i].Position)
		}
		if ls[i].Services[0] == discharge.CareHomeCare {
			homeCare++
		}
		for _, b := range c.Beds {
			if b.AcceptingAdmissions > 0 {
				accepting++
				break
			}
		}
	}
	if homeCare < 300 || homeCare > 500 || accepting < 900 {
		t.Fatalf("proportions off: %d home care, %d with beds accepting", homeCare, accepting)
	}
	refs := synthetic.Referrals(100, places, 1)
	if len(refs) != 100 || refs[0].Bundle(0)["type"] != "transaction" {
		t.Fatal("referrals")
	}
}
