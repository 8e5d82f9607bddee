package mappings_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
)

// The explanation shows holds and acceptance figures only when they apply,
// so an answer without offers reads as it always did.
func TestPlacementExplanationReferral(t *testing.T) {
	o := discharge.Option{Vacancies: []discharge.BedVacancy{{BedCapacity: discharge.BedCapacity{Type: discharge.BedNursing, AcceptingAdmissions: 3}}}}
	plain := string(mappings.PlacementExplanation(o))
	if strings.Contains(plain, "held") || strings.Contains(plain, `"acceptance","extension"`) {
		t.Fatalf("without holds or answers: %s", plain)
	}
	o.Vacancies[0].Held = 2
	o.Answers = &discharge.Answers{Answered: 12, Accepted: 9, MedianAnswer: 90 * time.Minute}
	got := string(mappings.PlacementExplanation(o))
	for _, want := range []string{`{"url":"held","valueInteger":2}`, `{"url":"bookable","valueInteger":1}`,
		`{"url":"rate","valueDecimal":0.75}`, `{"url":"answered","valueInteger":12}`, `{"url":"medianMinutesToAnswer","valueDecimal":90}`} {
		if !strings.Contains(got, want) {
			t.Fatalf("missing %s in %s", want, got)
		}
	}
}
