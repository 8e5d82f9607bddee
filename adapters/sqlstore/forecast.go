package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// Migration 17: what the 14-day demand forecast (discharge/forecast.go)
// and its backtest read, kept in the transaction of the write that changes
// it, so a forecast reads counters and never the cases.
//
// As sitrep_case (migration 14) is kept, triggers on an Encounter's index
// rows (status, pathway and patient search_token rows; its
// expected-discharge-date, discharge-ready-date and date search_range
// rows) keep forecast_case, one narrow row per case. The patient's home
// postcode district comes from the Patient resource the Encounter's
// subject names: when the Encounter's patient reference is indexed, the
// Patient's body is read (the first home address with a postcode, else
// the first address with one, as mappings.PatientToFacts chooses), and a
// Patient written later updates the district of the cases that name it.
// Triggers on forecast_case then move each case's contribution between two
// counters, as the sitrep's do (see sitrep.go):
//
//   - forecast_due (due day, pathway, district): open stays on pathways
//     1-3 by their Discharge Ready Date, else EDD (days since 1970-01-01);
//   - forecast_discharges (UTC hour of period.end, pathway, district):
//     finished stays on pathways 1-3, what the backtest compares with.
//
// The kept forecasts and their scores are written by the forecast's first
// report of each day (sitrep.Forecast): forecast_made marks a day's
// snapshot (even an empty one), forecast_kept holds it by target day,
// setting and district; forecast_scored marks a closed day scored and
// forecast_error holds its error by horizon.

var forecastTables = []string{
	`CREATE TABLE forecast_case (
    partition TEXT NOT NULL,
    case_id   TEXT NOT NULL,
    status    TEXT,
    pathway   TEXT,
    edd       DOUBLE PRECISION,
    drd       DOUBLE PRECISION,
    ended     DOUBLE PRECISION,
    patient   TEXT,
    outcode   TEXT,
    PRIMARY KEY (partition, case_id))`,
	`CREATE INDEX forecast_case_patient ON forecast_case (partition, patient)`,
	`CREATE TABLE forecast_due (
    partition TEXT    NOT NULL,
    day       BIGINT  NOT NULL,
    pathway   TEXT    NOT NULL,
    outcode   TEXT    NOT NULL,
    stripe    INTEGER NOT NULL,
    n         BIGINT  NOT NULL,
    PRIMARY KEY (partition, day, pathway, outcode, stripe))`,
	`CREATE TABLE forecast_discharges (
    partition TEXT    NOT NULL,
    hour      BIGINT  NOT NULL,
    pathway   TEXT    NOT NULL,
    outcode   TEXT    NOT NULL,
    stripe    INTEGER NOT NULL,
    n         BIGINT  NOT NULL,
    PRIMARY KEY (partition, hour, pathway, outcode, stripe))`,
	`CREATE TABLE forecast_made (
    partition TEXT   NOT NULL,
    day       BIGINT NOT NULL,
    PRIMARY KEY (partition, day))`,
	`CREATE TABLE forecast_kept (
    partition TEXT   NOT NULL,
    made      BIGINT NOT NULL,
    day       BIGINT NOT NULL,
    setting   TEXT   NOT NULL,
    outcode   TEXT   NOT NULL,
    n         BIGINT NOT NULL,
    PRIMARY KEY (partition, day, made, setting, outcode))`,
	`CREATE TABLE forecast_scored (
    partition TEXT   NOT NULL,
    day       BIGINT NOT NULL,
    PRIMARY KEY (partition, day))`,
	`CREATE TABLE forecast_error (
    partition TEXT   NOT NULL,
    day       BIGINT NOT NULL,
    horizon   INTEGER NOT NULL,
    cells     BIGINT NOT NULL,
    abs_err   BIGINT NOT NULL,
    PRIMARY KEY (partition, day, horizon))`,
}

var forecastRLSTables = []string{"forecast_case", "forecast_due", "forecast_discharges", "forecast_made", "forecast_kept", "forecast_scored", "forecast_error"}

