package fhir

import (
	"math"
	"net/url"
	"strconv"

	"github.com/dischargegateway/gateway/discharge"
)

// Paging bounds shared by every searchset the gateway returns.
const (
	// DefaultCount is the page size when _count is not given.
	DefaultCount = 20
	// MaxCount is the largest page served: a larger _count is served as
	// MaxCount (FHIR lets a server return fewer than asked; the links say
	// what was served).
	MaxCount = 500
	// MaxOffset is the largest _offset accepted: any whole number that fits
	// in 64 bits. An offset at or past the last match is an empty page with
	// the full total; one that does not fit is refused.
	MaxOffset = math.MaxInt64
)

// Total modes of the _total parameter.
const (
	TotalNone     = "none"
	TotalEstimate = "estimate"
	TotalAccurate = "accurate"
)

// Paging is the page a search asks for: its _count, _offset and _total.
type Paging struct {
	Count  int
	Offset int
	// Total is the _total asked for ("" when not given). The gateway
	// always counts every match, so it is a hint it never needs.
	Total string
}

// ParsePaging reads _count, _offset and _total, the one rule for every
// searchset (generic search, terminology, operations returning one).
// defaultCount and maxCount are the caller's page sizes (DefaultCount and
// MaxCount for plain searches). A negative, non-integer, overflowing or
// repeated value is a KindValue error whose expression names the
// parameter.
func ParsePaging(vals url.Values, defaultCount, maxCount int) (Paging, error) {
	p := Paging{Count: defaultCount}
	one := func(name string) (string, bool, error) {
		vs, ok := vals[name]
		switch {
		case !ok:
			return "", false, nil
		case len(vs) > 1:
			return "", false, discharge.E(discharge.KindValue, name, name+" may be given once.")
		}
		return vs[0], true, nil
	}
	whole := func(name string, limit int64) (int, bool, error) {
		v, given, err := one(name)
		if err != nil || !given {
			return 0, false, err
		}
		// FHIR's integer syntax, unsigned: no sign, no leading zero.
		n, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil || n < 0 || n > limit || v[0] < '0' || v[0] > '9' || (v[0] == '0' && len(v) > 1) {
			return 0, false, discharge.E(discharge.KindValue, name,
				name+" must be a whole number from 0 to "+strconv.FormatInt(limit, 10)+".")
		}
		return int(n), true, nil
	}
	n, given, err := whole("_count", math.MaxInt64)
	if err != nil {
		return p, err
	}
	if given {
		p.Count = min(n, maxCount)
	}
	if p.Offset, _, err = whole("_offset", MaxOffset); err != nil {
		return p, err
	}
	t, _, err := one("_total")
	if err != nil {
		return p, err
	}
	switch t {
	case "", TotalNone, TotalEstimate, TotalAccurate:
		p.Total = t
	default:
		return p, discharge.E(discharge.KindValue, "_total", "_total must be none, estimate or accurate.")
	}
	return p, nil
}

// PageLinks returns a searchset's self, first, previous, next and last
// links over total matches. base is the search URL without a query; used
// holds the parameters that were applied (never _count and _offset, which
// each link sets itself, and never a parameter that was not applied).
func PageLinks(base string, used url.Values, p Paging, total int) []Link {
	at := func(off int) string {
		v := url.Values{}
		for k, vs := range used {
			if k != "_count" && k != "_offset" {
				v[k] = vs
			}
		}
		v.Set("_count", strconv.Itoa(p.Count))
		v.Set("_offset", strconv.Itoa(off))
		return base + "?" + v.Encode()
	}
	links := []Link{{Relation: "self", URL: at(p.Offset)}, {Relation: "first", URL: at(0)}}
	if p.Count <= 0 {
		return links
	}
	last := 0
	if total > 0 {
		last = ((total - 1) / p.Count) * p.Count
	}
	if p.Offset > 0 {
		// The page before; from past the end, the last page.
		links = append(links, Link{Relation: "previous", URL: at(min(max(0, p.Offset-p.Count), last))})
	}
	if p.Offset < total-p.Count { // (Offset+Count could overflow)
		links = append(links, Link{Relation: "next", URL: at(p.Offset + p.Count)})
	}
	return append(links, Link{Relation: "last", URL: at(last)})
}
