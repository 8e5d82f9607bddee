package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"

	"github.com/dischargegateway/gateway/fhir"
)

// Migration 8: case_worklist, one narrow row per case that the worklist
// reads alone. Joining every Encounter's search rows and the latest of its
// case_events at read time cost 0.5 s over 10,000 open cases (four index
// probes per case before the first row of the page); this table answers
// the page and its count from one partition's rows.
//
// Triggers keep it in the same transaction as what it is derived from, so
// it is never behind and no writer knows it exists: the Encounter's
// resources row (it exists; lastUpdated), its search_token rows (status,
// pathway) and search_range rows (discharge-ready-date,
// expected-discharge-date, nctr-since), which Commit deletes and inserts
// again on every update, and the case's case_events (the latest state, the
// first offer and acceptance). The statements are the same on both
// engines; only the trigger wrapping differs (SQLite's inline bodies,
// PostgreSQL's plpgsql functions). The migration fills the table from the
// rows already there; on PostgreSQL it lifts FORCE ROW LEVEL SECURITY for
// that one statement's transaction, as the owner running migrations would
// otherwise see no partition's rows.

const caseWorklistTable = `CREATE TABLE case_worklist (
    partition    TEXT             NOT NULL,
    case_id      TEXT             NOT NULL,
    enc          INTEGER          NOT NULL DEFAULT 0,
    lu           BIGINT           NOT NULL DEFAULT 0,
    enc_closed   INTEGER          NOT NULL DEFAULT 0,
    pathway      TEXT,
    drd          DOUBLE PRECISION,
    edd          DOUBLE PRECISION,
    nctr         DOUBLE PRECISION,
    state        TEXT             NOT NULL DEFAULT 'referred',
    last_seq     BIGINT           NOT NULL DEFAULT 0,
    ev_at        BIGINT           NOT NULL DEFAULT 0,
    first_offer  BIGINT,
    first_accept BIGINT,
    PRIMARY KEY (partition, case_id)
)`

// worklistTrigger is one trigger: after event on table, for each row
// matching when, run stmt (NEW and OLD as both engines name them).
type worklistTrigger struct {
	name, event, table, when, stmt string
}

// closedStatusList and the pathway system are spelt here once for the
// SQL; cases.ClosedEncounterStatuses and fhir's table are their sources.
const closedStatusList = "'finished', 'cancelled', 'entered-in-error'"

