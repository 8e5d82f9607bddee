package discharge

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"
)

// Weights weigh the score components. They need not sum to 1: the score is
// divided by their sum, so only their ratios matter.
type Weights struct {
	Distance   float64
	Freshness  float64
	Contract   float64
	Quality    float64
	Preference float64
	Acceptance float64
}

// DefaultWeights favour a near, well-rated provider with fresh figures;
// block-contracted beds (already paid for) come before spot ones. They sum
// to 1: distance 0.35 (travel for family visits and the hub's first
// question), quality 0.2 (CQC rating), freshness 0.15 (trust in the
// vacancy), contract 0.15 (block before spot), preference 0.1 (patient
// choice, which the hub honours anyway) and acceptance 0.05 (the
// provider's acceptance rate, neutral below MinAnswered answers). Treat it as read-only; routes.go copies it into the config.
var DefaultWeights = Weights{Distance: 0.35, Freshness: 0.15, Contract: 0.15, Quality: 0.2, Preference: 0.1, Acceptance: 0.05}

// Validate rejects negative or non-finite weights and an all-zero set.
func (w Weights) Validate() error {
	sum := 0.0
	for _, v := range w.list() {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("weights must be finite and not negative")
		}
		sum += v
	}
	if sum == 0 {
		return fmt.Errorf("at least one weight must be positive")
	}
	return nil
}

// Normalised returns w scaled to sum to 1, for display; the score is the
// same either way. Call it on valid weights only.
func (w Weights) Normalised() Weights {
	sum := w.sum()
	if sum == 0 {
		return w
	}
	return Weights{Distance: w.Distance / sum, Freshness: w.Freshness / sum, Contract: w.Contract / sum,
		Quality: w.Quality / sum, Preference: w.Preference / sum, Acceptance: w.Acceptance / sum}
}

func (w Weights) list() []float64 {
	return []float64{w.Distance, w.Freshness, w.Contract, w.Quality, w.Preference, w.Acceptance}
}

func (w Weights) sum() float64 {
	return w.Distance + w.Freshness + w.Contract + w.Quality + w.Preference + w.Acceptance
}

// Components are an option's score parts, each 0..1.
type Components struct {
	Distance   float64
	Freshness  float64
	Contract   float64
	Quality    float64
	Preference float64
	Acceptance float64
}

// MinAnswered is how many offers a provider must have answered (accepted
// or declined) in the window before its acceptance rate counts: below it
// the acceptance component stays neutral (0.5), so that one early decline
// does not sink a new provider. Ten answers put a rate's steps at 10%.
const MinAnswered = 10

// AcceptanceWindow is how far back a provider's answers are counted.
const AcceptanceWindow = 90 * 24 * time.Hour

// Answers are a provider's answers to the offers sent to it in the last
// AcceptanceWindow: a ranking hint, read from the record.
type Answers struct {
	// Answered counts the offers it accepted or declined; Accepted those
	// it accepted.
	Answered, Accepted int
	// MedianAnswer is the median time from an offer to its answer.
	MedianAnswer time.Duration
}

// Rate is the share of answered offers accepted (0 when none answered).
func (a Answers) Rate() float64 {
	if a.Answered <= 0 {
		return 0
	}
	return float64(a.Accepted) / float64(a.Answered)
}

// ratingScore turns a CQC rating into the quality component. Not rated
// (new services) and unknown ratings are neutral; requires improvement is
// nearer inadequate than good, as commissioners treat it.
var ratingScore = map[string]float64{RatingOutstanding: 1, RatingGood: 0.75, RatingRequiresImprovement: 0.35,
	RatingInadequate: 0, RatingNotRated: 0.5}

// components scores an option that passed every hard filter. Each part is
// in [0, 1].
func components(req MatchRequest, o Option, bedBased bool) Components {
	var cp Components
	switch {
	case !bedBased || o.DistanceKm == nil || req.RadiusKm <= 0:
		// Home care is judged by coverage, not distance: inside it, every
		// provider is as near as any other.
		cp.Distance = 1
	default:
		cp.Distance = clamp01(1 - *o.DistanceKm/req.RadiusKm)
	}
	// Stale figures, when included at all, earn nothing for freshness.
	if o.Freshness == Fresh && req.Freshness.StaleAfter > 0 {
		age := req.Now.Sub(o.AsOf)
		cp.Freshness = clamp01(1 - float64(age)/float64(req.Freshness.StaleAfter))
	}
	if o.Provider.Contract == ContractBlock {
		cp.Contract = 1
	}
	if q, ok := ratingScore[o.Provider.Rating]; ok {
		cp.Quality = q
	} else {
		cp.Quality = ratingScore[RatingNotRated]
	}
	for _, pref := range req.Need.PreferredProviders {
		if refers(pref, o.Provider) {
			cp.Preference = 1
		}
	}
	cp.Acceptance = 0.5 // neutral: too few answers to judge by
	if o.Answers != nil {
		cp.Acceptance = clamp01(o.Answers.Rate())
	}
	return cp
}

func clamp01(x float64) float64 {
	if !(x > 0) { // NaN too
		return 0
	}
	return math.Min(1, x)
}

// score is the weighted mean of the components, rounded to 4 decimals so
// that equal providers tie exactly and the tie-breaks decide.
func score(c Components, w Weights) float64 {
	s := (w.Distance*c.Distance + w.Freshness*c.Freshness + w.Contract*c.Contract + w.Quality*c.Quality +
		w.Preference*c.Preference + w.Acceptance*c.Acceptance) / w.sum()
	return math.Round(s*10000) / 10000
}

// rank sorts options best first: score descending, then distance ascending
// (unknown last), then fresh before stale, then service id. The order is
// total, so the input order never shows through.
func rank(opts []Option) {
	slices.SortFunc(opts, func(a, b Option) int { return compareOptions(&a, &b) })
}

// compareOptions is rank's order: negative when a ranks before b.
func compareOptions(a, b *Option) int {
	if c := cmp.Compare(b.Score, a.Score); c != 0 {
		return c
	}
	if c := cmp.Compare(dist(a.DistanceKm), dist(b.DistanceKm)); c != 0 {
		return c
	}
	if a.Stale != b.Stale {
		if b.Stale {
			return -1
		}
		return 1
	}
	return cmp.Or(cmp.Compare(a.Provider.ServiceID, b.Provider.ServiceID),
		cmp.Compare(a.Provider.LocationID, b.Provider.LocationID))
}

// keepBest inserts o into best, which is ranked and holds at most k
// options, keeping the k best: what ranking every option and cutting at k
// gives, without holding (or growing a slice of) every match.
func keepBest(best []Option, o Option, k int) []Option {
	i := sort.Search(len(best), func(i int) bool { return compareOptions(&o, &best[i]) < 0 })
	if i >= k {
		return best
	}
	if len(best) < k {
		best = append(best, Option{})
	}
	copy(best[i+1:], best[i:len(best)-1])
	best[i] = o
	return best
}

func dist(d *float64) float64 {
	if d == nil {
		return math.Inf(1)
	}
	return *d
}
