package mappings

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/discharge"
)

// randomOption is an option with every part of the explanation present or
// not, at random, with awkward numbers (many decimals, tiny, zero).
func randomOption(r *rand.Rand) discharge.Option {
	f := func() float64 {
		switch r.IntN(4) {
		case 0:
			return 0
		case 1:
			return r.Float64() * 1e-7
		default:
			return r.Float64()
		}
	}
	o := discharge.Option{
		Components: discharge.Components{Distance: f(), Freshness: f(), Contract: f(), Quality: f(), Preference: f(), Acceptance: f()},
		AsOf:       time.Unix(r.Int64N(4e9), r.Int64N(1e9)).In(time.FixedZone("X", 3600*r.IntN(5))),
		Freshness:  []discharge.Freshness{discharge.Fresh, "stale", ""}[r.IntN(3)],
	}
	for range r.IntN(3) {
		o.Covered = append(o.Covered, []discharge.Requirement{"dementia", "bariatric", "<&>\u2028"}[r.IntN(3)])
	}
	for range r.IntN(4) {
		v := discharge.BedVacancy{BedCapacity: discharge.BedCapacity{Type: discharge.BedNursing, AcceptingAdmissions: r.IntN(9)}}
		if r.IntN(2) == 0 {
			v.Held = r.IntN(3)
		}
		o.Vacancies = append(o.Vacancies, v)
	}
	for range r.IntN(3) {
		o.HomeCare = append(o.HomeCare, discharge.HomeCareOffer{HoursPerWeek: float64(r.IntN(800)) / 8, EarliestStart: discharge.DateOf(o.AsOf)})
	}
	if r.IntN(2) == 0 {
		o.Answers = &discharge.Answers{Answered: r.IntN(50) + 1, Accepted: r.IntN(50), MedianAnswer: time.Duration(r.Int64N(int64(48 * time.Hour)))}
	}
	return o
}

// The hand-written encoder writes what json.Marshal wrote for the same
// tree, byte for byte (field order, omitempty, HTML escaping, numbers).
func TestExplanationMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 3000 {
		o := randomOption(r)
		want, err := json.Marshal(explanationTree(o))
		if err != nil {
			t.Fatal(err)
		}
		if got := appendExplanation([]byte("x"), o); string(got) != "x"+string(want) {
			t.Fatalf("appendExplanation:\n%s\njson.Marshal of the tree:\n%s", got[1:], want)
		}
	}
}

// The reference the hand-written encoder is held to: the typed tree the
// explanation was built as, and encoded by json.Marshal, before
// appendExplanation wrote it directly.

// explanationExt is one FHIR Extension of the explanation.
type explanationExt struct {
	URL           string           `json:"url"`
	Extension     []explanationExt `json:"extension,omitempty"`
	ValueCode     string           `json:"valueCode,omitempty"`
	ValueDateTime string           `json:"valueDateTime,omitempty"`
	ValueDate     string           `json:"valueDate,omitempty"`
	ValueDecimal  *float64         `json:"valueDecimal,omitempty"`
	ValueInteger  *int             `json:"valueInteger,omitempty"`
	ValueCoding   *explainCoding   `json:"valueCoding,omitempty"`
}

type explainCoding struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

// explanationTree is an option's explanation extension as a tree.
func explanationTree(o discharge.Option) explanationExt {
	n := 2 + 6 + len(o.Covered) + len(o.Vacancies) + len(o.HomeCare)
	ext := make([]explanationExt, 0, n)
	ext = append(ext,
		explanationExt{URL: "freshness", ValueCode: string(o.Freshness)},
		explanationExt{URL: "asOf", ValueDateTime: o.AsOf.UTC().Format(time.RFC3339)})
	// One backing array for the numbers the extensions point at.
	nums := make([]float64, 0, 8+len(o.HomeCare))
	num := func(f float64) *float64 { nums = append(nums, f); return &nums[len(nums)-1] }
	ints := make([]int, 0, len(o.Vacancies))
	for _, c := range [...]struct {
		name string
		v    float64
	}{{"distance", o.Components.Distance}, {"freshness", o.Components.Freshness}, {"contract", o.Components.Contract},
		{"quality", o.Components.Quality}, {"preference", o.Components.Preference}, {"acceptance", o.Components.Acceptance}} {
		ext = append(ext, explanationExt{URL: "component", Extension: []explanationExt{
			{URL: "name", ValueCode: c.name}, {URL: "value", ValueDecimal: num(round4(c.v))}}})
	}
	for _, r := range o.Covered {
		ext = append(ext, explanationExt{URL: "covers", ValueCoding: &explainCoding{System: RequirementSystem, Code: string(r)}})
	}
	for _, b := range o.Vacancies {
		ints = append(ints, b.AcceptingAdmissions)
		v := []explanationExt{
			{URL: "bedType", ValueCoding: &explainCoding{System: BedTypeSystem, Code: string(b.Type)}},
			{URL: "acceptingAdmissions", ValueInteger: &ints[len(ints)-1]}}
		if b.Held > 0 {
			// held and bookable only when an offer holds a bed, so an
			// answer without holds reads as it always did.
			v = append(v, explanationExt{URL: "held", ValueInteger: &b.Held},
				explanationExt{URL: "bookable", ValueInteger: ptr(b.Bookable())})
		}
		ext = append(ext, explanationExt{URL: "vacancy", Extension: v})
	}
	if a := o.Answers; a != nil {
		// The figures behind the acceptance component (present only when
		// the provider answered enough offers to be scored by them).
		ext = append(ext, explanationExt{URL: "acceptance", Extension: []explanationExt{
			{URL: "rate", ValueDecimal: num(round4(a.Rate()))},
			{URL: "answered", ValueInteger: ptr(a.Answered)},
			{URL: "medianMinutesToAnswer", ValueDecimal: num(round4(a.MedianAnswer.Minutes()))}}})
	}
	for _, h := range o.HomeCare {
		ext = append(ext, explanationExt{URL: "homeCare", Extension: []explanationExt{
			{URL: "hoursPerWeek", ValueDecimal: num(h.HoursPerWeek)},
			{URL: "earliestStart", ValueDate: h.EarliestStart.String()}}})
	}
	return explanationExt{URL: PlacementExplanationURL, Extension: ext}
}

func ptr(n int) *int { return &n }
