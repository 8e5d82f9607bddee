package cqccsv_test

import (
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/adapters/cqccsv"
)

func TestParseContacts(t *testing.T) {
	const head = "name,cqcLocationId,providerId,services,postcode,telephone,website\n"
	for _, tc := range []struct {
		name, row          string
		wantTel, wantWeb   string
		wantRejectedColumn string
	}{
		{"both", "A,1-100000001,1-000000001,nursing,M14 6AB,0161  234 5678,https://a.example/", "0161 234 5678", "https://a.example/", ""},
		{"international and no scheme", "A,1-100000001,1-000000001,nursing,M14 6AB,+44 (161) 234-5678,www.a.co.uk", "+44 (161) 234-5678", "http://www.a.co.uk", ""},
		{"none", "A,1-100000001,1-000000001,nursing,M14 6AB,,", "", "", ""},
		{"telephone with letters", "A,1-100000001,1-000000001,nursing,M14 6AB,call us,", "", "", "telephone"},
		{"telephone too short", "A,1-100000001,1-000000001,nursing,M14 6AB,161688,", "", "", "telephone"},
		{"website not http", "A,1-100000001,1-000000001,nursing,M14 6AB,,javascript:alert(1)", "", "", "website"},
		{"website without a host", "A,1-100000001,1-000000001,nursing,M14 6AB,,NA", "", "", "website"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ls, rej, err := cqccsv.Parse(strings.NewReader(head + tc.row + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantRejectedColumn != "" {
				if len(rej) != 1 || rej[0].Column != tc.wantRejectedColumn || rej[0].Row != 2 {
					t.Fatalf("rejections %+v, want row 2 column %s", rej, tc.wantRejectedColumn)
				}
				return
			}
			if len(ls) != 1 || ls[0].Telephone != tc.wantTel || ls[0].Website != tc.wantWeb {
				t.Fatalf("listings %+v rejections %+v", ls, rej)
			}
		})
	}
}
