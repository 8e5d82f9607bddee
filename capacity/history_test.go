package capacity_test

import (
	"errors"
	"net/url"
	"slices"
	"testing"

	"github.com/dischargegateway/gateway/capacity"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

func TestParseHistorySearch(t *testing.T) {
	cases := []struct {
		name, query string
		strict      bool
		wantKind    discharge.Kind // 0: accepted
		wantAt      string         // the error's expression
		wantID      string
		wantWarned  []string // the parameters warned about, in order
	}{
		{"subject and sort", "subject=Location/L1&_sort=-date&_count=5", false, 0, "", "L1", nil},
		{"absolute, versioned subject", "subject=https://gw.example/fhir/Location/L1/_history/3", false, 0, "", "L1", nil},
		{"no subject", "_sort=-date", false, discharge.KindRequired, "subject", "", nil},
		{"subject not a Location", "subject=Patient/p1", false, discharge.KindRequired, "subject", "", nil},
		{"other order", "subject=Location/L1&_sort=date", false, discharge.KindNotSupported, "_sort", "", nil},
		{"bad paging", "subject=Location/L1&_count=x", false, discharge.KindValue, "_count", "", nil},
		{"unknown, strict", "subject=Location/L1&zeta=1&alpha=1", true, discharge.KindNotSupported, "alpha", "", nil},
		{"unknown, lenient", "subject=Location/L1&zeta=1&alpha=1", false, 0, "", "L1", []string{"alpha", "zeta"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, err := url.ParseQuery(c.query)
			if err != nil {
				t.Fatal(err)
			}
			hs, err := capacity.ParseHistorySearch(q, c.strict)
			if c.wantKind != 0 {
				var de *discharge.Error
				if discharge.ErrorKind(err) != c.wantKind || !errors.As(err, &de) || len(de.Issues) == 0 || de.Issues[0].Expression != c.wantAt {
					t.Fatalf("got %v, want %v at %s", err, c.wantKind, c.wantAt)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if hs.LocationID != c.wantID || hs.Used.Get("subject") == "" {
				t.Fatalf("%+v", hs)
			}
			var warned []string
			for _, w := range hs.Warnings {
				warned = append(warned, w.Expression)
				if hs.Used.Has(w.Expression) {
					t.Fatalf("%s was warned about and used", w.Expression)
				}
			}
			if !slices.Equal(warned, c.wantWarned) {
				t.Fatalf("warned about %v, want %v", warned, c.wantWarned)
			}
		})
	}
}

// FuzzParseHistorySearch: no query panics the MeasureReport search's rules,
// and what they accept names a Location and pages within the bounds.
func FuzzParseHistorySearch(f *testing.F) {
	for _, s := range []string{"subject=Location/L1", "subject=Location/&_sort=-date", "subject=/Location/x/_history/",
		"subject=Location/L1&_count=-1", "subject=Location/L1&_offset=99999999999999999999", "_sort=-date&subject=Patient/1"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, raw string, strict bool) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		hs, err := capacity.ParseHistorySearch(q, strict)
		if err != nil {
			return
		}
		if hs.LocationID == "" || hs.Paging.Count < 0 || hs.Paging.Count > fhir.MaxCount || hs.Paging.Offset < 0 {
			t.Fatalf("accepted %+v", hs)
		}
		if strict && len(hs.Warnings) > 0 {
			t.Fatalf("strict, yet warned: %v", hs.Warnings)
		}
	})
}