// forecastPathways are the pathways whose stays are forecast.
const forecastPathways = "'1', '2', '3'"

func forecastCounters() []counter {
	path := func(r string) string { return r + ".pathway" }
	district := func(r string) string { return "COALESCE(" + r + ".outcode, '')" }
	return []counter{
		{"forecast_due", []string{"day", "pathway", "outcode"},
			func(r string) []string {
				return []string{"CAST(COALESCE(" + r + ".drd, " + r + ".edd) AS BIGINT) / 86400", path(r), district(r)}
			},
			func(r string) string {
				return r + ".status IS NULL AND " + r + ".pathway IN (" + forecastPathways + ") AND COALESCE(" + r + ".drd, " + r + ".edd) IS NOT NULL"
			}},
		{"forecast_discharges", []string{"hour", "pathway", "outcode"},
			func(r string) []string {
				return []string{"CAST(" + r + ".ended AS BIGINT) / 3600", path(r), district(r)}
			},
			func(r string) string {
				return r + ".status = 'finished' AND " + r + ".ended IS NOT NULL AND " + r + ".pathway IN (" + forecastPathways + ")"
			}},
	}
}

// counterMoves take OLD's contribution out of each counter and put NEW's
// in (the sitrep's moveStmts, over any counters).
func counterMoves(eng engine, counters []counter, withOld bool) []string {
	var out []string
	for _, c := range counters {
		if withOld {
			where := []string{"partition = OLD.partition", "stripe = " + stripeOf(eng, "OLD")}
			for i, k := range c.key("OLD") {
				where = append(where, c.cols[i]+" = "+k)
			}
			out = append(out, "UPDATE "+c.table+" SET n = n - 1 WHERE "+c.cond("OLD")+" AND "+strings.Join(where, " AND "))
		}
		cols := append([]string{"partition"}, c.cols...)
		vals := append([]string{"NEW.partition"}, c.key("NEW")...)
		keyCols := append(append([]string(nil), cols...), "stripe")
		cols = append(cols, "stripe", "n")
		vals = append(vals, stripeOf(eng, "NEW"), "1")
		out = append(out, "INSERT INTO "+c.table+" ("+strings.Join(cols, ", ")+") SELECT "+strings.Join(vals, ", ")+
			" WHERE "+c.cond("NEW")+" ON CONFLICT ("+strings.Join(keyCols, ", ")+") DO UPDATE SET n = "+c.table+".n + 1")
	}
	return out
}

// homeDistrict is the SQL of the postcode district of a Patient body: the
// first home address with a postcode, else the first address with one;
// spaces taken out and upper-cased, the inward code (last three
// characters) dropped. NULL when there is none or it is not 5-7
// characters long (a district alone, 2-4, is kept as it is).
func homeDistrict(eng engine, body string) string {
	var pc string
	if eng == enginePostgres {
		pc = "(SELECT a.v->>'postalCode' FROM jsonb_array_elements(CASE WHEN jsonb_typeof((" + body + ")::jsonb->'address') = 'array' THEN (" + body + ")::jsonb->'address' ELSE '[]'::jsonb END) WITH ORDINALITY AS a(v, i)" +
			" WHERE COALESCE(a.v->>'postalCode', '') <> '' ORDER BY CASE WHEN a.v->>'use' = 'home' THEN 0 ELSE 1 END, a.i LIMIT 1)"
	} else {
		pc = "(SELECT json_extract(a.value, '$.postalCode') FROM json_each(" + body + ", '$.address') AS a" +
			" WHERE json_type(" + body + ", '$.address') = 'array' AND COALESCE(json_extract(a.value, '$.postalCode'), '') <> ''" +
			" ORDER BY CASE WHEN json_extract(a.value, '$.use') = 'home' THEN 0 ELSE 1 END, CAST(a.key AS INTEGER) LIMIT 1)"
	}
	x := "UPPER(REPLACE(" + pc + ", ' ', ''))"
	return "(CASE WHEN LENGTH(" + x + ") BETWEEN 5 AND 7 THEN SUBSTR(" + x + ", 1, LENGTH(" + x + ") - 3)" +
		" WHEN LENGTH(" + x + ") BETWEEN 2 AND 4 THEN " + x + " END)"
}

