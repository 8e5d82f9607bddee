// Package demoworld loads the demo world a fresh gateway starts with on its
// embedded store: the real care homes of Greater Manchester (names,
// addresses, postcodes, positions, telephone and website from the CQC care
// directory, via Trafford Data Lab; configs/demo-world/README.md) with
// synthetic detail on top, so that a newcomer's first $placement-options
// finds real places near a Manchester patient.
//
// What is real and what is not matters, because the names are real homes:
// the care settings come from the directory's service types; the dementia
// registration, specialisms, funding streams, registered beds and the
// vacancies are synthetic, drawn from a fixed seed. No CQC rating or
// contract is invented (both are left unknown), and the ids are not CQC
// ids, so the directory carries no CQC identifier for these homes.
package demoworld

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dischargegateway/gateway/adapters/synthetic"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/internal/csvrows"
)

// Seed is the fixed seed of the synthetic detail: the same file always
// gives the same world, so loading it again changes nothing.
const Seed = 20

// IDPrefix starts every demo location and provider id, so they can never
// be mistaken for CQC ids (1-123456789).
const IDPrefix = "gm-"

// serviceTypes maps the directory's service types ("Residential homes",
// "Nursing homes" ...) to care settings. Types with no gateway care setting
// (supported living, shared lives, diagnosis) are dropped.
var serviceTypes = map[string][]discharge.CareSetting{
	"residential homes":               {discharge.CareResidential},
	"nursing homes":                   {discharge.CareNursing},
	"homecare agencies":               {discharge.CareHomeCare},
	"rehabilitation (illness/injury)": {discharge.CareIntermediateBed},
	"hospice":                         {discharge.CareHospice},
}

// specialismShare is the synthetic share of homes covering each need;
// rounded figures in the spirit of adapters/synthetic, kept generous for
// the everyday needs so a demo referral finds several homes.
var specialismShare = []struct {
	r     discharge.Requirement
	share float64
}{
	{discharge.ReqDementia, 0.7}, {discharge.ReqHoist, 0.75}, {discharge.ReqTwoCarers, 0.65},
	{discharge.ReqEndOfLife, 0.45}, {discharge.ReqOxygen, 0.3}, {discharge.ReqBariatric, 0.15},
	{discharge.ReqPEGFeeding, 0.15}, {discharge.ReqMentalHealth, 0.1},
	{discharge.ReqBehaviourThatChallenges, 0.1}, {discharge.ReqLearningDisability, 0.05},
}

var required = []string{"name", "type", "address", "postcode", "telephone", "website", "lat", "lon"}

// Load reads the demo-world CSV and returns one listing per home with its
// synthetic capacity as of now; caps[i] is listings[i]'s. A home with no
// bed or home-care setting (a hospice only) gets a capacity with neither,
// which is not to be posted. Any bad row is an error: the file ships
// with the gateway, so a bad row is a bug, not an operator's typo.
func Load(r io.Reader, now time.Time) ([]discharge.Listing, []discharge.Capacity, error) {
	cr, err := csvrows.New(r, required...)
	if err != nil {
		return nil, nil, fmt.Errorf("demo world: %w", err)
	}
	var listings []discharge.Listing
	var caps []discharge.Capacity
	seen := map[string]int{}
	for {
		rec, err := cr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("demo world: row %d: %w", rec.Number, err)
		}
		l, c, err := home(rec.Get, now)
		if err != nil {
			return nil, nil, fmt.Errorf("demo world: row %d: %w", rec.Number, err)
		}
		if first, dup := seen[l.LocationID]; dup {
			return nil, nil, fmt.Errorf("demo world: row %d: the same home (name and postcode) as row %d", rec.Number, first)
		}
		seen[l.LocationID] = rec.Number
		l.Row = rec.Number
		listings = append(listings, l)
		caps = append(caps, c)
	}
	return listings, caps, nil
}

// ID is a home's location id: a digest of its name and postcode, so the
// same home gets the same id on every load and every machine.
func ID(name, postcode string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(name)) + "|" + discharge.NormalisePostcode(postcode)))
	return IDPrefix + hex.EncodeToString(sum[:6])
}

