package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// Migrations 14 and 15: the discharge sitrep's counters, kept in the
// transaction of the Encounter write that changes them, so a sitrep reads
// counters (a few rows per day, pathway and reason) and never the cases.
//
// As case_worklist (migration 8) does, triggers on the Encounter's rows
// (resources, its status, pathway and delay-reason search_token rows, its
// nctr-since and date search_range rows) keep sitrep_case, one narrow row
// per case. Triggers on sitrep_case then move the case's contribution
// between counters: whenever a column that decides a counter changes, the
// old row's contribution is taken out of its counter and the new row's is
// put into its own. So a late or corrected update (a discharge time moved,
// an NCTR date corrected, a pathway changed after the day closed) moves the
// count to the day it now belongs to; nothing is appended twice. Commit
// deletes and inserts the index rows of every update, so a counter may
// step down and back up within one transaction; only the net is seen.
//
//   - sitrep_open: patients in hospital not meeting the criteria to reside,
//     by the day they stopped (nctr_day, days since 1970-01-01), pathway
//     and delay reason: the stock, whose delay bands follow from nctr_day.
//   - sitrep_discharges: finished Encounters by the UTC hour of their
//     period.end and pathway. Hours, not days: UK offsets are whole hours,
//     so discharge.ComputeSitrep folds them into England's reporting days
//     and before/after noon without the database knowing Europe/London.
//   - sitrep_new_nctr: cases by the day they stopped meeting the criteria
//     and pathway (cancelled and entered-in-error Encounters excluded).
//   - delay_history: each case's delay reasons with from and to (the
//     lastUpdated of the Encounter versions that set and replaced them).
//
// Every counter row has a stripe (0-7, from the case id's last character):
// concurrent commits of one trust that change the same counter (a busy
// morning's discharges in one hour) then mostly lock different rows, and
// keep sharing the server's WAL flushes; readers add the stripes.

const sitrepStripes = 8

var sitrepTables = []string{
	`CREATE TABLE sitrep_case (
    partition TEXT             NOT NULL,
    case_id   TEXT             NOT NULL,
    lu        BIGINT           NOT NULL DEFAULT 0,
    status    TEXT,
    pathway   TEXT,
    reason    TEXT,
    nctr      DOUBLE PRECISION,
    ended     DOUBLE PRECISION,
    PRIMARY KEY (partition, case_id))`,
	`CREATE TABLE sitrep_open (
    partition TEXT    NOT NULL,
    nctr_day  BIGINT  NOT NULL,
    pathway   TEXT    NOT NULL,
    reason    TEXT    NOT NULL,
    stripe    INTEGER NOT NULL,
    n         BIGINT  NOT NULL,
    PRIMARY KEY (partition, nctr_day, pathway, reason, stripe))`,
	`CREATE TABLE sitrep_discharges (
    partition TEXT    NOT NULL,
    hour      BIGINT  NOT NULL,
    pathway   TEXT    NOT NULL,
    stripe    INTEGER NOT NULL,
    n         BIGINT  NOT NULL,
    PRIMARY KEY (partition, hour, pathway, stripe))`,
	`CREATE TABLE sitrep_new_nctr (
    partition TEXT    NOT NULL,
    day       BIGINT  NOT NULL,
    pathway   TEXT    NOT NULL,
    stripe    INTEGER NOT NULL,
    n         BIGINT  NOT NULL,
    PRIMARY KEY (partition, day, pathway, stripe))`,
	`CREATE TABLE delay_history (
    partition TEXT   NOT NULL,
    case_id   TEXT   NOT NULL,
    seq       BIGINT NOT NULL,
    reason    TEXT   NOT NULL,
    from_ns   BIGINT NOT NULL,
    to_ns     BIGINT,
    PRIMARY KEY (partition, case_id, seq))`,
	// Unmet demand (sitrep.DemandRecorder): placement searches that
	// found fewer than three options, by the week (day number of its
	// Monday), postcode district, setting, requirements (sorted, joined
	// by +) and the hard filter that excluded most; no identity.
	`CREATE TABLE unmet_demand (
    partition    TEXT    NOT NULL,
    week         BIGINT  NOT NULL,
    outcode      TEXT    NOT NULL,
    setting      TEXT    NOT NULL,
    requirements TEXT    NOT NULL,
    top_filter   TEXT    NOT NULL,
    n            BIGINT  NOT NULL,
    PRIMARY KEY (partition, week, outcode, setting, requirements, top_filter))`,
}

