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

// UseStockCopyForTest creates the copy triggers (on) or drops them (off:
// BenchmarkStockCopy's baseline, migration 14's triggers alone).
func UseStockCopyForTest(ctx context.Context, s *Store, on bool) error {
	stmts := dropCopyTriggersDDL(s.eng)
	if on {
		stmts = append(stmts, copyTriggersDDL(s.eng)...)
	}
	for _, q := range stmts {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// ForgetStockForTest deletes partition's stock copies and marks, so that
// its next change is the first after a close.
func ForgetStockForTest(ctx context.Context, s *Store, partition string) error {
	return s.inTx(ctx, "test.ForgetStock", partition, false, func(tx *sql.Tx) error {
		for _, q := range []string{"DELETE FROM sitrep_stock WHERE partition = $1", "DELETE FROM sitrep_stock_mark WHERE partition = $1"} {
			if _, err := tx.ExecContext(ctx, q, partition); err != nil {
				return err
			}
		}
		return nil
	})
}
