package referral

import (
	"context"
	"time"
)

// CaseEnd names a case whose Encounter has ended (Finished: discharged;
// otherwise cancelled or entered in error) while offers of it are still
// open, or confirmed and not yet completed.
type CaseEnd struct {
	Partition, EncounterID string
	Finished               bool
}

// EndedCases finds the cases CloseCase has yet to close
// (adapters/sqlstore.Referral.EndedCases): at most limit of them.
type EndedCases interface {
	EndedCases(ctx context.Context, limit int) ([]CaseEnd, error)
}

// SweepEnded closes the cases whose Encounter ended but whose closure was
// lost (the record's write path calls CloseCase after the commit, and a
// failure there is only logged): so a discharge always releases its holds.
// It returns how many cases it closed.
func (s *Service) SweepEnded(ctx context.Context, ec EndedCases) (int, error) {
	ends, err := ec.EndedCases(ctx, 200)
	if err != nil {
		return 0, err
	}
	closed := 0
	for _, c := range ends {
		if err := s.CloseCase(ctx, c.Partition, c.EncounterID, c.Finished); err != nil {
			return closed, err
		}
		closed++
	}
	return closed, nil
}

// RunEnded runs SweepEnded every SweepEvery until ctx ends, logging
// failures (no patient identifier) for the next tick to retry.
func (s *Service) RunEnded(ctx context.Context, ec EndedCases) {
	t := time.NewTicker(s.opt.SweepEvery)
	defer t.Stop()
	for {
		if n, err := s.SweepEnded(ctx, ec); err != nil && ctx.Err() == nil {
			s.opt.Log.Warn("closing ended cases failed", "err", err)
		} else if n > 0 {
			s.opt.Log.Info("closed ended cases", "cases", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