var sitrepRLSTables = []string{"sitrep_case", "sitrep_open", "sitrep_discharges", "sitrep_new_nctr", "delay_history", "unmet_demand"}

// sitrepTrigger is one trigger: after event on table, for each row
// matching when, run stmts in order.
type sitrepTrigger struct {
	name, event, table, when string
	stmts                    []string
}

// counter is one of the three counters: its table, key columns, the key
// values and the condition under which a sitrep_case row (r: NEW or OLD)
// contributes one to it.
type counter struct {
	table string
	cols  []string
	key   func(r string) []string
	cond  func(r string) string
}

// sitrepVoided are the statuses under which an Encounter never happened as
// a stay: it counts nowhere.
const sitrepVoided = "'cancelled', 'entered-in-error'"

func sitrepCounters() []counter {
	day := func(r, col string) string { return "CAST(" + r + "." + col + " AS BIGINT) / 86400" }
	path := func(r string) string { return "COALESCE(" + r + ".pathway, '')" }
	return []counter{
		{"sitrep_open", []string{"nctr_day", "pathway", "reason"},
			func(r string) []string { return []string{day(r, "nctr"), path(r), "COALESCE(" + r + ".reason, '')"} },
			func(r string) string { return r + ".status IS NULL AND " + r + ".nctr IS NOT NULL" }},
		{"sitrep_discharges", []string{"hour", "pathway"},
			func(r string) []string { return []string{"CAST(" + r + ".ended AS BIGINT) / 3600", path(r)} },
			func(r string) string { return r + ".status = 'finished' AND " + r + ".ended IS NOT NULL" }},
		{"sitrep_new_nctr", []string{"day", "pathway"},
			func(r string) []string { return []string{day(r, "nctr"), path(r)} },
			func(r string) string {
				return r + ".nctr IS NOT NULL AND (" + r + ".status IS NULL OR " + r + ".status NOT IN (" + sitrepVoided + "))"
			}},
	}
}

// stripeOf is the stripe of a sitrep_case row's counters.
func stripeOf(eng engine, r string) string {
	if eng == enginePostgres {
		return "(ascii(right(" + r + ".case_id, 1)) % " + strconv.Itoa(sitrepStripes) + ")"
	}
	return "(unicode(substr(" + r + ".case_id, -1)) % " + strconv.Itoa(sitrepStripes) + ")"
}

// distinct is the null-safe "differs" of each engine.
func distinct(eng engine, a, b string) string {
	if eng == enginePostgres {
		return a + " IS DISTINCT FROM " + b
	}
	return a + " IS NOT " + b
}

// moveStmts take OLD's contribution out of each counter and put NEW's in.
func moveStmts(eng engine, withOld bool) []string {
	var out []string
	for _, c := range sitrepCounters() {
		if withOld {
			where := []string{"partition = OLD.partition", "stripe = " + stripeOf(eng, "OLD")}
			for i, k := range c.key("OLD") {
				where = append(where, c.cols[i]+" = "+k)
			}
			out = append(out, "UPDATE "+c.table+" SET n = n - 1 WHERE "+c.cond("OLD")+" AND "+strings.Join(where, " AND "))
		}
		cols := append([]string{"partition"}, c.cols...)
		cols = append(cols, "stripe", "n")
		vals := append([]string{"NEW.partition"}, c.key("NEW")...)
		vals = append(vals, stripeOf(eng, "NEW"), "1")
		keyCols := append([]string{"partition"}, c.cols...)
		out = append(out, "INSERT INTO "+c.table+" ("+strings.Join(cols, ", ")+") SELECT "+strings.Join(vals, ", ")+
			" WHERE "+c.cond("NEW")+" ON CONFLICT ("+strings.Join(append(keyCols, "stripe"), ", ")+") DO UPDATE SET n = "+c.table+".n + 1")
	}
	return out
}

// historyStmts keep delay_history: a new reason on an open case ends the
// spell of a different reason and opens its own (unless its spell is the
// one open: Commit's delete and insert of the same reason changes
// nothing); a case that closes ends its open spell.
func historyStmts() []string {
	open := "partition = NEW.partition AND case_id = NEW.case_id AND to_ns IS NULL"
	return []string{
		"UPDATE delay_history SET to_ns = NEW.lu WHERE " + open + " AND NEW.reason IS NOT NULL AND NEW.status IS NULL AND reason <> NEW.reason",
		"INSERT INTO delay_history (partition, case_id, seq, reason, from_ns) SELECT NEW.partition, NEW.case_id," +
			" COALESCE((SELECT MAX(h.seq) FROM delay_history h WHERE h.partition = NEW.partition AND h.case_id = NEW.case_id), 0) + 1, NEW.reason, NEW.lu" +
			" WHERE NEW.reason IS NOT NULL AND NEW.status IS NULL AND NOT EXISTS (SELECT 1 FROM delay_history h WHERE h.partition = NEW.partition AND h.case_id = NEW.case_id AND h.to_ns IS NULL)",
		"UPDATE delay_history SET to_ns = NEW.lu WHERE " + open + " AND NEW.status IS NOT NULL",
	}
}