func forecastTriggers(eng engine) []sitrepTrigger {
	sys := fhir.IndexedExtensions()["pathway-system"]
	pathSys := strings.ReplaceAll(sys, "'", "''")
	upsert := func(cols, vals, set string) string {
		return "INSERT INTO forecast_case (partition, case_id, " + cols + ") VALUES (NEW.partition, NEW.id, " + vals + ")" +
			" ON CONFLICT (partition, case_id) DO UPDATE SET " + set
	}
	clear := func(set, extra string) string {
		return "UPDATE forecast_case SET " + set + " WHERE partition = OLD.partition AND case_id = OLD.id" + extra
	}
	tok := func(r, param, cond string) string {
		return r + ".type = 'Encounter' AND " + r + ".param = '" + param + "' AND " + cond
	}
	patientDistrict := "(SELECT " + homeDistrict(eng, "p.body") + " FROM resources p WHERE p.partition = NEW.partition AND p.type = 'Patient' AND p.id = SUBSTR(NEW.token, 9))"
	out := []sitrepTrigger{
		{"forecast_status_ins", "INSERT", "search_token", tok("NEW", "status", "NEW.token IN ("+closedStatusList+")"),
			[]string{upsert("status", "NEW.token", "status = excluded.status")}},
		{"forecast_status_del", "DELETE", "search_token", tok("OLD", "status", "OLD.token IN ("+closedStatusList+")"),
			[]string{clear("status = NULL", " AND status = OLD.token")}},
		{"forecast_pathway_ins", "INSERT", "search_token", tok("NEW", "pathway", "NEW.token LIKE '"+pathSys+"|%'"),
			[]string{upsert("pathway", "SUBSTR(NEW.token, "+strconv.Itoa(len(sys)+2)+")", "pathway = excluded.pathway")}},
		{"forecast_pathway_del", "DELETE", "search_token", tok("OLD", "pathway", "OLD.token LIKE '"+pathSys+"|%'"),
			[]string{clear("pathway = NULL", "")}},
		{"forecast_patient_ins", "INSERT", "search_token", tok("NEW", "patient", "NEW.token LIKE 'Patient/%'"),
			[]string{upsert("patient, outcode", "NEW.token, "+patientDistrict, "patient = excluded.patient, outcode = excluded.outcode")}},
		{"forecast_patient_del", "DELETE", "search_token", tok("OLD", "patient", "OLD.token LIKE 'Patient/%'"),
			[]string{clear("patient = NULL, outcode = NULL", " AND patient = OLD.token")}},
		{"forecast_edd_ins", "INSERT", "search_range", "NEW.type = 'Encounter' AND NEW.param = 'expected-discharge-date'",
			[]string{upsert("edd", "NEW.low", "edd = excluded.edd")}},
		{"forecast_edd_del", "DELETE", "search_range", "OLD.type = 'Encounter' AND OLD.param = 'expected-discharge-date'",
			[]string{clear("edd = NULL", "")}},
		{"forecast_drd_ins", "INSERT", "search_range", "NEW.type = 'Encounter' AND NEW.param = 'discharge-ready-date'",
			[]string{upsert("drd", "NEW.low", "drd = excluded.drd")}},
		{"forecast_drd_del", "DELETE", "search_range", "OLD.type = 'Encounter' AND OLD.param = 'discharge-ready-date'",
			[]string{clear("drd = NULL", "")}},
		{"forecast_ended_ins", "INSERT", "search_range", "NEW.type = 'Encounter' AND NEW.param = 'date' AND NEW.high < 1e12",
			[]string{upsert("ended", "NEW.high", "ended = excluded.ended")}},
		{"forecast_ended_del", "DELETE", "search_range", "OLD.type = 'Encounter' AND OLD.param = 'date'",
			[]string{clear("ended = NULL", "")}},
		// A Patient written (or rewritten) after its Encounters moves them
		// to its district.
		{"forecast_patient_body_ins", "INSERT", "resources", "NEW.type = 'Patient'",
			[]string{"UPDATE forecast_case SET outcode = " + homeDistrict(eng, "NEW.body") + " WHERE partition = NEW.partition AND patient = 'Patient/' || NEW.id"}},
		{"forecast_patient_body_upd", "UPDATE", "resources", "NEW.type = 'Patient'",
			[]string{"UPDATE forecast_case SET outcode = " + homeDistrict(eng, "NEW.body") + " WHERE partition = NEW.partition AND patient = 'Patient/' || NEW.id"}},
		{"forecast_count_ins", "INSERT", "forecast_case", "1 = 1", counterMoves(eng, forecastCounters(), false)},
	}
	var changed []string
	for _, col := range []string{"status", "pathway", "edd", "drd", "ended", "outcode"} {
		changed = append(changed, distinct(eng, "OLD."+col, "NEW."+col))
	}
	return append(out, sitrepTrigger{"forecast_count_upd", "UPDATE", "forecast_case", "(" + strings.Join(changed, " OR ") + ")",
		counterMoves(eng, forecastCounters(), true)})
}

