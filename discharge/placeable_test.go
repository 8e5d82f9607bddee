package discharge

import (
	"testing"
	"time"
)

func TestToday(t *testing.T) {
	for _, tc := range []struct {
		at   string
		want Date
	}{
		{"2026-06-30T23:30:00Z", Date{2026, 7, 1}},   // BST: already tomorrow in London
		{"2026-12-31T23:30:00Z", Date{2026, 12, 31}}, // GMT
		{"2026-03-29T00:59:00Z", Date{2026, 3, 29}},
		{"2026-07-01T00:30:00+02:00", Date{2026, 6, 30}}, // the instant, not the zone it was written in
	} {
		at, err := time.Parse(time.RFC3339, tc.at)
		if err != nil {
			t.Fatal(err)
		}
		if got := Today(at); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.at, got, tc.want)
		}
	}
}

func TestClosedAndEnded(t *testing.T) {
	for status, closed := range map[string]bool{"draft": false, "active": false, "on-hold": false, "unknown": false, "": false,
		"revoked": true, "completed": true, "entered-in-error": true} {
		n := CareNeed{Status: status}
		if n.Closed() != closed {
			t.Errorf("ServiceRequest %q: closed %v", status, n.Closed())
		}
	}
	for status, ended := range map[string]bool{"planned": false, "arrived": false, "in-progress": false, "onleave": false, "unknown": false, "": false,
		"finished": true, "cancelled": true, "entered-in-error": true} {
		if CaseEnded(status) != ended {
			t.Errorf("Encounter %q: ended %v", status, CaseEnded(status))
		}
	}
}
