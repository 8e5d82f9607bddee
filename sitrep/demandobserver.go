package sitrep

import (
	"context"
	"log/slog"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/placement"
)

// DemandRecorder records unmet demand: a search that found fewer than
// discharge.MinOptions options, without the patient's identity, in the
// partition of the trust whose case it was (adapters/sqlstore.Sitrep).
type DemandRecorder interface {
	RecordDemand(ctx context.Context, partition string, d discharge.Demand) error
}

// DemandObserver counts unmet demand (docs/sitrep.md) from the searches
// placement answers: a placement.Observer. Only a stored ServiceRequest's
// search is counted (it has a case, so a trust); a what-if question is
// not demand.
type DemandObserver struct {
	rec DemandRecorder
	log *slog.Logger
}

// NewDemandObserver counts into rec; log (nil: discarded) hears of a count
// that could not be written.
func NewDemandObserver(rec DemandRecorder, log *slog.Logger) *DemandObserver {
	return &DemandObserver{rec: rec, log: log}
}

var _ placement.Observer = (*DemandObserver)(nil)

// Observed counts a search that found fewer than discharge.MinOptions
// options, one counter upsert: a write on the slow path only (a search
// already short of options). The count is a by-product, so a failure to
// write it never fails the placement answer: it is logged by error kind
// only (never the need or the district, which describe the patient) and
// Observed returns nil.
func (o *DemandObserver) Observed(ctx context.Context, s placement.Search) error {
	if o.rec == nil || s.Partition == "" || s.Need == nil || s.Total >= discharge.MinOptions {
		return nil
	}
	d := discharge.Demand{At: s.At, Outcode: s.Outcode, Setting: s.Need.Setting, Requirements: s.Need.Requirements,
		Options: s.Total, TopFilter: discharge.TopExclusion(s.LeftOut)}
	if err := o.rec.RecordDemand(ctx, s.Partition, d); err != nil && o.log != nil {
		o.log.WarnContext(ctx, "unmet demand not counted", "kind", discharge.ErrorKind(err).String())
	}
	return nil
}
