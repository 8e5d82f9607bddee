package fhir

import (
	"math"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/discharge"
)

func TestParsePaging(t *testing.T) {
	tests := []struct {
		query         string
		count, offset int
		total         string
		errAt         string
	}{
		{"", DefaultCount, 0, "", ""},
		{"_count=0", 0, 0, "", ""},
		{"_count=7&_offset=3", 7, 3, "", ""},
		{"_count=501", MaxCount, 0, "", ""},
		{"_count=9223372036854775807", MaxCount, 0, "", ""},
		{"_offset=9223372036854775807", DefaultCount, math.MaxInt64, "", ""},
		{"_total=none", DefaultCount, 0, TotalNone, ""},
		{"_count=-1", 0, 0, "", "_count"},
		{"_count=1.0", 0, 0, "", "_count"},
		{"_count=", 0, 0, "", "_count"},
		{"_count=%2B5", 0, 0, "", "_count"},
		{"_count=05", 0, 0, "", "_count"},
		{"_count=+5", 0, 0, "", "_count"}, // a space
		{"_count=1&_count=1", 0, 0, "", "_count"},
		{"_offset=9223372036854775808", 0, 0, "", "_offset"},
		{"_offset=1e3", 0, 0, "", "_offset"},
		{"_offset=-0", 0, 0, "", "_offset"},
		{"_offset=0", DefaultCount, 0, "", ""},
		{"_total=all", 0, 0, "", "_total"},
		{"_total=none&_total=none", 0, 0, "", "_total"},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			vals, _ := url.ParseQuery(tc.query)
			p, err := ParsePaging(vals, DefaultCount, MaxCount)
			if tc.errAt != "" {
				var de *discharge.Error
				if discharge.ErrorKind(err) != discharge.KindValue || !asDischarge(err, &de) || de.Issues[0].Expression != tc.errAt {
					t.Fatalf("want a value error at %s, got %v", tc.errAt, err)
				}
				return
			}
			if err != nil || p.Count != tc.count || p.Offset != tc.offset || p.Total != tc.total {
				t.Fatalf("got %+v %v", p, err)
			}
		})
	}
}

func asDischarge(err error, de **discharge.Error) bool {
	e, ok := err.(*discharge.Error)
	*de = e
	return ok && len(e.Issues) > 0
}

func TestPageLinks(t *testing.T) {
	rel := func(ls []Link) map[string]int {
		out := map[string]int{}
		for _, l := range ls {
			u, _ := url.Parse(l.URL)
			out[l.Relation], _ = strconv.Atoi(u.Query().Get("_offset"))
		}
		return out
	}
	tests := []struct {
		count, offset, total int
		want                 string // relation=offset, in a fixed order; -1 absent
	}{
		{10, 0, 25, "self=0 first=0 previous=-1 next=10 last=20"},
		{10, 10, 25, "self=10 first=0 previous=0 next=20 last=20"},
		{10, 20, 25, "self=20 first=0 previous=10 next=-1 last=20"},
		{10, 25, 25, "self=25 first=0 previous=15 next=-1 last=20"},
		{10, 1000, 25, "self=1000 first=0 previous=20 next=-1 last=20"},
		{10, math.MaxInt, 25, "self=" + strconv.Itoa(math.MaxInt) + " first=0 previous=20 next=-1 last=20"},
		{10, 5, 0, "self=5 first=0 previous=0 next=-1 last=0"},
		{0, 5, 25, "self=5 first=0 previous=-1 next=-1 last=-1"},
	}
	for _, tc := range tests {
		got := rel(PageLinks("https://x/fhir/Patient", url.Values{"status": {"active"}}, Paging{Count: tc.count, Offset: tc.offset}, tc.total))
		var parts []string
		for _, r := range []string{"self", "first", "previous", "next", "last"} {
			v, ok := got[r]
			if !ok {
				v = -1
			}
			parts = append(parts, r+"="+strconv.Itoa(v))
		}
		if s := strings.Join(parts, " "); s != tc.want {
			t.Errorf("count %d offset %d total %d: %s, want %s", tc.count, tc.offset, tc.total, s, tc.want)
		}
	}
}

// FuzzParsePaging: no query may panic, and what is accepted is in bounds
// and gives links that move forward.
func FuzzParsePaging(f *testing.F) {
	for _, s := range []string{"", "_count=5&_offset=10", "_offset=9223372036854775807&_count=500", "_count=-1", "_total=none"} {
		f.Add(s, 17)
	}
	f.Fuzz(func(t *testing.T, q string, total int) {
		vals, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		p, err := ParsePaging(vals, DefaultCount, MaxCount)
		if err != nil {
			return
		}
		if p.Count < 0 || p.Count > MaxCount || p.Offset < 0 {
			t.Fatalf("out of bounds: %+v", p)
		}
		total = max(total, 0)
		for _, l := range PageLinks("https://x/fhir/Patient", vals, p, total) {
			u, err := url.Parse(l.URL)
			if err != nil {
				t.Fatal(err)
			}
			off, err := strconv.Atoi(u.Query().Get("_offset"))
			if err != nil || off < 0 {
				t.Fatalf("%s link offset %q", l.Relation, u.Query().Get("_offset"))
			}
			if l.Relation == "next" && (off <= p.Offset || off >= total) {
				t.Fatalf("next %d from %d of %d", off, p.Offset, total)
			}
		}
	})
}