func worklistTriggers() []worklistTrigger {
	sys := strings.ReplaceAll(fhir.IndexedExtensions()["pathway-system"], "'", "''")
	upsert := func(cols, vals, set string) string {
		return "INSERT INTO case_worklist (partition, case_id, " + cols + ") VALUES (NEW.partition, NEW.id, " + vals + ")" +
			" ON CONFLICT (partition, case_id) DO UPDATE SET " + set
	}
	var out []worklistTrigger
	out = append(out,
		worklistTrigger{"case_worklist_enc_ins", "INSERT", "resources", "NEW.type = 'Encounter'",
			upsert("enc, lu", "1, NEW.last_updated", "enc = 1, lu = excluded.lu")},
		worklistTrigger{"case_worklist_enc_upd", "UPDATE", "resources", "NEW.type = 'Encounter'",
			"UPDATE case_worklist SET lu = NEW.last_updated WHERE partition = NEW.partition AND case_id = NEW.id"},
		worklistTrigger{"case_worklist_status_ins", "INSERT", "search_token",
			"NEW.type = 'Encounter' AND NEW.param = 'status' AND NEW.token IN (" + closedStatusList + ")",
			upsert("enc_closed", "1", "enc_closed = 1")},
		worklistTrigger{"case_worklist_status_del", "DELETE", "search_token",
			"OLD.type = 'Encounter' AND OLD.param = 'status' AND OLD.token IN (" + closedStatusList + ")",
			"UPDATE case_worklist SET enc_closed = 0 WHERE partition = OLD.partition AND case_id = OLD.id"},
		worklistTrigger{"case_worklist_pathway_ins", "INSERT", "search_token",
			"NEW.type = 'Encounter' AND NEW.param = 'pathway' AND NEW.token LIKE '" + sys + "|%'",
			upsert("pathway", "SUBSTR(NEW.token, "+strconv.Itoa(len(sys)+2)+")", "pathway = excluded.pathway")},
		worklistTrigger{"case_worklist_pathway_del", "DELETE", "search_token",
			"OLD.type = 'Encounter' AND OLD.param = 'pathway' AND OLD.token LIKE '" + sys + "|%'",
			"UPDATE case_worklist SET pathway = NULL WHERE partition = OLD.partition AND case_id = OLD.id"},
	)
	for _, d := range []struct{ param, col string }{{"discharge-ready-date", "drd"}, {"expected-discharge-date", "edd"}, {"nctr-since", "nctr"}} {
		out = append(out,
			worklistTrigger{"case_worklist_" + d.col + "_ins", "INSERT", "search_range",
				"NEW.type = 'Encounter' AND NEW.param = '" + d.param + "'",
				upsert(d.col, "NEW.low", d.col+" = excluded."+d.col)},
			worklistTrigger{"case_worklist_" + d.col + "_del", "DELETE", "search_range",
				"OLD.type = 'Encounter' AND OLD.param = '" + d.param + "'",
				"UPDATE case_worklist SET " + d.col + " = NULL WHERE partition = OLD.partition AND case_id = OLD.id"})
	}
	out = append(out, worklistTrigger{"case_worklist_event", "INSERT", "case_events", "NEW.seq > 0",
		"INSERT INTO case_worklist (partition, case_id, state, last_seq, ev_at, first_offer, first_accept) VALUES (NEW.partition, NEW.case_id, NEW.state, NEW.seq, NEW.at, " +
			"CASE WHEN NEW.kind = 'offer-sent' THEN NEW.at END, CASE WHEN NEW.kind = 'offer-accepted' THEN NEW.at END)" +
			" ON CONFLICT (partition, case_id) DO UPDATE SET" +
			" state = CASE WHEN excluded.last_seq > case_worklist.last_seq THEN excluded.state ELSE case_worklist.state END," +
			" last_seq = CASE WHEN excluded.last_seq > case_worklist.last_seq THEN excluded.last_seq ELSE case_worklist.last_seq END," +
			" ev_at = CASE WHEN excluded.ev_at > case_worklist.ev_at THEN excluded.ev_at ELSE case_worklist.ev_at END," +
			" first_offer = CASE WHEN case_worklist.first_offer IS NULL OR excluded.first_offer < case_worklist.first_offer THEN COALESCE(excluded.first_offer, case_worklist.first_offer) ELSE case_worklist.first_offer END," +
			" first_accept = CASE WHEN case_worklist.first_accept IS NULL OR excluded.first_accept < case_worklist.first_accept THEN COALESCE(excluded.first_accept, case_worklist.first_accept) ELSE case_worklist.first_accept END"})
	return out
}

// worklistBackfill fills case_worklist from the rows already stored.
func worklistBackfill() []string {
	sys := strings.ReplaceAll(fhir.IndexedExtensions()["pathway-system"], "'", "''")
	rng := func(param string) string {
		return "(SELECT g.low FROM search_range g WHERE g.partition = r.partition AND g.type = 'Encounter' AND g.id = r.id AND g.param = '" + param + "')"
	}
	ev := func(expr, extra string) string {
		return "(SELECT " + expr + " FROM case_events e WHERE e.partition = case_worklist.partition AND e.case_id = case_worklist.case_id" + extra + ")"
	}
	return []string{
		`INSERT INTO case_worklist (partition, case_id, enc, lu, enc_closed, pathway, drd, edd, nctr)
SELECT r.partition, r.id, 1, r.last_updated,
	CASE WHEN EXISTS (SELECT 1 FROM search_token s WHERE s.partition = r.partition AND s.type = 'Encounter' AND s.param = 'status' AND s.id = r.id AND s.token IN (` + closedStatusList + `)) THEN 1 ELSE 0 END,
	(SELECT MIN(SUBSTR(t.token, ` + strconv.Itoa(len(sys)+2) + `)) FROM search_token t WHERE t.partition = r.partition AND t.type = 'Encounter' AND t.param = 'pathway' AND t.id = r.id AND t.token LIKE '` + sys + `|%'),
	` + rng("discharge-ready-date") + `, ` + rng("expected-discharge-date") + `, ` + rng("nctr-since") + `
FROM resources r WHERE r.type = 'Encounter'`,
		`UPDATE case_worklist SET
	last_seq = COALESCE(` + ev("MAX(e.seq)", "") + `, 0),
	ev_at = COALESCE(` + ev("MAX(e.at)", "") + `, 0),
	state = COALESCE(` + ev("e.state", " ORDER BY e.seq DESC LIMIT 1") + `, 'referred'),
	first_offer = ` + ev("MIN(e.at)", " AND e.kind = 'offer-sent'") + `,
	first_accept = ` + ev("MIN(e.at)", " AND e.kind = 'offer-accepted'"),
	}
}

