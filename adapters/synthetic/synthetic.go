// Package synthetic generates synthetic England for tests, benchmarks and
// load: care providers placed over the real postcode-district centroids in
// realistic proportions of settings, specialisms, funding, contracts,
// ratings and vacancies, and patient referrals to match against them.
//
// The proportions are round figures from public material (DOMAIN.md):
// about 15,000 care homes, roughly three residential to two nursing, over
// 10,000 home-care agencies, a few per cent block-contracted short-stay
// beds; most homes rated good; dementia care common, bariatric care rare;
// vacant is not accepting, and a minority of postings are stale.
package synthetic

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/dischargegateway/gateway/adapters/geocode"
	"github.com/dischargegateway/gateway/discharge"
)

// notEngland are the postcode areas of Scotland, Wales, Northern Ireland,
// the Channel Islands and the Isle of Man.
var notEngland = map[string]bool{"AB": true, "DD": true, "DG": true, "EH": true, "FK": true, "G": true, "HS": true,
	"IV": true, "KA": true, "KW": true, "KY": true, "ML": true, "PA": true, "PH": true, "TD": true, "ZE": true,
	"CF": true, "LD": true, "LL": true, "NP": true, "SA": true, "BT": true, "JE": true, "GY": true, "IM": true}

// Place is an English postcode district.
type Place struct {
	Outcode  string
	Lat, Lon float64
}