// forecastBackfill fills forecast_case from the rows already stored (its
// insert trigger fills the counters).
func forecastBackfill(eng engine) []string {
	tok := func(param, cond string) string {
		return "(SELECT MIN(t.token) FROM search_token t WHERE t.partition = r.partition AND t.type = 'Encounter' AND t.id = r.id AND t.param = '" + param + "' AND " + cond + ")"
	}
	rng := func(param, col, cond string) string {
		return "(SELECT g." + col + " FROM search_range g WHERE g.partition = r.partition AND g.type = 'Encounter' AND g.id = r.id AND g.param = '" + param + "'" + cond + ")"
	}
	return []string{`INSERT INTO forecast_case (partition, case_id, status, pathway, edd, drd, ended, patient)
SELECT r.partition, r.id, ` + tok("status", "t.token IN ("+closedStatusList+")") + `, w.pathway,
	` + rng("expected-discharge-date", "low", "") + `, ` + rng("discharge-ready-date", "low", "") + `, ` + rng("date", "high", " AND g.high < 1e12") + `,
	` + tok("patient", "t.token LIKE 'Patient/%'") + `
FROM resources r LEFT JOIN case_worklist w ON w.partition = r.partition AND w.case_id = r.id
WHERE r.type = 'Encounter'`,
		`UPDATE forecast_case SET outcode = (SELECT ` + homeDistrict(eng, "p.body") + ` FROM resources p
	WHERE p.partition = forecast_case.partition AND p.type = 'Patient' AND 'Patient/' || p.id = forecast_case.patient)
WHERE patient IS NOT NULL`}
}

// migrateForecast is migration 17 on eng: the tables, their triggers and
// the backfill of the cases already stored. On PostgreSQL the backfill
// lifts FORCE ROW LEVEL SECURITY for its transaction, as migration 15 does.
func migrateForecast(eng engine) func(ctx context.Context, tx *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		stmts := append([]string(nil), forecastTables...)
		stmts = append(stmts, triggerDDL(eng, forecastTriggers(eng))...)
		backfill := forecastBackfill(eng)
		if eng == enginePostgres {
			for _, t := range forecastRLSTables {
				stmts = append(stmts, "ALTER TABLE "+t+" ENABLE ROW LEVEL SECURITY", "ALTER TABLE "+t+" FORCE ROW LEVEL SECURITY",
					"CREATE POLICY partition_isolation ON "+t+` USING (partition = current_setting('app.partition', true))
    WITH CHECK (partition = current_setting('app.partition', true))`)
			}
			var lift, restore []string
			for _, t := range append([]string{"resources", "search_token", "search_range", "case_worklist"}, forecastRLSTables...) {
				lift = append(lift, "ALTER TABLE "+t+" NO FORCE ROW LEVEL SECURITY")
				restore = append(restore, "ALTER TABLE "+t+" FORCE ROW LEVEL SECURITY")
			}
			backfill = append(append(lift, backfill...), restore...)
		}
		return execDDL(ctx, tx, append(stmts, backfill...))
	}
}