func sitrepTriggers(eng engine) []sitrepTrigger {
	pathSys := strings.ReplaceAll(fhir.IndexedExtensions()["pathway-system"], "'", "''")
	reasonSys := strings.ReplaceAll(fhir.IndexedExtensions()["delay-reason-system"], "'", "''")
	upsert := func(col, val string) string {
		return "INSERT INTO sitrep_case (partition, case_id, " + col + ") VALUES (NEW.partition, NEW.id, " + val + ")" +
			" ON CONFLICT (partition, case_id) DO UPDATE SET " + col + " = excluded." + col
	}
	clear := func(col, extra string) string {
		return "UPDATE sitrep_case SET " + col + " = NULL WHERE partition = OLD.partition AND case_id = OLD.id" + extra
	}
	tok := func(r, param, cond string) string {
		return r + ".type = 'Encounter' AND " + r + ".param = '" + param + "' AND " + cond
	}
	out := []sitrepTrigger{
		{"sitrep_enc_ins", "INSERT", "resources", "NEW.type = 'Encounter'", []string{upsert("lu", "NEW.last_updated")}},
		{"sitrep_enc_upd", "UPDATE", "resources", "NEW.type = 'Encounter'",
			[]string{"UPDATE sitrep_case SET lu = NEW.last_updated WHERE partition = NEW.partition AND case_id = NEW.id"}},
		{"sitrep_status_ins", "INSERT", "search_token", tok("NEW", "status", "NEW.token IN ("+closedStatusList+")"),
			[]string{upsert("status", "NEW.token")}},
		{"sitrep_status_del", "DELETE", "search_token", tok("OLD", "status", "OLD.token IN ("+closedStatusList+")"),
			[]string{clear("status", " AND status = OLD.token")}},
		{"sitrep_pathway_ins", "INSERT", "search_token", tok("NEW", "pathway", "NEW.token LIKE '"+pathSys+"|%'"),
			[]string{upsert("pathway", "SUBSTR(NEW.token, "+strconv.Itoa(len(pathSys)+2)+")")}},
		{"sitrep_pathway_del", "DELETE", "search_token", tok("OLD", "pathway", "OLD.token LIKE '"+pathSys+"|%'"),
			[]string{clear("pathway", "")}},
		{"sitrep_reason_ins", "INSERT", "search_token", tok("NEW", "delay-reason", "NEW.token LIKE '"+reasonSys+"|%'"),
			[]string{upsert("reason", "SUBSTR(NEW.token, "+strconv.Itoa(len(reasonSys)+2)+")")}},
		{"sitrep_reason_del", "DELETE", "search_token", tok("OLD", "delay-reason", "OLD.token LIKE '"+reasonSys+"|%'"),
			[]string{clear("reason", "")}},
		{"sitrep_nctr_ins", "INSERT", "search_range", "NEW.type = 'Encounter' AND NEW.param = 'nctr-since'",
			[]string{upsert("nctr", "NEW.low")}},
		{"sitrep_nctr_del", "DELETE", "search_range", "OLD.type = 'Encounter' AND OLD.param = 'nctr-since'",
			[]string{clear("nctr", "")}},
		// period.end: the date parameter's high bound, infinite while the
		// stay is open.
		{"sitrep_ended_ins", "INSERT", "search_range", "NEW.type = 'Encounter' AND NEW.param = 'date' AND NEW.high < 1e12",
			[]string{upsert("ended", "NEW.high")}},
		{"sitrep_ended_del", "DELETE", "search_range", "OLD.type = 'Encounter' AND OLD.param = 'date'",
			[]string{clear("ended", "")}},
		{"sitrep_count_ins", "INSERT", "sitrep_case", "1 = 1", append(moveStmts(eng, false), historyStmts()...)},
	}
	var changed []string
	for _, col := range []string{"status", "pathway", "reason", "nctr", "ended"} {
		changed = append(changed, distinct(eng, "OLD."+col, "NEW."+col))
	}
	out = append(out, sitrepTrigger{"sitrep_count_upd", "UPDATE", "sitrep_case", "(" + strings.Join(changed, " OR ") + ")",
		append(moveStmts(eng, true), historyStmts()...)})
	return out
}

