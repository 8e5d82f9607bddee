package cases

import (
	"context"
	"net/url"
	"slices"
	"sort"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
)

// acceptanceWindow is how far back a provider's acceptance rate and time
// to answer look.
const acceptanceWindow = 90 * 24 * time.Hour

// CaseFacts are one case's measure inputs.
type CaseFacts struct {
	Partition, CaseID string
	DRD               *discharge.Date
	NCTRSince         *discharge.Date
	Milestones        discharge.Milestones
	// Provider is the organisation of the confirmed offer ("" when none).
	Provider string
}

// Answer is one offer to a provider and how it was answered.
type Answer struct {
	Provider string
	Sent     time.Time
	// Answered is when it was accepted, rejected or expired (zero: still
	// open); Accepted says which.
	Answered time.Time
	Accepted bool
}

// Summary aggregates the measures of a group of cases.
type Summary struct {
	Cases             int
	DRDToShortlist    discharge.DurationSummary
	DRDToAcceptance   discharge.DurationSummary
	DRDToConfirmation discharge.DurationSummary
	DRDToDischarge    discharge.DurationSummary
	NCTRDays          IntSummary
}

// IntSummary summarises whole numbers (NCTR days).
type IntSummary struct {
	Count       int
	Median, P90 *int
}

// ProviderSummary is a provider's measures: the cases placed with it, and
// how it answers offers.
type ProviderSummary struct {
	Provider string
	Summary
	// Offers counts the offers sent to it in the window, Answered those
	// accepted, rejected or expired, Accepted those accepted.
	Offers, Answered, Accepted int
	AcceptanceRate             *float64
	TimeToAnswer               discharge.DurationSummary
}

// TrustSummary is a trust's measures.
type TrustSummary struct {
	Trust string
	Summary
}

// Measures are the measures aggregated per trust and per provider.
type Measures struct {
	Since, AcceptanceSince time.Time
	Trusts                 []TrustSummary
	Providers              []ProviderSummary
}

var measuresParams = map[string]bool{"trust": true, "provider": true, "since": true}

// Measures answers GET /api/v1/measures: for the trusts the caller reads
// (trust= narrows them), the measures of the cases whose Discharge Ready
// Date is on or after since (default: 90 days ago), per trust and per
// provider the case was placed with; and each provider's acceptance rate
// and time to answer over the offers sent in the last 90 days.
// provider= keeps one provider's row.
func (s *Service) Measures(ctx context.Context, p *auth.Principal, vals url.Values) (Measures, error) {
	if p == nil || (p.Role != auth.RoleHub && p.Role != auth.RoleTrust) {
		return Measures{}, discharge.E(discharge.KindForbidden, "", "Only a trust (its own cases) or a hub (its member trusts') reads the measures.")
	}
	for k := range vals {
		if !measuresParams[k] {
			return Measures{}, discharge.E(discharge.KindNotSupported, k, "Unknown measures parameter: use trust, provider, since.")
		}
	}
	now := s.now()
	out := Measures{Since: now.Add(-acceptanceWindow), AcceptanceSince: now.Add(-acceptanceWindow)}
	if v := vals.Get("since"); v != "" {
		d, err := discharge.ParseDate(v)
		if err != nil {
			return Measures{}, discharge.E(discharge.KindValue, "since", "since is a date: YYYY-MM-DD.")
		}
		out.Since = discharge.DayStart(d)
	}
	parts := p.ReadableOrgs()
	if t := vals.Get("trust"); t != "" {
		parts = slices.DeleteFunc(slices.Clone(parts), func(o string) bool { return o != t })
	}
	provider := vals.Get("provider")
	byProvider := map[string]*providerAcc{}
	acc := func(org string) *providerAcc {
		if byProvider[org] == nil {
			byProvider[org] = &providerAcc{}
		}
		return byProvider[org]
	}
	for _, part := range parts {
		facts, err := s.store.Facts(ctx, part, out.Since)
		if err != nil {
			return Measures{}, err
		}
		var trust summaryAcc
		for _, f := range facts {
			m := discharge.MeasureCase(f.DRD, nctr(f.NCTRSince), f.Milestones, now)
			trust.add(m)
			if f.Provider != "" {
				acc(f.Provider).add(m)
			}
		}
		out.Trusts = append(out.Trusts, TrustSummary{Trust: part, Summary: trust.summary()})
		answers, err := s.store.Answers(ctx, part, out.AcceptanceSince)
		if err != nil {
			return Measures{}, err
		}
		for _, a := range answers {
			pa := acc(a.Provider)
			pa.offers++
			if !a.Answered.IsZero() {
				pa.answered++
				pa.answerTimes = append(pa.answerTimes, a.Answered.Sub(a.Sent))
				if a.Accepted {
					pa.accepted++
				}
			}
		}
	}
	for org, pa := range byProvider {
		if provider != "" && org != provider {
			continue
		}
		out.Providers = append(out.Providers, ProviderSummary{Provider: org, Summary: pa.summary(), Offers: pa.offers,
			Answered: pa.answered, Accepted: pa.accepted, AcceptanceRate: discharge.AcceptanceRate(pa.accepted, pa.answered),
			TimeToAnswer: discharge.SummariseDurations(pa.answerTimes)})
	}
	sort.Slice(out.Providers, func(i, j int) bool { return out.Providers[i].Provider < out.Providers[j].Provider })
	return out, nil
}

// nctr is a criteria-to-reside "not met since d".
func nctr(d *discharge.Date) *discharge.CriteriaToReside {
	if d == nil {
		return nil
	}
	met := false
	return &discharge.CriteriaToReside{Met: &met, Since: d}
}

type summaryAcc struct {
	cases                  int
	short, acc, conf, disc []time.Duration
	nctr                   []int
}

func (a *summaryAcc) add(m discharge.CaseMeasures) {
	a.cases++
	push := func(s *[]time.Duration, d *time.Duration) {
		if d != nil {
			*s = append(*s, *d)
		}
	}
	push(&a.short, m.DRDToShortlist)
	push(&a.acc, m.DRDToAcceptance)
	push(&a.conf, m.DRDToConfirmation)
	push(&a.disc, m.DRDToDischarge)
	if m.NCTRDays != nil {
		a.nctr = append(a.nctr, *m.NCTRDays)
	}
}

func (a *summaryAcc) summary() Summary {
	n, med, p90 := discharge.SummariseInts(a.nctr)
	return Summary{Cases: a.cases, DRDToShortlist: discharge.SummariseDurations(a.short),
		DRDToAcceptance: discharge.SummariseDurations(a.acc), DRDToConfirmation: discharge.SummariseDurations(a.conf),
		DRDToDischarge: discharge.SummariseDurations(a.disc), NCTRDays: IntSummary{Count: n, Median: med, P90: p90}}
}

type providerAcc struct {
	summaryAcc
	offers, answered, accepted int
	answerTimes                []time.Duration
}
