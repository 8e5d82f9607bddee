package discharge_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/discharge"
)

// The published list: the national return's 37 reasons in five families
// (7 hospital process, 4 wellbeing, 3 care transfer hub process, 12
// interface process, 11 capacity), then the gateway's other; codes and
// texts unique, each text beginning with its family; every retired code
// replaced by a current one and none still current.
func TestDelayReasonList(t *testing.T) {
	rs := discharge.DelayReasons()
	if len(rs) != discharge.NationalDelayReasons+1 || rs[len(rs)-1].Code != "other" {
		t.Fatalf("%d reasons, last %v", len(rs), rs[len(rs)-1])
	}
	families := map[string]int{}
	codes, texts := map[string]bool{}, map[string]bool{}
	for i, r := range rs {
		if codes[r.Code] || texts[r.Display] || r.Definition == "" {
			t.Errorf("reason %d %q: repeated or without a definition", i, r.Code)
		}
		codes[r.Code], texts[r.Display] = true, true
		f := discharge.DelayReasonFamily(r.Code)
		families[f]++
		if i < discharge.NationalDelayReasons && !strings.HasPrefix(r.Display, f+" – ") {
			t.Errorf("%s: text %q does not begin with its family %q", r.Code, r.Display, f)
		}
		if !discharge.ValidDelayReason(r.Code) || discharge.CurrentDelayReason(r.Code) != r.Code {
			t.Errorf("%s is not current", r.Code)
		}
	}
	want := map[string]int{discharge.FamilyHospitalProcess: 7, discharge.FamilyWellbeing: 4, discharge.FamilyHubProcess: 3,
		discharge.FamilyInterface: 12, discharge.FamilyCapacity: 11, discharge.FamilyGateway: 1}
	for f, n := range want {
		if families[f] != n {
			t.Errorf("family %q has %d reasons, want %d", f, families[f], n)
		}
	}
	if len(families) != len(want) {
		t.Errorf("families %v", families)
	}
	for _, r := range discharge.RetiredDelayReasons() {
		if discharge.ValidDelayReason(r.Code) || !discharge.ValidDelayReason(r.ReplacedBy) ||
			discharge.CurrentDelayReason(r.Code) != r.ReplacedBy || (!r.Exact && r.Comment == "") {
			t.Errorf("retired %+v", r)
		}
	}
	if discharge.DelayReasonFamily("medical-decision") != "" || discharge.CurrentDelayReason("awaiting-godot") != "awaiting-godot" {
		t.Error("a code that is no reason has a family or a replacement")
	}
}

// A record kept before the list changed (a retired code in the counters)
// is counted under the reason that replaces it.
func TestSitrepCountsRetiredCodesUnderTheirReplacement(t *testing.T) {
	d := discharge.DateOf(time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC))
	s := discharge.ComputeSitrep(d, d, d, []discharge.OpenNCTR{
		{Since: d, Pathway: "3", Reason: "medicines-tta", N: 2},
		{Since: d, Pathway: "3", Reason: "medicines-documentation", N: 1},
		{Since: d, Pathway: "1", Reason: "capacity-care-home", N: 4},
	}, nil, nil)
	if s.ByReason["medicines-documentation"] != 3 || s.ByReason["medicines-tta"] != 0 || s.ByReason["capacity-care-home"] != 4 {
		t.Fatalf("by reason %v", s.ByReason)
	}
}