// caseWorklistIndexes serve the worklist's sorts within a partition. On
// PostgreSQL they are the sort itself (NULLs last, ids in byte order), so
// a page is an index range rather than a sort of every match; SQLite sorts
// NULLs first, so its ORDER BY is an expression that no index serves.
func caseWorklistIndexes(eng engine) []string {
	if eng == enginePostgres {
		return []string{
			`CREATE INDEX case_worklist_nctr ON case_worklist (partition, nctr, case_id COLLATE "C")`,
			`CREATE INDEX case_worklist_drd ON case_worklist (partition, drd, case_id COLLATE "C")`,
		}
	}
	return []string{
		"CREATE INDEX case_worklist_nctr ON case_worklist (partition, nctr)",
		"CREATE INDEX case_worklist_drd ON case_worklist (partition, drd)",
	}
}

// worklistSortIndexes (migration 19) serve the worklist's pages on SQLite
// as caseWorklistIndexes do on PostgreSQL: each is the ORDER BY that
// worklistSQL writes for SQLite (NULLs last as an expression, then the
// id), so a page of the default worklist reads its 20 rows in index order
// instead of sorting every open case of the trust (over 10,000 open cases,
// the sort was most of the query: bench/worklist-2026-11-30.md). The
// "updated" sort gets one on both engines (PostgreSQL had none). Each
// costs an index write when a case's row changes.
func worklistSortIndexes(eng engine) []string {
	updated := "CASE WHEN ev_at > lu THEN ev_at ELSE lu END"
	if eng == enginePostgres {
		return []string{`CREATE INDEX case_worklist_updated ON case_worklist (partition, (` + updated + `) DESC, case_id COLLATE "C")`}
	}
	return []string{
		"CREATE INDEX case_worklist_nctr_page ON case_worklist (partition, (CASE WHEN nctr IS NULL THEN 1 ELSE 0 END), nctr, case_id)",
		"CREATE INDEX case_worklist_drd_page ON case_worklist (partition, (CASE WHEN drd IS NULL THEN 1 ELSE 0 END), drd, case_id)",
		"CREATE INDEX case_worklist_updated ON case_worklist (partition, (" + updated + ") DESC, case_id)",
	}
}

// migrate19 is migration 19: the worklist's sort indexes
// (worklistSortIndexes).
func migrate19(eng engine) func(ctx context.Context, tx *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		for _, q := range worklistSortIndexes(eng) {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	}
}

// migrateCaseWorklist is migration 8 on eng.
func migrateCaseWorklist(eng engine) func(ctx context.Context, tx *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		stmts := append([]string{caseWorklistTable}, caseWorklistIndexes(eng)...)
		for _, tr := range worklistTriggers() {
			if eng == enginePostgres {
				stmts = append(stmts,
					"CREATE FUNCTION "+tr.name+"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "+tr.stmt+"; RETURN NULL; END $$",
					"CREATE TRIGGER "+tr.name+" AFTER "+tr.event+" ON "+tr.table+" FOR EACH ROW WHEN ("+tr.when+") EXECUTE FUNCTION "+tr.name+"()")
				continue
			}
			stmts = append(stmts, "CREATE TRIGGER "+tr.name+" AFTER "+tr.event+" ON "+tr.table+" FOR EACH ROW WHEN "+tr.when+" BEGIN "+tr.stmt+"; END")
		}
		backfill := worklistBackfill()
		if eng == enginePostgres {
			var lift, restore []string
			for _, t := range []string{"resources", "search_token", "search_range", "case_events"} {
				lift = append(lift, "ALTER TABLE "+t+" NO FORCE ROW LEVEL SECURITY")
				restore = append(restore, "ALTER TABLE "+t+" FORCE ROW LEVEL SECURITY")
			}
			backfill = append(append(lift, backfill...), restore...)
			backfill = append(backfill,
				"ALTER TABLE case_worklist ENABLE ROW LEVEL SECURITY",
				"ALTER TABLE case_worklist FORCE ROW LEVEL SECURITY",
				`CREATE POLICY partition_isolation ON case_worklist
    USING (partition = current_setting('app.partition', true))
    WITH CHECK (partition = current_setting('app.partition', true))`)
		}
		for _, s := range append(stmts, backfill...) {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return err
			}
		}
		return nil
	}
}
