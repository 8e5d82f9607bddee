package fhir

import "testing"

func TestParseETag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{`W/"3"`, 3, true},
		{`"3"`, 3, true},
		{` W/"12" `, 12, true},
		{`3`, 3, true},
		{`W/"999999999999999999"`, 999999999999999999, true},
		{`"3`, 0, false},
		{`3"`, 0, false},
		{`W/3`, 0, false},
		{`W/""3""`, 0, false},
		{`""`, 0, false},
		{`W/""`, 0, false},
		{`"+3"`, 0, false},
		{`"-3"`, 0, false},
		{`" 3"`, 0, false},
		{`"3a"`, 0, false},
		{`"0"`, 0, false},
		{`"1000000000000000000"`, 0, false},
		{`w/"3"`, 0, false},
		{`*`, 0, false},
		{``, 0, false},
		{`"`, 0, false},
	} {
		got, ok := ParseETag(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseETag(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	for v := int64(1); v < 2000; v += 37 {
		if got, ok := ParseETag(ETag(v)); !ok || got != v {
			t.Errorf("ParseETag(ETag(%d)) = %d, %v", v, got, ok)
		}
	}
}

func FuzzParseETag(f *testing.F) {
	for _, s := range []string{`W/"3"`, `"3"`, `3`, `"3`, `W/3`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := ParseETag(s)
		if !ok {
			return
		}
		if v <= 0 {
			t.Fatalf("ParseETag(%q) = %d, ok", s, v)
		}
		// Whatever is accepted names the version it renders back to.
		if back, ok2 := ParseETag(ETag(v)); !ok2 || back != v {
			t.Fatalf("ETag(%d) does not parse back", v)
		}
	})
}