// triggerDDL wraps triggers for eng: SQLite's inline bodies, PostgreSQL's
// plpgsql functions.
func triggerDDL(eng engine, trs []sitrepTrigger) []string {
	var stmts []string
	for _, tr := range trs {
		if eng == enginePostgres {
			when := ""
			if tr.when != "1 = 1" {
				when = " WHEN (" + tr.when + ")"
			}
			stmts = append(stmts,
				"CREATE FUNCTION "+tr.name+"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "+strings.Join(tr.stmts, "; ")+"; RETURN NULL; END $$",
				"CREATE TRIGGER "+tr.name+" AFTER "+tr.event+" ON "+tr.table+" FOR EACH ROW"+when+" EXECUTE FUNCTION "+tr.name+"()")
			continue
		}
		stmts = append(stmts, "CREATE TRIGGER "+tr.name+" AFTER "+tr.event+" ON "+tr.table+" FOR EACH ROW WHEN "+tr.when+" BEGIN "+strings.Join(tr.stmts, "; ")+"; END")
	}
	return stmts
}

// Forecast reads and keeps the forecast's counters (sitrep.ForecastStore).
type Forecast struct{ s *Store }

// NewForecast returns the forecast counters of s.
func NewForecast(s *Store) *Forecast { return &Forecast{s: s} }

// Inputs returns partition's due counters up to the day toDay (every
// overdue day included), whether a forecast was kept on madeDay, and the
// scored errors of the target days fromErr..toErr summed by horizon (each
// dated toErr, the window's last day: the backtest needs only the sums):
// one statement.
func (f *Forecast) Inputs(ctx context.Context, partition string, madeDay, toDay, fromErr, toErr int64) (discharge.ForecastInputs, error) {
	q := `SELECT 'd', day, pathway, outcode, CAST(SUM(n) AS BIGINT), 0 FROM forecast_due WHERE partition = $1 AND day <= $3 GROUP BY day, pathway, outcode HAVING SUM(n) <> 0
UNION ALL SELECT 'm', day, '', '', 0, 0 FROM forecast_made WHERE partition = $1 AND day = $2
UNION ALL SELECT 'e', $5, '', '', CAST(SUM(cells) AS BIGINT), CAST(horizon AS BIGINT) * 1000000000 + CAST(SUM(abs_err) AS BIGINT) FROM forecast_error WHERE partition = $1 AND day >= $4 AND day <= $5 GROUP BY horizon`
	var out discharge.ForecastInputs
	err := f.s.readRows(ctx, "sqlstore.Forecast.Inputs", partition, q, []any{partition, madeDay, toDay, fromErr, toErr}, func(rs rows) error {
		for rs.Next() {
			var kind, pathway, outcode string
			var day, n, x int64
			if err := rs.Scan(&kind, &day, &pathway, &outcode, &n, &x); err != nil {
				return err
			}
			switch kind {
			case "d":
				out.Due = append(out.Due, discharge.DueCount{Day: discharge.DateOfDay(day), Pathway: pathway, Outcode: outcode, N: int(n)})
			case "m":
				out.Kept = true
			default:
				out.Errors = append(out.Errors, discharge.ForecastError{Day: discharge.DateOfDay(day), Horizon: int(x / 1000000000), Cells: int(n), AbsErr: int(x % 1000000000)})
			}
		}
		return nil
	})
	return out, err
}