// sitrepBackfill fills sitrep_case from the rows already stored; its
// insert trigger fills the counters. Reasons are not in the index of rows
// written before migration 14: those cases count as not recorded until
// their next update.
func sitrepBackfill() []string {
	tok := func(param, cond string) string {
		return "(SELECT MIN(t.token) FROM search_token t WHERE t.partition = r.partition AND t.type = 'Encounter' AND t.id = r.id AND t.param = '" + param + "' AND " + cond + ")"
	}
	rng := func(param, col, cond string) string {
		return "(SELECT g." + col + " FROM search_range g WHERE g.partition = r.partition AND g.type = 'Encounter' AND g.id = r.id AND g.param = '" + param + "'" + cond + ")"
	}
	return []string{`INSERT INTO sitrep_case (partition, case_id, lu, status, pathway, nctr, ended)
SELECT r.partition, r.id, r.last_updated, ` + tok("status", "t.token IN ("+closedStatusList+")") + `,
	w.pathway, ` + rng("nctr-since", "low", "") + `, ` + rng("date", "high", " AND g.high < 1e12") + `
FROM resources r LEFT JOIN case_worklist w ON w.partition = r.partition AND w.case_id = r.id
WHERE r.type = 'Encounter'`}
}

// migrateSitrep is migration 14 on eng: the tables and their triggers.
func migrateSitrep(eng engine) func(ctx context.Context, tx *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		stmts := append([]string(nil), sitrepTables...)
		stmts = append(stmts, triggerDDL(eng, sitrepTriggers(eng))...)
		if eng == enginePostgres {
			for _, t := range sitrepRLSTables {
				stmts = append(stmts, "ALTER TABLE "+t+" ENABLE ROW LEVEL SECURITY", "ALTER TABLE "+t+" FORCE ROW LEVEL SECURITY",
					"CREATE POLICY partition_isolation ON "+t+` USING (partition = current_setting('app.partition', true))
    WITH CHECK (partition = current_setting('app.partition', true))`)
			}
		}
		return execDDL(ctx, tx, stmts)
	}
}

// migrateSitrepBackfill is migration 15 on eng: the counters of the cases
// already stored. On PostgreSQL it lifts FORCE ROW LEVEL SECURITY for its
// transaction, as migration 8 does, since the owner would see no rows.
func migrateSitrepBackfill(eng engine) func(ctx context.Context, tx *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		stmts := sitrepBackfill()
		if eng == enginePostgres {
			tables := append([]string{"resources", "search_token", "search_range", "case_worklist"}, sitrepRLSTables...)
			var lift, restore []string
			for _, t := range tables {
				lift = append(lift, "ALTER TABLE "+t+" NO FORCE ROW LEVEL SECURITY")
				restore = append(restore, "ALTER TABLE "+t+" FORCE ROW LEVEL SECURITY")
			}
			stmts = append(append(lift, stmts...), restore...)
		}
		return execDDL(ctx, tx, stmts)
	}
}

