package cqccsv_test

import (
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/adapters/cqccsv"
	"github.com/dischargegateway/gateway/internal/csvrows"
)

func TestParseRefusesControlCharacters(t *testing.T) {
	in := "name,cqcLocationId,providerId,services,postcode,address\n" +
		"Good,1-100000001,1-000000001,nursing,M14 6AB,1 High St\n" +
		"Bad\x07,1-100000002,1-000000001,nursing,M14 6AB,2 High St\n" +
		"\"Tab\tand\nnewline\",1-100000003,1-000000001,nursing,M14 6AB,3 High St\n"
	ls, rej, err := cqccsv.Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 2 || ls[0].Name != "Good" || len(rej) != 1 || rej[0].Row != 3 || rej[0].Column != "name" {
		t.Fatalf("listings %+v, rejected %+v: want rows 2 and 4 kept and row 3 refused at column name", ls, rej)
	}
}

// FuzzParse: no input panics; every listing returned is well formed (no
// control character FHIR strings may not hold) and every rejection names a
// row.
func FuzzParse(f *testing.F) {
	f.Add("name,cqcLocationId,providerId,services,postcode\nA,1-100000001,1-000000001,nursing,M14 6AB\n")
	f.Add("name,cqcLocationId,providerId,services,postcode,latitude,longitude\nA,1-100000001,1-000000001,nursing;spa,M14,91,0\n\"unclosed")
	f.Add("\ufeffNAME,CQCLOCATIONID,PROVIDERID,SERVICES,POSTCODE\n")
	f.Add("name,cqcLocationId,providerId,services,postcode,address\nA\x01,1-100000001,1-000000001,nursing,M14 6AB,1 High St\x1b\n")
	f.Fuzz(func(t *testing.T, in string) {
		ls, rej, err := cqccsv.Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, l := range ls {
			if l.Name == "" || len(l.Services) == 0 || l.Row < 2 {
				t.Fatalf("malformed listing %+v", l)
			}
			if csvrows.ControlField([]string{l.Name, l.Address, l.Postcode, l.Telephone, l.Website, l.LocationID, l.ProviderID}) >= 0 {
				t.Fatalf("a listing kept a control character: %+v", l)
			}
		}
		for _, r := range rej {
			if r.Row < 2 || r.Reason == "" {
				t.Fatalf("rejection without row or reason: %+v", r)
			}
		}
	})
}
