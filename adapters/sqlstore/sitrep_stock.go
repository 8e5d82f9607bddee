package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"

	"github.com/dischargegateway/gateway/discharge"
)

// Migration 18: the NCTR stock at each reporting day's close, so a sitrep
// of a past period shows that period's stock, not today's.
//
// The stock at a day's close is what sitrep_open held at that moment. No
// job runs at midnight; instead the stock is copied on the first change
// after each close (copy on write): a BEFORE trigger on sitrep_case, so
// before the count triggers of migration 14 move anything, copies the
// trust's whole stock into sitrep_stock under the latest close before now,
// unless that close already has a copy (sitrep_stock_mark). Nothing changed
// between that close and this first change, so the copy is the stock at
// the close; and the stock at any earlier close C is the copy under the
// first marked close at or after C (a change in between would have left
// an earlier mark), or, when there is none, the stock now (nothing has
// changed since C). A trust that writes nothing costs nothing; one that
// writes copies its stock (a few hundred rows) once a day.
//
// Closes are midnights in Europe/London as UTC hours (23:00 in summer):
// sitrep_day_close lists them, 2020 to 2060, written at migration time by
// discharge.ReportingHours, since neither engine's trigger should know the
// zone. sitrep_stock_since is when the copies started: a period that
// closed before it has no copy and is still reported with the stock of
// now, as before.

const (
	stockFirstYear = 2020
	stockLastYear  = 2060
)

var stockTables = []string{
	`CREATE TABLE sitrep_day_close (hour BIGINT PRIMARY KEY)`,
	`CREATE TABLE sitrep_stock_since (since_hour BIGINT NOT NULL)`,
	`CREATE TABLE sitrep_stock_mark (
    partition  TEXT   NOT NULL,
    close_hour BIGINT NOT NULL,
    PRIMARY KEY (partition, close_hour))`,
	`CREATE TABLE sitrep_stock (
    partition  TEXT   NOT NULL,
    close_hour BIGINT NOT NULL,
    nctr_day   BIGINT NOT NULL,
    pathway    TEXT   NOT NULL,
    reason     TEXT   NOT NULL,
    n          BIGINT NOT NULL,
    PRIMARY KEY (partition, close_hour, nctr_day, pathway, reason))`,
}

// stockRLSTables are the partitioned ones (sitrep_day_close and
// sitrep_stock_since are the same for every trust).
var stockRLSTables = []string{"sitrep_stock_mark", "sitrep_stock"}

// nowHour is the current UTC hour (hours since 1970) in eng's SQL.
func nowHour(eng engine) string {
	if eng == enginePostgres {
		return "CAST(FLOOR(EXTRACT(EPOCH FROM now()) / 3600) AS BIGINT)"
	}
	return "(CAST(strftime('%s', 'now') AS INTEGER) / 3600)"
}

// closeHourSQL is the latest close before now, in eng's SQL.
func closeHourSQL(eng engine) string {
	return "(SELECT MAX(hour) FROM sitrep_day_close WHERE hour <= " + nowHour(eng) + ")"
}

// copyStmts copy NEW's trust's stock under the latest close before now
// and mark it copied. They run in a BEFORE trigger on sitrep_case, so
// before any count trigger moves a counter, and only when the close has
// no mark yet (the trigger's condition). Two first changes of one trust at
// once may both copy: ON CONFLICT keeps the first.
func copyStmts(eng engine) []string {
	c := closeHourSQL(eng)
	return []string{
		"INSERT INTO sitrep_stock (partition, close_hour, nctr_day, pathway, reason, n) SELECT o.partition, " + c +
			", o.nctr_day, o.pathway, o.reason, SUM(o.n) FROM sitrep_open o WHERE o.partition = NEW.partition" +
			" GROUP BY o.partition, o.nctr_day, o.pathway, o.reason HAVING SUM(o.n) <> 0" +
			" ON CONFLICT (partition, close_hour, nctr_day, pathway, reason) DO NOTHING",
		"INSERT INTO sitrep_stock_mark (partition, close_hour) SELECT NEW.partition, " + c +
			" WHERE " + c + " IS NOT NULL ON CONFLICT (partition, close_hour) DO NOTHING",
	}
}

// unmarked is the condition under which a change copies: the latest
// close before now has no mark for NEW's trust.
func unmarked(eng engine) string {
	return "NOT EXISTS (SELECT 1 FROM sitrep_stock_mark m WHERE m.partition = NEW.partition AND m.close_hour = " + closeHourSQL(eng) + ")"
}

