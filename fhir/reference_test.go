package fhir

import "testing"

func TestSplitRef(t *testing.T) {
	cases := []struct {
		ref, typ, id string
		ok           bool
	}{
		{"Location/L1", "Location", "L1", true},
		{"https://gw.example/fhir/Patient/p1", "Patient", "p1", true},
		{"Encounter/e1/_history/2", "Encounter", "e1", true},
		{"Location/", "", "", false},
		{"/L1", "", "", false},
		{"L1", "", "", false},
		{"", "", "", false},
	}
	for _, c := range cases {
		typ, id, ok := SplitRef(c.ref)
		if typ != c.typ || id != c.id || ok != c.ok {
			t.Errorf("SplitRef(%q) = %q, %q, %v; want %q, %q, %v", c.ref, typ, id, ok, c.typ, c.id, c.ok)
		}
	}
}
