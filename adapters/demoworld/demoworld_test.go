package demoworld

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
)

const header = "name,type,address,postcode,telephone,website,area_name,area_code,lon,lat\n"

func TestLoad(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, rows string
		wantErr    bool
		check      func(t *testing.T, l discharge.Listing, c discharge.Capacity)
	}{
		{name: "nursing home with contacts", rows: `Acorn,Nursing homes,"1 Road, Manchester",m14 6ab,01612345678,http://acorn.example,Manchester,E08000003,-2.22,53.45`,
			check: func(t *testing.T, l discharge.Listing, c discharge.Capacity) {
				if l.Telephone != "01612345678" || l.Website != "http://acorn.example" || l.Postcode != "M14 6AB" {
					t.Errorf("contacts or postcode lost: %+v", l)
				}
				if !slices.Contains(l.Services, discharge.CareNursing) || slices.Contains(l.Services, discharge.CareResidential) {
					t.Errorf("services %v", l.Services)
				}
				if l.LocationID != ID("ACORN", "M146AB") || !strings.HasPrefix(l.LocationID, IDPrefix) {
					t.Errorf("id %q is not from name and postcode", l.LocationID)
				}
				if l.Rating != "" || l.Contract != "" {
					t.Errorf("a real home got an invented rating or contract: %+v", l)
				}
				if c.LocationID != "cqc-"+l.LocationID || !c.AsOf.Equal(now) || len(c.Beds) == 0 || mappings.Validate(c, now) != nil {
					t.Errorf("capacity %+v", c)
				}
			}},
		{name: "residential home with a home-care agency", rows: `Bee,Residential homes|Homecare agencies|Supported living,x,OL16 2AY,,,Rochdale,E,-2.14,53.62`,
			check: func(t *testing.T, l discharge.Listing, c discharge.Capacity) {
				if !slices.Contains(l.Services, discharge.CareResidential) || !slices.Contains(l.Services, discharge.CareHomeCare) {
					t.Errorf("services %v", l.Services)
				}
				if len(c.HomeCare) != 1 || c.HomeCare[0].Outcodes[0] != "OL16" {
					t.Errorf("home care %+v", c.HomeCare)
				}
			}},
		{name: "no care setting", rows: `Cee,Supported living,x,M1 1AA,,,M,E,-2.2,53.4`, wantErr: true},
		{name: "bad postcode", rows: `Dee,Nursing homes,x,NOPE,,,M,E,-2.2,53.4`, wantErr: true},
		{name: "outside the UK", rows: `Eee,Nursing homes,x,M1 1AA,,,M,E,20,53.4`, wantErr: true},
		{name: "the same home twice", rows: "Fee,Nursing homes,x,M1 1AA,,,M,E,-2.2,53.4\nfee,Nursing homes,x,m11aa,,,M,E,-2.2,53.4", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ls, cs, err := Load(strings.NewReader(header+tc.rows+"\n"), now)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v", err)
			}
			if tc.check != nil {
				tc.check(t, ls[0], cs[0])
			}
		})
	}
}

// TestShippedWorldIsStable: the shipped file loads, every home is in Greater
// Manchester's postcode areas, and a second load is identical but for the
// time (the fixed seed), which is what keeps the import idempotent.
func TestShippedWorldIsStable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "configs", "demo-world", "gm-care-homes.csv"))
	if err != nil {
		t.Fatal(err)
	}
	t1, t2 := time.Now(), time.Now().Add(time.Hour)
	l1, c1, err := Load(strings.NewReader(string(b)), t1)
	if err != nil {
		t.Fatal(err)
	}
	l2, c2, _ := Load(strings.NewReader(string(b)), t2)
	if len(l1) < 500 || !reflect.DeepEqual(l1, l2) {
		t.Fatalf("%d listings; equal on reload: %v", len(l1), reflect.DeepEqual(l1, l2))
	}
	for i := range c2 {
		c2[i].AsOf = t1
		for j := range c2[i].HomeCare {
			c2[i].HomeCare[j].EarliestStart = c1[i].HomeCare[j].EarliestStart
		}
	}
	if !reflect.DeepEqual(c1, c2) {
		t.Fatal("capacity differs between loads")
	}
	gm := map[string]bool{"M": true, "OL": true, "BL": true, "SK": true, "WN": true, "WA": true}
	for _, l := range l1 {
		area := strings.TrimRight(discharge.Outcode(l.Postcode), "0123456789")
		if !gm[area] {
			t.Errorf("%s: %s is not a Greater Manchester postcode area", l.Name, l.Postcode)
		}
	}
}

func FuzzLoad(f *testing.F) {
	f.Add(header + `Acorn,Nursing homes,"1 Road",M14 6AB,01612345678,http://a.example,M,E,-2.22,53.45` + "\n")
	f.Add(header + "\"unterminated\n")
	f.Fuzz(func(t *testing.T, s string) {
		_, _, _ = Load(strings.NewReader(s), time.Now())
	})
}