func home(get func(string) string, now time.Time) (discharge.Listing, discharge.Capacity, error) {
	l := discharge.Listing{Name: get("name"), Address: get("address"), Postcode: discharge.NormalisePostcode(get("postcode")),
		Telephone: get("telephone"), Website: get("website")}
	if l.Name == "" {
		return l, discharge.Capacity{}, fmt.Errorf("name is empty")
	}
	if !discharge.ValidOutcode(discharge.Outcode(l.Postcode)) {
		return l, discharge.Capacity{}, fmt.Errorf("postcode %q is not a UK postcode", get("postcode"))
	}
	lat, err1 := strconv.ParseFloat(get("lat"), 64)
	lon, err2 := strconv.ParseFloat(get("lon"), 64)
	if err1 != nil || err2 != nil || lat < 49 || lat > 61 || lon < -9 || lon > 2.5 {
		return l, discharge.Capacity{}, fmt.Errorf("lat and lon must be numbers within the UK")
	}
	l.Position = &discharge.Position{Lat: lat, Lon: lon}
	l.LocationID = ID(l.Name, l.Postcode)
	// One provider per home: the directory does not say which homes share
	// an owner, and guessing would merge unrelated businesses.
	l.ProviderID = IDPrefix + "p-" + strings.TrimPrefix(l.LocationID, IDPrefix)

	// A generator of its own per home, seeded by the home's id, so a home's
	// detail does not change when another home is added or removed.
	digest, _ := hex.DecodeString(strings.TrimPrefix(l.LocationID, IDPrefix))
	r := rand.New(rand.NewPCG(Seed, binary.BigEndian.Uint64(append(make([]byte, 2), digest...))))

	for _, t := range strings.Split(get("type"), "|") {
		for _, s := range serviceTypes[strings.ToLower(strings.TrimSpace(t))] {
			if !slices.Contains(l.Services, s) {
				l.Services = append(l.Services, s)
			}
		}
	}
	if len(l.Services) == 0 {
		return l, discharge.Capacity{}, fmt.Errorf("type %q names no care setting", get("type"))
	}
	for _, q := range specialismShare {
		if r.Float64() < q.share {
			l.Specialisms = append(l.Specialisms, q.r)
		}
	}
	// A home that covers dementia offers the dementia setting of each of
	// its bed settings.
	if slices.Contains(l.Specialisms, discharge.ReqDementia) {
		for _, p := range [][2]discharge.CareSetting{{discharge.CareResidential, discharge.CareResidentialDementia},
			{discharge.CareNursing, discharge.CareNursingDementia}} {
			if slices.Contains(l.Services, p[0]) {
				l.Services = append(l.Services, p[1])
			}
		}
	}
	l.Fundings = []discharge.Funding{discharge.FundSelf, discharge.FundLocalAuthority}
	if slices.Contains(l.Services, discharge.CareNursing) || r.Float64() < 0.3 {
		l.Fundings = append(l.Fundings, discharge.FundCHC)
	}
	if slices.Contains(l.Services, discharge.CareIntermediateBed) {
		l.Fundings = append(l.Fundings, discharge.FundNHSD2A)
	}
	l.Beds = 20 + r.IntN(60)
	return l, capacity(l, r, now), nil
}

// capacity is the home's synthetic vacancies, fresh at now: most bed types
// have a bed or two, some are full, a few are closed to admissions.
func capacity(l discharge.Listing, r *rand.Rand, now time.Time) discharge.Capacity {
	c := discharge.Capacity{LocationID: "cqc-" + l.LocationID, AsOf: now}
	seen := map[discharge.BedType]bool{}
	for _, s := range l.Services {
		if s == discharge.CareHomeCare {
			c.HomeCare = append(c.HomeCare, discharge.HomeCareOffer{Outcodes: []string{discharge.Outcode(l.Postcode)},
				HoursPerWeek: float64(10 + r.IntN(40)), Packages: 1 + r.IntN(3), EarliestStart: discharge.DateOf(now)})
			continue
		}
		for _, bt := range discharge.BedTypesFor(s) {
			if seen[bt] {
				continue
			}
			seen[bt] = true
			c.Beds = append(c.Beds, synthetic.BedCapacity(r, bt, 0.75))
		}
	}
	return c
}
