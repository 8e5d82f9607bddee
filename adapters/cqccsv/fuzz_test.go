package cqccsv_test

import (
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/adapters/cqccsv"
)

// FuzzParse: no input panics; every listing returned is well formed and
// every rejection names a row.
func FuzzParse(f *testing.F) {
	f.Add("name,cqcLocationId,providerId,services,postcode\nA,1-100000001,1-000000001,nursing,M14 6AB\n")
	f.Add("name,cqcLocationId,providerId,services,postcode,latitude,longitude\nA,1-100000001,1-000000001,nursing;spa,M14,91,0\n\"unclosed")
	f.Add("\ufeffNAME,CQCLOCATIONID,PROVIDERID,SERVICES,POSTCODE\n")
	f.Fuzz(func(t *testing.T, in string) {
		ls, rej, err := cqccsv.Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, l := range ls {
			if l.Name == "" || len(l.Services) == 0 || l.Row < 2 {
				t.Fatalf("malformed listing %+v", l)
			}
		}
		for _, r := range rej {
			if r.Row < 2 || r.Reason == "" {
				t.Fatalf("rejection without row or reason: %+v", r)
			}
		}
	})
}
