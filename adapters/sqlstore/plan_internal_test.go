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
	pg := pgtest.Start(t)
	_, url := pg.NewDatabase(t)
	s, err := Open(ctx, url, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
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
	c, err := pgx.Connect(ctx, pg.SuperuserURL(strings.TrimPrefix(strings.SplitN(strings.SplitN(url, "/", 4)[3], "?", 2)[0], "")))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, "EXPLAIN "+page, w.args...)
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
	if !strings.Contains(plan.String(), "search_token_pkey") || strings.Contains(plan.String(), "search_token_resource") {
		t.Fatalf("the token lookup does not use the primary key:\n%s", plan.String())
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
		q := readManyQuery("dir", refs)
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
