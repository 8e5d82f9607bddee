package cqccsv_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/adapters/cqccsv"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/internal/csvrows"
	"github.com/dischargegateway/gateway/mappings"
)

func shippedTranslator(t testing.TB) *mappings.Translator {
	t.Helper()
	tr, err := mappings.LoadTranslator(os.DirFS(filepath.Join("..", "..", "configs", "conceptmaps")))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestParseCQCDirectoryFixture(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "hsca-active-locations.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := cqccsv.ParseCQCDirectory(f, shippedTranslator(t))
	if err != nil {
		t.Fatal(err)
	}
	if got.Rows != 7 || got.Skipped != 2 {
		t.Errorf("rows %d skipped %d, want 7 and 2 (the GP practice and the dormant home)", got.Rows, got.Skipped)
	}
	wantRejected := []discharge.RowIssue{
		{Row: 5, Column: "Location Postal Code", Reason: "not a UK postcode"},
		{Row: 8, Column: "Location ID", Reason: "not a CQC location id (1-123456789)"},
	}
	for i := range wantRejected {
		if i >= len(got.Rejected) || got.Rejected[i].Row != wantRejected[i].Row || got.Rejected[i].Column != wantRejected[i].Column {
			t.Fatalf("rejected %+v, want rows and columns of %+v", got.Rejected, wantRejected)
		}
	}
	if len(got.Rejected) != len(wantRejected) {
		t.Fatalf("rejected %+v", got.Rejected)
	}
	if len(got.Warnings) != 1 || got.Warnings[0].Row != 4 || got.Warnings[0].Column != "Location Web Address" {
		t.Errorf("warnings %+v, want row 4's web address", got.Warnings)
	}
	byID := map[string]discharge.Listing{}
	for _, l := range got.Listings {
		byID[l.LocationID] = l
	}
	for _, tc := range []struct {
		name, id                 string
		services                 []discharge.CareSetting
		specialisms              []discharge.Requirement
		tel, web, rating, postcd string
		beds                     int
	}{
		{"nursing home with the dementia band", "1-10000000101",
			[]discharge.CareSetting{discharge.CareNursing, discharge.CareNursingDementia}, []discharge.Requirement{discharge.ReqDementia},
			"01612240101", "http://www.fictional-fallowfield.example.co.uk", "good", "M14 6JS", 48},
		{"residential home, learning disability band, number without its 0", "1-10000000202",
			[]discharge.CareSetting{discharge.CareResidential}, []discharge.Requirement{discharge.ReqLearningDisability},
			"01614320202", "https://heaton.example.org/", "outstanding", "SK4 4NX", 26},
		{"home-care agency", "1-10000000303",
			[]discharge.CareSetting{discharge.CareHomeCare}, []discharge.Requirement{discharge.ReqDementia},
			"0161 736 0303", "", "requires-improvement", "M6 5BY", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, ok := byID[tc.id]
			if !ok {
				t.Fatalf("%s not imported", tc.id)
			}
			if !reflect.DeepEqual(l.Services, tc.services) || !reflect.DeepEqual(l.Specialisms, tc.specialisms) {
				t.Errorf("services %v specialisms %v", l.Services, l.Specialisms)
			}
			if l.Telephone != tc.tel || l.Website != tc.web || l.Rating != tc.rating || l.Postcode != tc.postcd || l.Beds != tc.beds {
				t.Errorf("%+v", l)
			}
			if l.Position == nil || l.Address == "" {
				t.Errorf("position or address lost: %+v", l)
			}
		})
	}
}

