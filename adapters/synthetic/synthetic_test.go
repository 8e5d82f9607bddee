package synthetic_test

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/geocode"
	"github.com/dischargegateway/gateway/adapters/synthetic"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
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

// The synthetic stays are valid R4 Encounters, split over the trusts,
// with NCTR patients and discharges to report.
func TestCasesAreValidEncounters(t *testing.T) {
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	cs := synthetic.Cases(200, []string{"RXA", "RXB"}, now, 1)
	perTrust := map[string]int{}
	finished, nctr := 0, 0
	for _, c := range cs {
		if _, err := fhir.Validate(c.Encounter, "Encounter", fhir.DefaultLimits); err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		perTrust[c.Trust]++
		s := string(c.Encounter)
		if strings.Contains(s, `"status":"finished"`) {
			finished++
		}
		if strings.Contains(s, "criteria-to-reside") {
			nctr++
		}
	}
	if perTrust["RXA"] != 100 || perTrust["RXB"] != 100 || finished < 40 || nctr < 80 {
		t.Fatalf("trusts %v finished %d nctr %d", perTrust, finished, nctr)
	}
}