// execDDL runs a migration's statements in order.
func execDDL(ctx context.Context, tx *sql.Tx, stmts []string) error {
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// Sitrep reads the sitrep counters (sitrep.Counters).
type Sitrep struct{ s *Store }

// NewSitrep returns the sitrep counters of s.
func NewSitrep(s *Store) *Sitrep { return &Sitrep{s: s} }

// Counters returns partition's open NCTR stock and its discharge counters
// in the hour buckets [fromHour, toHour) and new-NCTR counters on the days
// [fromDay, toDay] (discharge.DayNumber), stripes added, zero counters
// left out: one statement, so the three agree.
func (r *Sitrep) Counters(ctx context.Context, partition string, fromHour, toHour, fromDay, toDay int64) (discharge.SitrepCounters, error) {
	const op = "sqlstore.Sitrep.Counters"
	// SUM is cast back to BIGINT: PostgreSQL sums a bigint as numeric,
	// which costs a decimal conversion per row to scan.
	q := `SELECT 'o', nctr_day, pathway, reason, CAST(SUM(n) AS BIGINT) FROM sitrep_open WHERE partition = $1 GROUP BY nctr_day, pathway, reason HAVING SUM(n) <> 0
UNION ALL SELECT 'd', hour, pathway, '', CAST(SUM(n) AS BIGINT) FROM sitrep_discharges WHERE partition = $1 AND hour >= $2 AND hour < $3 GROUP BY hour, pathway HAVING SUM(n) <> 0
UNION ALL SELECT 'n', day, pathway, '', CAST(SUM(n) AS BIGINT) FROM sitrep_new_nctr WHERE partition = $1 AND day >= $4 AND day <= $5 GROUP BY day, pathway HAVING SUM(n) <> 0`
	var out discharge.SitrepCounters
	err := r.s.readRows(ctx, op, partition, q, []any{partition, fromHour, toHour, fromDay, toDay}, func(rs rows) error {
		for rs.Next() {
			var kind, pathway, reason string
			var key, n int64
			if err := rs.Scan(&kind, &key, &pathway, &reason, &n); err != nil {
				return err
			}
			switch kind {
			case "o":
				out.Open = append(out.Open, discharge.OpenNCTR{Since: discharge.DateOfDay(key), Pathway: pathway, Reason: reason, N: int(n)})
			case "d":
				out.Discharges = append(out.Discharges, discharge.DischargeCount{Hour: key, Pathway: pathway, N: int(n)})
			default:
				out.NewNCTR = append(out.NewNCTR, discharge.NewNCTRCount{Day: discharge.DateOfDay(key), Pathway: pathway, N: int(n)})
			}
		}
		return nil
	})
	return out, err
}

// DelayHistory returns a case's delay reasons in the order they were set.
func (r *Sitrep) DelayHistory(ctx context.Context, partition, caseID string) ([]discharge.DelaySpell, error) {
	const op = "sqlstore.Sitrep.DelayHistory"
	var out []discharge.DelaySpell
	err := r.s.readRows(ctx, op, partition, `SELECT reason, from_ns, to_ns FROM delay_history WHERE partition = $1 AND case_id = $2 ORDER BY seq`,
		[]any{partition, caseID}, func(rs rows) error {
			for rs.Next() {
				var sp discharge.DelaySpell
				var from int64
				var to sql.NullInt64
				if err := rs.Scan(&sp.Reason, &from, &to); err != nil {
					return err
				}
				sp.From = fromNanos(from)
				if to.Valid {
					sp.To = fromNanos(to.Int64)
				}
				out = append(out, sp)
			}
			return nil
		})
	return out, err
}

// RecordDemand counts one unmet placement search (sitrep.DemandRecorder)
// in partition's week: one upsert, in its own short transaction.
func (r *Sitrep) RecordDemand(ctx context.Context, partition string, d discharge.Demand) error {
	reqs := make([]string, len(d.Requirements))
	for i, q := range d.Requirements {
		reqs[i] = string(q)
	}
	slices.Sort(reqs)
	return r.s.inTx(ctx, "sqlstore.Sitrep.RecordDemand", partition, false, func(tx *sql.Tx) error {
		_, err := r.s.exec(ctx, tx, `INSERT INTO unmet_demand (partition, week, outcode, setting, requirements, top_filter, n)
			VALUES ($1, $2, $3, $4, $5, $6, 1)
			ON CONFLICT (partition, week, outcode, setting, requirements, top_filter) DO UPDATE SET n = unmet_demand.n + 1`,
			partition, discharge.WeekOf(discharge.ReportingDay(d.At)), d.Outcode, string(d.Setting), strings.Join(reqs, "+"), string(d.TopFilter))
		return err
	})
}

// UnmetDemand returns partition's unmet-demand counters for the weeks
// (discharge.WeekOf) from..to.
func (r *Sitrep) UnmetDemand(ctx context.Context, partition string, fromWeek, toWeek int64) ([]discharge.DemandCount, error) {
	var out []discharge.DemandCount
	err := r.s.readRows(ctx, "sqlstore.Sitrep.UnmetDemand", partition,
		`SELECT week, outcode, setting, requirements, top_filter, n FROM unmet_demand WHERE partition = $1 AND week >= $2 AND week <= $3`,
		[]any{partition, fromWeek, toWeek}, func(rs rows) error {
			for rs.Next() {
				var c discharge.DemandCount
				var week int64
				var setting, reqs, filter string
				if err := rs.Scan(&week, &c.Outcode, &setting, &reqs, &filter, &c.N); err != nil {
					return err
				}
				c.Week, c.Setting, c.TopFilter = discharge.DateOfDay(week), discharge.CareSetting(setting), discharge.Filter(filter)
				if reqs != "" {
					for _, q := range strings.Split(reqs, "+") {
						c.Requirements = append(c.Requirements, discharge.Requirement(q))
					}
				}
				out = append(out, c)
			}
			return nil
		})
	return out, err
}