// England returns England's districts from a geocoding table, sorted.
func England(geo *geocode.Table) []Place {
	var out []Place
	geo.EachOutcode(func(oc string, p geocode.Point) {
		if !notEngland[geocode.Area(oc)] {
			out = append(out, Place{oc, p.Lat, p.Lon})
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Outcode < out[j].Outcode })
	return out
}

type weighted[T any] struct {
	v T
	w float64
}

func pick[T any](r *rand.Rand, xs []weighted[T]) T {
	total := 0.0
	for _, x := range xs {
		total += x.w
	}
	n := r.Float64() * total
	for _, x := range xs {
		if n < x.w {
			return x.v
		}
		n -= x.w
	}
	return xs[len(xs)-1].v
}

var settings = []weighted[[]discharge.CareSetting]{
	{[]discharge.CareSetting{discharge.CareResidential, discharge.CareResidentialDementia}, 35},
	{[]discharge.CareSetting{discharge.CareResidential}, 10},
	{[]discharge.CareSetting{discharge.CareNursing, discharge.CareNursingDementia}, 22},
	{[]discharge.CareSetting{discharge.CareNursing}, 8},
	{[]discharge.CareSetting{discharge.CareHomeCare}, 20},
	{[]discharge.CareSetting{discharge.CareD2ABed, discharge.CareIntermediateBed}, 5},
}

var specialismShare = map[discharge.Requirement]float64{
	discharge.ReqDementia: 0.7, discharge.ReqHoist: 0.6, discharge.ReqTwoCarers: 0.5, discharge.ReqBariatric: 0.15,
	discharge.ReqOxygen: 0.25, discharge.ReqPEGFeeding: 0.15, discharge.ReqEndOfLife: 0.4, discharge.ReqMentalHealth: 0.1,
	discharge.ReqLearningDisability: 0.08, discharge.ReqBehaviourThatChallenges: 0.1,
}

var specialismOrder = func() []discharge.Requirement {
	var out []discharge.Requirement
	for q := range specialismShare {
		out = append(out, q)
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out
}()

var ratings = []weighted[string]{{"outstanding", 5}, {"good", 75}, {"requires-improvement", 17}, {"inadequate", 1}, {"not-rated", 2}}

// Providers generates n listings with their current capacity at now, from
// a seed, spread over places.
func Providers(n int, places []Place, now time.Time, seed uint64) ([]discharge.Listing, []discharge.Capacity) {
	r := rand.New(rand.NewPCG(seed, 1))
	listings := make([]discharge.Listing, 0, n)
	caps := make([]discharge.Capacity, 0, n)
	for i := 0; i < n; i++ {
		pl := places[r.IntN(len(places))]
		ss := pick(r, settings)
		l := discharge.Listing{Row: i + 2, Name: fmt.Sprintf("Synthetic %s %d", pl.Outcode, i),
			LocationID: fmt.Sprintf("1-%09d", 200000000+i), ProviderID: fmt.Sprintf("1-%09d", 300000000+i/3),
			Services: ss, Postcode: pl.Outcode + " 1AA", Rating: pick(r, ratings), Contract: "spot",
			Position: &discharge.Position{Lat: pl.Lat + (r.Float64()-0.5)*0.04, Lon: pl.Lon + (r.Float64()-0.5)*0.06},
			Beds:     20 + r.IntN(60)}
		// In a fixed order, so a seed always gives the same world.
		for _, q := range specialismOrder {
			if r.Float64() < specialismShare[q] {
				l.Specialisms = append(l.Specialisms, q)
			}
		}
		l.Fundings = []discharge.Funding{discharge.FundSelf}
		if r.Float64() < 0.9 {
			l.Fundings = append(l.Fundings, discharge.FundLocalAuthority)
		}
		if r.Float64() < 0.6 {
			l.Fundings = append(l.Fundings, discharge.FundCHC)
		}
		if ss[0] == discharge.CareD2ABed {
			l.Fundings = append(l.Fundings, discharge.FundNHSD2A)
			if r.Float64() < 0.6 {
				l.Contract = "block"
			}
		} else if r.Float64() < 0.1 {
			l.Contract = "block"
		}
		listings = append(listings, l)
		// Capacity: most fresh, some stale, a few expired.
		age := time.Duration(r.IntN(20)) * time.Hour
		switch x := r.Float64(); {
		case x < 0.05:
			age = 8 * 24 * time.Hour
		case x < 0.15:
			age = time.Duration(25+r.IntN(100)) * time.Hour
		}
		cp := discharge.Capacity{LocationID: "cqc-" + l.LocationID, AsOf: now.Add(-age)}
		if ss[0] == discharge.CareHomeCare {
			cp.HomeCare = []discharge.HomeCareOffer{{Outcodes: []string{pl.Outcode}, HoursPerWeek: float64(r.IntN(60)),
				Packages: r.IntN(4), EarliestStart: discharge.DateOf(now.AddDate(0, 0, r.IntN(5)))}}
		} else {
			seen := map[discharge.BedType]bool{}
			for _, s := range ss {
				for _, bt := range discharge.BedTypesFor(s) {
					if seen[bt] {
						continue
					}
					seen[bt] = true
					cp.Beds = append(cp.Beds, BedCapacity(r, bt, 0.7))
				}
			}
		}
		caps = append(caps, cp)
	}
	return listings, caps
}

// Referral is a synthetic patient and their care request.
type Referral struct {
	Postcode string
	Setting  discharge.CareSetting
	Needs    []discharge.Requirement
	Funding  discharge.Funding
}

// Referrals generates n care requests for patients in the given places,
// in pathway proportions (home care most, care homes fewer).
func Referrals(n int, places []Place, seed uint64) []Referral {
	r := rand.New(rand.NewPCG(seed, 2))
	need := []weighted[discharge.CareSetting]{{discharge.CareHomeCare, 45}, {discharge.CareD2ABed, 15},
		{discharge.CareResidential, 15}, {discharge.CareNursing, 12}, {discharge.CareNursingDementia, 8}, {discharge.CareResidentialDementia, 5}}
	out := make([]Referral, n)
	for i := range out {
		pl := places[r.IntN(len(places))]
		ref := Referral{Postcode: pl.Outcode + " 1AA", Setting: pick(r, need), Funding: discharge.FundLocalAuthority}
		if r.Float64() < 0.3 {
			ref.Needs = append(ref.Needs, discharge.ReqHoist)
		}
		if r.Float64() < 0.2 {
			ref.Needs = append(ref.Needs, discharge.ReqTwoCarers)
		}
		if ref.Setting == discharge.CareD2ABed {
			ref.Funding = discharge.FundNHSD2A
		}
		out[i] = ref
	}
	return out
}

// Bundle renders a referral as a FHIR transaction Bundle of Patient,
// inpatient Encounter and ServiceRequest (gateway codes), for posting.
func (ref Referral) Bundle(i int) map[string]any {
	codes := func(system string, vals ...string) []any {
		var out []any
		for _, v := range vals {
			out = append(out, map[string]any{"coding": []any{map[string]any{"system": system, "code": v}}})
		}
		return out
	}
	const cs = "https://fhir.discharge-gateway.example/CodeSystem/"
	var needs []string
	for _, q := range ref.Needs {
		needs = append(needs, string(q))
	}
	sr := map[string]any{"resourceType": "ServiceRequest", "status": "active", "intent": "order",
		"subject":   map[string]any{"reference": "urn:uuid:00000000-0000-4000-8000-000000000001"},
		"encounter": map[string]any{"reference": "urn:uuid:00000000-0000-4000-8000-000000000002"},
		"code":      codes(cs+"care-setting", string(ref.Setting))[0],
		"extension": []any{map[string]any{"url": "https://fhir.discharge-gateway.example/StructureDefinition/funding",
			"valueCodeableConcept": codes(cs+"funding", string(ref.Funding))[0]}}}
	if len(needs) > 0 {
		sr["orderDetail"] = codes(cs+"requirement", needs...)
	}
	if ref.Setting == discharge.CareHomeCare {
		sr["quantityQuantity"] = map[string]any{"value": 10, "unit": "h/wk", "system": "http://unitsofmeasure.org", "code": "h/wk"}
	}
	return map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": []any{
		map[string]any{"fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000001", "request": map[string]any{"method": "POST", "url": "Patient"},
			"resource": map[string]any{"resourceType": "Patient", "birthDate": "1940-01-01",
				"identifier": []any{map[string]any{"system": "https://trust.example/mrn", "value": fmt.Sprintf("SYN%07d", i)}},
				"address":    []any{map[string]any{"use": "home", "postalCode": ref.Postcode}}}},
		map[string]any{"fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000002", "request": map[string]any{"method": "POST", "url": "Encounter"},
			"resource": map[string]any{"resourceType": "Encounter", "status": "in-progress",
				"class":   map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
				"subject": map[string]any{"reference": "urn:uuid:00000000-0000-4000-8000-000000000001"}}},
		map[string]any{"fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000003", "request": map[string]any{"method": "POST", "url": "ServiceRequest"},
			"resource": sr},
	}}
}

// BedCapacity draws one bed type's synthetic figures: 5 to 34 beds, full
// but for 1 to 3 accepting admissions (with probability pAccepting) and a
// bed reserved one time in five, closed to admissions 3 % of the time.
// Synthetic England and the demo world both draw through it, so their
// vacancies look alike.
func BedCapacity(r *rand.Rand, bt discharge.BedType, pAccepting float64) discharge.BedCapacity {
	max := 5 + r.IntN(30)
	acc := 0
	if r.Float64() < pAccepting {
		acc = 1 + r.IntN(3)
	}
	res := 0
	if r.Float64() < 0.2 {
		res = 1
	}
	if acc+res > max {
		acc = 0
	}
	return discharge.BedCapacity{Type: bt, MaxCapacity: max, Occupied: max - acc - res,
		Reserved: res, AcceptingAdmissions: acc, ClosedToAdmissions: r.Float64() < 0.03}
}