// copyTriggersDDL creates the copy triggers, BEFORE INSERT and BEFORE
// UPDATE on sitrep_case. PostgreSQL allows no subquery in a trigger's
// WHEN, so its function tests the condition itself.
//
// Only a change that can move the stock fires them: a new case row with an
// NCTR date, or a change of a column sitrep_open's contribution depends on
// (status, pathway, reason, nctr); the many upserts of lu and of other
// columns that every Encounter write makes pay nothing.
func copyTriggersDDL(eng engine) []string {
	var moved []string
	for _, col := range []string{"status", "pathway", "reason", "nctr"} {
		moved = append(moved, distinct(eng, "OLD."+col, "NEW."+col))
	}
	when := map[string]string{"INSERT": "NEW.nctr IS NOT NULL", "UPDATE": "(" + strings.Join(moved, " OR ") + ")"}
	var out []string
	for _, ev := range []string{"INSERT", "UPDATE"} {
		name := "sitrep_stock_copy_" + strings.ToLower(ev)
		if eng == enginePostgres {
			out = append(out,
				"CREATE OR REPLACE FUNCTION "+name+"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF "+unmarked(eng)+" THEN "+
					strings.Join(copyStmts(eng), "; ")+"; END IF; RETURN NEW; END $$",
				"CREATE TRIGGER "+name+" BEFORE "+ev+" ON sitrep_case FOR EACH ROW WHEN ("+when[ev]+") EXECUTE FUNCTION "+name+"()")
			continue
		}
		out = append(out, "CREATE TRIGGER "+name+" BEFORE "+ev+" ON sitrep_case FOR EACH ROW WHEN "+when[ev]+" AND "+unmarked(eng)+
			" BEGIN "+strings.Join(copyStmts(eng), "; ")+"; END")
	}
	return out
}

// dropCopyTriggersDDL removes them (BenchmarkStockCopy's baseline).
func dropCopyTriggersDDL(eng engine) []string {
	var out []string
	for _, ev := range []string{"insert", "update"} {
		if eng == enginePostgres {
			out = append(out, "DROP TRIGGER IF EXISTS sitrep_stock_copy_"+ev+" ON sitrep_case")
			continue
		}
		out = append(out, "DROP TRIGGER IF EXISTS sitrep_stock_copy_"+ev)
	}
	return out
}

// migrateSitrepStock is migration 18 on eng: the tables, the closes and
// the copy triggers.
func migrateSitrepStock(eng engine) func(ctx context.Context, tx *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		stmts := append([]string(nil), stockTables...)
		if eng == enginePostgres {
			for _, t := range stockRLSTables {
				stmts = append(stmts, "ALTER TABLE "+t+" ENABLE ROW LEVEL SECURITY", "ALTER TABLE "+t+" FORCE ROW LEVEL SECURITY",
					"CREATE POLICY partition_isolation ON "+t+` USING (partition = current_setting('app.partition', true))
    WITH CHECK (partition = current_setting('app.partition', true))`)
			}
		}
		stmts = append(stmts, copyTriggersDDL(eng)...)
		if err := execDDL(ctx, tx, stmts); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO sitrep_stock_since (since_hour) VALUES ($1)", discharge.HourBucket(time.Now())); err != nil {
			return err
		}
		// The closes, a year per statement.
		for y := stockFirstYear; y <= stockLastYear; y++ {
			var vals []string
			var args []any
			for d := (discharge.Date{Year: y, Month: time.January, Day: 1}); d.Year == y; d = discharge.DateOfDay(discharge.DayNumber(d) + 1) {
				_, to := discharge.ReportingHours(d)
				args = append(args, to)
				vals = append(vals, "($"+strconv.Itoa(len(args))+")")
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO sitrep_day_close (hour) VALUES "+strings.Join(vals, ", ")+" ON CONFLICT (hour) DO NOTHING", args...); err != nil {
				return err
			}
		}
		return nil
	}
}

// StockAt returns partition's NCTR stock at the close closeHour (the UTC
// hour of a reporting day's end, discharge.ReportingHours) of a day that
// has closed: the copy under the first marked close at or after it, or,
// when nothing has changed since, the stock now. kept is false for a close
// before the copies began (migration 18): then there is no answer.
func (r *Sitrep) StockAt(ctx context.Context, partition string, closeHour int64) (open []discharge.OpenNCTR, kept bool, err error) {
	const op = "sqlstore.Sitrep.StockAt"
	first := "(SELECT MIN(close_hour) FROM sitrep_stock_mark WHERE partition = $1 AND close_hour >= $2)"
	q := `SELECT 'm', COALESCE(` + first + `, -1), '', '', COALESCE((SELECT MIN(since_hour) FROM sitrep_stock_since), -1)
UNION ALL SELECT 's', nctr_day, pathway, reason, n FROM sitrep_stock WHERE partition = $1 AND close_hour = ` + first + `
UNION ALL SELECT 'o', nctr_day, pathway, reason, CAST(SUM(n) AS BIGINT) FROM sitrep_open WHERE partition = $1 AND ` + first + ` IS NULL
  GROUP BY nctr_day, pathway, reason HAVING SUM(n) <> 0`
	since := int64(-1)
	err = r.s.readRows(ctx, op, partition, q, []any{partition, closeHour}, func(rs rows) error {
		for rs.Next() {
			var kind, pathway, reason string
			var key, n int64
			if err := rs.Scan(&kind, &key, &pathway, &reason, &n); err != nil {
				return err
			}
			if kind == "m" {
				since = n
				continue
			}
			if n != 0 {
				open = append(open, discharge.OpenNCTR{Since: discharge.DateOfDay(key), Pathway: pathway, Reason: reason, N: int(n)})
			}
		}
		return nil
	})
	if err != nil || since < 0 || closeHour < since {
		return nil, false, err
	}
	return open, true, nil
}
