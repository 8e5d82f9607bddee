package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/internal/pgtest"
)

// TestTokenSearchPlan pins the plan of a token search on PostgreSQL
// before the first ANALYZE of a freshly loaded table (as after a bulk load,
// until autovacuum's first run): the token rows are found through the
// primary key (partition, type, param, token, id), never through the
// per-resource index, which the planner once took and then filtered a
// whole partition's tokens for each resource (450 ms for one identifier
// among 1,000 Patients; now about 4 ms, and 0.1 ms once analysed). It
// asserts the plan's shape, not a time.
func TestTokenSearchPlan(t *testing.T) {
	ctx := context.Background()
	s, c := openPlanned(t)
	for i := 0; i < 1000; i++ {
		w := fhir.Write{Resource: fhir.Resource{Type: "Patient", ID: fmt.Sprintf("p%04d", i), VersionID: 1, LastUpdated: time.Now(), JSON: []byte(`{}`)},
			Index: []fhir.IndexEntry{{Param: "identifier", Token: fmt.Sprintf("nhs|%d", i)}, {Param: "identifier", Token: fmt.Sprint(i)}, {Param: "gender", Token: "female"}}}
		if err := s.Commit(ctx, "RXA", []fhir.Write{w}, nil); err != nil {
			t.Fatal(err)
		}
	}
	q := fhir.Query{Type: "Patient", Count: 20, Filters: []fhir.Filter{{Param: "identifier", AnyOf: []string{"nhs|500"}}}}
	w := &query{}
	if err := s.searchWhere(w, "RXA", q); err != nil {
		t.Fatal(err)
	}
	where := w.b.String()
	page := pageOf(w, "SELECT r.id, r.version, r.last_updated, r.body FROM resources r WHERE "+where,
		"SELECT COUNT(*) AS total FROM resources r WHERE "+where, s.byteOrder("r.id"), s.byteOrder("p.id"), q.Offset, q.Count)
	plan := explain(t, c, "EXPLAIN "+page, w.args...)
	if !strings.Contains(plan, "search_token_pkey") || strings.Contains(plan, "search_token_resource") {
		t.Fatalf("the token lookup does not use the primary key:\n%s", plan)
	}
	if _, total, err := s.Search(ctx, "RXA", q); err != nil || total != 1 {
		t.Fatalf("search: %d %v", total, err)
	}
}

