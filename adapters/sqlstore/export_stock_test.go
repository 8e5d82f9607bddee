package sqlstore

import (
	"context"
	"database/sql"
)

// AgeStockForTest moves partition's stock copies and marks back by hours,
// and the start of the copies to the epoch, as if its first changes had
// happened that much earlier: a test cannot move the database's clock,
// which the copy triggers read (sitrep_stock.go).
func AgeStockForTest(ctx context.Context, s *Store, partition string, hours int64) error {
	return s.inTx(ctx, "test.AgeStock", partition, false, func(tx *sql.Tx) error {
		for _, q := range []string{
			"UPDATE sitrep_stock SET close_hour = close_hour - $2 WHERE partition = $1",
			"UPDATE sitrep_stock_mark SET close_hour = close_hour - $2 WHERE partition = $1",
		} {
			if _, err := tx.ExecContext(ctx, q, partition, hours); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, "UPDATE sitrep_stock_since SET since_hour = 0")
		return err
	})
}