func TestParseCQCDirectoryFileErrors(t *testing.T) {
	tr := shippedTranslator(t)
	for _, tc := range []struct{ name, in string }{
		{"the weekly directory, not the one with filters", "Name,Address,Postcode,Phone number,Service types\n"},
		{"no provider column", "Location ID,Location Name,Care home?,Location Postal Code\n"},
		{"empty", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := cqccsv.ParseCQCDirectory(strings.NewReader(tc.in), tr); err == nil {
				t.Fatal("want an error")
			}
		})
	}
	// Without the CQC ConceptMap every row would be skipped: refuse instead.
	empty, _ := mappings.NewTranslator(nil)
	if _, err := cqccsv.ParseCQCDirectory(strings.NewReader("Location ID\n"), empty); err == nil {
		t.Fatal("want an error without the ConceptMap")
	}
}

func TestParseCQCDirectoryTitleRows(t *testing.T) {
	in := "Care directory with filters\nSource: CQC database as at 1 October 2026\n" +
		"Location ID,Location Name,Care home?,Location Postal Code,Provider ID,Service type - Care home service without nursing\n" +
		"1-10000000909,A Home,Y,m14 6ab,1-100000009,Y\n"
	got, err := cqccsv.ParseCQCDirectory(strings.NewReader(in), shippedTranslator(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Listings) != 1 || got.Listings[0].Row != 4 {
		t.Fatalf("%+v", got)
	}
}

// TestCQCConceptMap: the published map follows FHIR's cmd-1 (a narrower or
// inexact target explains itself in a comment; wider too, by house rule)
// and the reader's system urls are the gateway's.
func TestCQCConceptMap(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "configs", "conceptmaps", "cqc-service-type-to-care-setting.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Group []struct {
			Source, Target string
			Element        []struct {
				Code   string
				Target []struct{ Code, Equivalence, Comment string }
			}
		}
	}
	if err := json.Unmarshal(b, &cm); err != nil {
		t.Fatal(err)
	}
	if _, err := fhir.Validate(b, "ConceptMap", fhir.Limits{MaxDepth: 64, MaxBundleEntries: 10}); err != nil {
		t.Fatalf("not a valid R4 ConceptMap: %v", err)
	}
	targets := map[string]bool{}
	for _, g := range cm.Group {
		targets[g.Target] = true
		if g.Source != cqccsv.CQCColumnSystem {
			t.Errorf("group source %s", g.Source)
		}
		for _, e := range g.Element {
			for _, tg := range e.Target {
				switch tg.Equivalence {
				case "narrower", "inexact", "wider", "unmatched":
					if tg.Comment == "" {
						t.Errorf("%s → %s (%s) has no comment", e.Code, tg.Code, tg.Equivalence)
					}
				}
			}
		}
	}
	if !targets[mappings.CareSettingSystem] || !targets[mappings.RequirementSystem] || len(targets) != 2 {
		t.Errorf("target systems %v", targets)
	}
}

func FuzzParseCQCDirectory(f *testing.F) {
	tr := shippedTranslator(f)
	b, err := os.ReadFile(filepath.Join("testdata", "hsca-active-locations.csv"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(b))
	f.Add("Location ID,Location Name,Care home?,Location Postal Code,Provider ID,Service type - Domiciliary care service\n1-1,\"x\n")
	if i := strings.Index(string(b), "\n1-"); i > 0 { // the fixture with a control character in its first listing
		f.Add(string(b[:i+3]) + "\x0b" + string(b[i+3:]))
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := cqccsv.ParseCQCDirectory(strings.NewReader(in), tr)
		if err != nil {
			return
		}
		for _, l := range got.Listings {
			if l.Name == "" || len(l.Services) == 0 || l.Row < 2 {
				t.Fatalf("malformed listing %+v", l)
			}
			if csvrows.ControlField([]string{l.Name, l.Address, l.Postcode, l.Telephone, l.Website, l.LocationID, l.ProviderID}) >= 0 {
				t.Fatalf("a listing kept a control character: %+v", l)
			}
		}
		for _, r := range got.Rejected {
			if r.Row < 2 || r.Reason == "" {
				t.Fatalf("rejection without row or reason: %+v", r)
			}
		}
	})
}