// TestReadManyPlan pins ReadMany's plan on SQLite: every term is a probe
// of the primary key (partition, type, id), for one type and for several.
// The shape before, the partition first and then an OR of (type, id)
// pairs, SQLite planned as a search of the whole partition that tested
// every pair on each row: 1.25 s for 500 Locations among 75,000 directory
// resources, which a placement's first request near a patient reads. It
// asserts the plan's shape, not a time, and that the answer is whole.
func TestReadManyPlan(t *testing.T) {
	ctx := context.Background()
	s := openSQLite(t)
	var ws []fhir.Write
	for i := 0; i < 300; i++ {
		for _, typ := range []string{"Location", "HealthcareService"} {
			ws = append(ws, fhir.Write{Resource: fhir.Resource{Type: typ, ID: fmt.Sprintf("%s-%03d", typ, i), VersionID: 1, LastUpdated: time.Now(), JSON: []byte(`{}`)}})
		}
	}
	if err := s.Commit(ctx, "dir", ws, nil); err != nil {
		t.Fatal(err)
	}
	cases := map[string][]fhir.Ref{
		"one type":       {{Type: "Location", ID: "Location-007"}, {Type: "Location", ID: "Location-123"}, {Type: "Location", ID: "absent"}},
		"two types":      {{Type: "Location", ID: "Location-007"}, {Type: "HealthcareService", ID: "HealthcareService-042"}, {Type: "Location", ID: "Location-299"}},
		"one ref":        {{Type: "HealthcareService", ID: "HealthcareService-000"}},
		"a repeated one": {{Type: "Location", ID: "Location-001"}, {Type: "Location", ID: "Location-001"}},
	}
	for name, refs := range cases {
		q := s.readManyQuery("dir", refs)
		rows, err := s.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q.b.String(), q.args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		searches := 0
		for _, l := range plan {
			if strings.HasPrefix(l, "SCAN") || strings.Contains(l, "(partition=?)") {
				t.Errorf("%s: the partition is scanned: %q", name, plan)
			}
			if strings.Contains(l, "(partition=? AND type=? AND id=?)") {
				searches++
			}
		}
		if searches == 0 {
			t.Errorf("%s: no probe of the primary key: %q", name, plan)
		}
		got, err := s.ReadMany(ctx, "dir", refs)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{}
		for _, r := range refs {
			if r.ID != "absent" {
				want[r.Type+"/"+r.ID] = true
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: read %d resources, want %d", name, len(got), len(want))
		}
		for k := range want {
			if got[k].ID == "" {
				t.Errorf("%s: %s missing", name, k)
			}
		}
	}
}

// TestManyTokenSearchPlan pins the generic plan PostgreSQL runs a search
// for many tokens with (partitionBatch forces generic plans), beside a
// second partition whose statistics make the planner expect few rows for
// each partition's tokens: the tokens must be matched by the primary key
// of search_token, not filtered row by row. With a list of parameters
// ("token IN ($6, …)") the plan read every token of the parameter and
// tested each against the whole list: 280 ms for placement's services at
// 500 Locations among 25,000, 7 ms with the values as one array. It
// asserts the plan's shape, and that the answer is whole.
func TestManyTokenSearchPlan(t *testing.T) {
	ctx := context.Background()
	s, c := openPlanned(t)
	var ws []fhir.Write
	for i := range 1000 {
		ws = append(ws, fhir.Write{Resource: fhir.Resource{Type: "Patient", ID: fmt.Sprint("p", i), VersionID: 1, LastUpdated: time.Now(), JSON: []byte(`{}`)},
			Index: []fhir.IndexEntry{{Param: "identifier", Token: fmt.Sprint("nhs|", i)}, {Param: "family", Token: "smith"}, {Param: "gender", Token: "female"}}})
	}
	if err := s.Commit(ctx, "RXA", ws, nil); err != nil {
		t.Fatal(err)
	}
	const services = 10000
	for start := 0; start < services; start += 1000 {
		ws := make([]fhir.Write, 1000)
		for i := range ws {
			ws[i] = fhir.Write{Resource: fhir.Resource{Type: "HealthcareService", ID: fmt.Sprintf("hs%05d", start+i), VersionID: 1, LastUpdated: time.Now(), JSON: []byte(`{}`)},
				Index: []fhir.IndexEntry{{Param: "location", Token: fmt.Sprintf("Location/L%05d", start+i)}}}
		}
		if err := s.Commit(ctx, "dir", ws, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Exec(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	locs := make([]string, 500)
	for i := range locs {
		locs[i] = fmt.Sprintf("Location/L%05d", i*(services/len(locs)))
	}
	q := fhir.Query{Type: "HealthcareService", Count: 1000, NoTotal: true, Filters: []fhir.Filter{{Param: "location", AnyOf: locs}}}
	w := &query{}
	if err := s.searchWhere(w, "dir", q); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Prepare(ctx, "many", "SELECT r.id FROM resources r WHERE "+w.b.String()); err != nil {
		t.Fatal(err)
	}
	plan := explain(t, c, "EXPLAIN EXECUTE many("+literals(t, w.args)+")")
	for _, l := range strings.Split(plan, "\n") {
		if strings.Contains(l, "Filter:") && strings.Contains(l, "token") {
			t.Fatalf("the tokens are filtered row by row, not looked up:\n%s", plan)
		}
	}
	if !strings.Contains(plan, "search_token_pkey") {
		t.Fatalf("the token lookup does not use the primary key:\n%s", plan)
	}
	if page, _, err := s.Search(ctx, "dir", q); err != nil || len(page) != len(locs) {
		t.Fatalf("search: %d of %d, %v", len(page), len(locs), err)
	}
}

// openPlanned opens a store on a PostgreSQL of the test's own, and a
// superuser connection to its database for EXPLAIN and ANALYZE.
func openPlanned(t *testing.T) (*Store, *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	pg := pgtest.Start(t)
	_, url := pg.NewDatabase(t)
	s, err := Open(ctx, url, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c, err := pgx.Connect(ctx, pg.SuperuserURL(strings.TrimPrefix(strings.SplitN(strings.SplitN(url, "/", 4)[3], "?", 2)[0], "")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(ctx) })
	return s, c
}

// explain runs an EXPLAIN statement and returns its plan, a line a row.
func explain(t *testing.T, c *pgx.Conn, sql string, args ...any) string {
	t.Helper()
	rows, err := c.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	var plan strings.Builder
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(l + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan.String()
}

// literals writes a statement's arguments as SQL literals, for EXPLAIN
// EXECUTE (which takes no parameters of its own).
func literals(t *testing.T, args []any) string {
	quote := func(v string) string { return "'" + strings.ReplaceAll(v, "'", "''") + "'" }
	out := make([]string, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			out[i] = quote(v)
		case []string:
			out[i] = "ARRAY[" + func() string {
				qs := make([]string, len(v))
				for j, x := range v {
					qs[j] = quote(x)
				}
				return strings.Join(qs, ", ")
			}() + "]"
		default:
			t.Fatalf("argument %d: %T", i, a)
		}
	}
	return strings.Join(out, ", ")
}
