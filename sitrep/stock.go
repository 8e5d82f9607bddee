package sitrep

import (
	"context"

	"github.com/dischargegateway/gateway/discharge"
)

// pastStock replaces the stock now in all with the stock at the close of
// to, when to is a day before today and the store kept it for every trust
// (History.StockAt), and returns the day the delay bands are counted to:
// to for a past stock, today otherwise. Without a History, or for a day
// before the store began keeping closes, the stock is the stock now, as
// before (docs/sitrep.md).
func (s *Service) pastStock(ctx context.Context, trusts []string, today, to discharge.Date, all *discharge.SitrepCounters) (discharge.Date, error) {
	if s.history == nil || !to.Before(today) || len(trusts) == 0 {
		return today, nil
	}
	_, closeHour := discharge.ReportingHours(to)
	var open []discharge.OpenNCTR
	for _, t := range trusts {
		got, kept, err := s.history.StockAt(ctx, t, closeHour)
		if err != nil {
			return today, err
		}
		if !kept {
			return today, nil
		}
		open = append(open, got...)
	}
	all.Open = open
	return to, nil
}