// Keep stores the forecast made on its day, unless one is kept already
// (the first report of the day wins); it reports whether it stored it.
func (f *Forecast) Keep(ctx context.Context, partition string, made discharge.Date, cells []discharge.ForecastCount) (bool, error) {
	kept := false
	err := f.s.inTx(ctx, "sqlstore.Forecast.Keep", partition, false, func(tx *sql.Tx) error {
		kept = false
		res, err := tx.ExecContext(ctx, `INSERT INTO forecast_made (partition, day) VALUES ($1, $2) ON CONFLICT (partition, day) DO NOTHING`,
			partition, discharge.DayNumber(made))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		kept = true
		rows := make([][]any, len(cells))
		for i, c := range cells {
			rows[i] = []any{partition, discharge.DayNumber(c.Made), discharge.DayNumber(c.Day), string(c.Setting), c.Outcode, c.N}
		}
		return insertValues(ctx, tx, "INSERT INTO forecast_kept (partition, made, day, setting, outcode, n) VALUES ", 6, rows)
	})
	return kept, err
}

// ScoringInputs returns what scoring the target days from..to needs: the
// days not yet scored, the days a forecast was kept on (from 13 days
// before from), the kept cells of the days not yet scored (only: a day
// is scored once) and the discharge counters in the hour buckets
// [fromHour, toHour).
func (f *Forecast) ScoringInputs(ctx context.Context, partition string, from, to, fromHour, toHour int64) (discharge.ScoringInputs, error) {
	q := `SELECT 's', day, 0, '', '', 0 FROM forecast_scored WHERE partition = $1 AND day >= $2 AND day <= $3
UNION ALL SELECT 'm', day, 0, '', '', 0 FROM forecast_made WHERE partition = $1 AND day >= $2 - 13 AND day <= $3
UNION ALL SELECT 'k', k.day, k.made, k.setting, k.outcode, k.n FROM forecast_kept k WHERE k.partition = $1 AND k.day >= $2 AND k.day <= $3
	AND NOT EXISTS (SELECT 1 FROM forecast_scored s WHERE s.partition = $1 AND s.day = k.day)
UNION ALL SELECT 'h', hour, CAST(SUM(n) AS BIGINT), pathway, outcode, 0 FROM forecast_discharges WHERE partition = $1 AND hour >= $4 AND hour < $5 GROUP BY hour, pathway, outcode HAVING SUM(n) <> 0`
	var out discharge.ScoringInputs
	scored := map[int64]bool{}
	err := f.s.readRows(ctx, "sqlstore.Forecast.ScoringInputs", partition, q, []any{partition, from, to, fromHour, toHour}, func(rs rows) error {
		for rs.Next() {
			var kind, a, outcode string
			var day, b, n int64
			if err := rs.Scan(&kind, &day, &b, &a, &outcode, &n); err != nil {
				return err
			}
			switch kind {
			case "s":
				scored[day] = true
			case "m":
				out.Made = append(out.Made, discharge.DateOfDay(day))
			case "k":
				out.Kept = append(out.Kept, discharge.ForecastCount{Made: discharge.DateOfDay(b), Day: discharge.DateOfDay(day),
					Setting: discharge.ForecastSetting(a), Outcode: outcode, N: int(n)})
			default:
				out.Discharges = append(out.Discharges, discharge.DischargeAt{Hour: day, Pathway: a, Outcode: outcode, N: int(b)})
			}
		}
		return nil
	})
	for d := from; d <= to; d++ {
		if !scored[d] {
			out.Unscored = append(out.Unscored, discharge.DateOfDay(d))
		}
	}
	return out, err
}

// SaveScores stores the errors of days, each day once: a day another
// report scored first keeps that report's errors.
func (f *Forecast) SaveScores(ctx context.Context, partition string, days []discharge.Date, errs []discharge.ForecastError) error {
	return f.s.inTx(ctx, "sqlstore.Forecast.SaveScores", partition, false, func(tx *sql.Tx) error {
		for _, d := range days {
			res, err := tx.ExecContext(ctx, `INSERT INTO forecast_scored (partition, day) VALUES ($1, $2) ON CONFLICT (partition, day) DO NOTHING`,
				partition, discharge.DayNumber(d))
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				if err != nil {
					return err
				}
				continue
			}
			for _, e := range errs {
				if e.Day != d {
					continue
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO forecast_error (partition, day, horizon, cells, abs_err) VALUES ($1, $2, $3, $4, $5)`,
					partition, discharge.DayNumber(d), e.Horizon, e.Cells, e.AbsErr); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
