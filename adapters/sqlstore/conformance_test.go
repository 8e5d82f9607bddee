package sqlstore_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/internal/pgtest"
	"github.com/dischargegateway/gateway/internal/sqlitetest"
)

// subject is one store under the conformance suite: store is it as a
// fhir.Store, sql the same store for what goes beyond that contract
// (History, the audit trail).
type subject struct {
	store fhir.Store
	sql   *sqlstore.Store
}

// engines are the stores under the suite. Each engine's setup runs once
// (one PostgreSQL server for all its cases) and open gives each case a
// store of its own (a fresh SQLite file or PostgreSQL database).
func engines() []engine {
	return []engine{
		{"sqlite", func(*testing.T) func(t *testing.T) subject {
			return func(t *testing.T) subject {
				s, err := sqlstore.Open(context.Background(), "", sqlitetest.Dir(t))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return subject{s, s}
			}
		}},
		{"postgres", func(t *testing.T) func(t *testing.T) subject {
			pg := pgtest.Start(t)
			return func(t *testing.T) subject {
				_, url := pg.NewDatabase(t)
				s, err := sqlstore.Open(context.Background(), url, "")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return subject{s, s}
			}
		}},
	}
}

type engine struct {
	name  string
	setup func(t *testing.T) func(t *testing.T) subject
}

// conformance runs every case on every engine.
func conformance(t *testing.T, cases map[string]func(t *testing.T, s subject)) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			open := e.setup(t)
			for name, c := range cases {
				t.Run(name, func(t *testing.T) { c(t, open(t)) })
			}
		})
	}
}

func res(typ, id string, v int64, body string) fhir.Resource {
	return fhir.Resource{Type: typ, ID: id, VersionID: v, LastUpdated: time.Unix(1700000000, 123456789).UTC(), JSON: []byte(body)}
}

func tok(param, token string) fhir.IndexEntry { return fhir.IndexEntry{Param: param, Token: token} }

func kindOf(err error) discharge.Kind { return discharge.ErrorKind(err) }

func ids(rs []fhir.Resource) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return strings.Join(out, ",")
}

func TestConformance(t *testing.T) {
	conformance(t, map[string]func(t *testing.T, s subject){
		"a search with too many values is refused on every engine": func(t *testing.T, s subject) {
			many := make([]string, 30001)
			for i := range many {
				many[i] = fmt.Sprint("x|", i)
			}
			for _, param := range []string{"identifier", "_id"} {
				_, _, err := s.store.Search(context.Background(), "p1", fhir.Query{Type: "Patient", Count: 10, Filters: []fhir.Filter{{Param: param, AnyOf: many}}})
				if kindOf(err) != discharge.KindTooLarge {
					t.Fatalf("%s with %d values: %v", param, len(many), err)
				}
			}
			if _, _, err := s.store.Search(context.Background(), "p1", fhir.Query{Type: "Patient", Count: 10, Filters: []fhir.Filter{{Param: "identifier", AnyOf: many[:29000]}}}); err != nil {
				t.Fatalf("29,000 values: %v", err)
			}
		},
		"a search that needs no total pages as the counted one does": func(t *testing.T, s subject) {
			ctx := context.Background()
			var ws []fhir.Write
			for _, id := range []string{"s5", "s1", "s4", "s2", "s3", "other"} {
				tk := "loc|A"
				if id == "other" {
					tk = "loc|B"
				}
				ws = append(ws, fhir.Write{Resource: res("HealthcareService", id, 1, `{"v":1}`), Index: []fhir.IndexEntry{tok("location", tk)}})
			}
			if err := s.store.Commit(ctx, "p1", ws, nil); err != nil {
				t.Fatal(err)
			}
			at := []fhir.Filter{{Param: "location", AnyOf: []string{"loc|A"}}}
			for _, tc := range []struct {
				offset, count int
				want          string
			}{{0, 2, "s1,s2"}, {2, 2, "s3,s4"}, {4, 2, "s5"}, {6, 2, ""}, {-1, 10, "s1,s2,s3,s4,s5"}} {
				counted, n, err := s.store.Search(ctx, "p1", fhir.Query{Type: "HealthcareService", Filters: at, Offset: tc.offset, Count: tc.count})
				if err != nil || n != 5 || ids(counted) != tc.want {
					t.Fatalf("counted, offset %d: %s of %d, %v; want %s of 5", tc.offset, ids(counted), n, err, tc.want)
				}
				page, n, err := s.store.Search(ctx, "p1", fhir.Query{Type: "HealthcareService", Filters: at, Offset: tc.offset, Count: tc.count, NoTotal: true})
				if err != nil || n != -1 || ids(page) != tc.want {
					t.Fatalf("uncounted, offset %d: %s, total %d, %v; want %s and -1", tc.offset, ids(page), n, err, tc.want)
				}
				for i := range page {
					if page[i].VersionID != 1 || string(page[i].JSON) != `{"v":1}` || !page[i].LastUpdated.Equal(counted[i].LastUpdated) {
						t.Fatalf("uncounted entry %+v, counted %+v", page[i], counted[i])
					}
				}
			}
			// With no page asked for, the total is still the answer.
			if _, n, err := s.store.Search(ctx, "p1", fhir.Query{Type: "HealthcareService", Filters: at, NoTotal: true}); err != nil || n != 5 {
				t.Fatalf("no page: total %d, %v", n, err)
			}
		},
		"a refused or cancelled create leaves nothing behind and the pool clean": func(t *testing.T, s subject) {
			// On PostgreSQL creates go as one pipelined batch ended by
			// COMMIT or ROLLBACK (pipeline.go): a refused one must roll
			// back every row it sent, and no pooled connection may keep
			// an open transaction for its next user.
			ctx := context.Background()
			a := fhir.Write{Resource: res("Patient", "pa", 1, `{"v":1}`), Index: []fhir.IndexEntry{tok("identifier", "x|pa")}}
			if err := s.store.Commit(ctx, "p1", []fhir.Write{a}, nil); err != nil {
				t.Fatal(err)
			}
			b := fhir.Write{Resource: res("Patient", "pb", 1, `{"v":1}`), Index: []fhir.IndexEntry{tok("identifier", "x|pb")}}
			if err := s.store.Commit(ctx, "p1", []fhir.Write{b, a}, nil); kindOf(err) != discharge.KindRetry {
				t.Fatalf("a create over an existing resource: %v", err)
			}
			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			c := fhir.Write{Resource: res("Patient", "pc", 1, `{"v":1}`)}
			if err := s.store.Commit(cancelled, "p1", []fhir.Write{c}, nil); err == nil {
				t.Fatal("a commit with a cancelled context succeeded")
			}
			for _, id := range []string{"pb", "pc"} {
				if _, err := s.store.Read(ctx, "p1", "Patient", id); kindOf(err) != discharge.KindNotFound {
					t.Fatalf("%s after its refused create: %v", id, err)
				}
				if _, n, err := s.store.History(ctx, "p1", "Patient", id, 0, 10); kindOf(err) != discharge.KindNotFound || n != 0 {
					t.Fatalf("%s has history after its refused create: %d %v", id, n, err)
				}
			}
			if _, total, err := s.store.Search(ctx, "p1", fhir.Query{Type: "Patient", Filters: []fhir.Filter{{Param: "identifier", AnyOf: []string{"x|pb"}}}, Count: 10}); err != nil || total != 0 {
				t.Fatalf("the refused create's index row stayed: %d %v", total, err)
			}
			// Many commits after: each would fail with "a transaction is
			// already in progress" on a connection left inside one.
			for i := range 40 {
				w := fhir.Write{Resource: res("Patient", fmt.Sprintf("after%d", i), 1, `{"v":1}`)}
				if err := s.store.Commit(ctx, "p1", []fhir.Write{w}, nil); err != nil {
					t.Fatalf("commit %d after the refusals: %v", i, err)
				}
				if i%3 == 0 {
					if err := s.store.Commit(ctx, "p1", []fhir.Write{w}, nil); kindOf(err) != discharge.KindRetry {
						t.Fatalf("second create %d: %v", i, err)
					}
				}
			}
		},
		"versions, history and expected versions": func(t *testing.T, s subject) {
			ctx := context.Background()
			w1 := fhir.Write{Resource: res("Patient", "a", 1, `{"v":1}`), Index: []fhir.IndexEntry{tok("identifier", "x|1")}}
			if err := s.store.Commit(ctx, "p1", []fhir.Write{w1}, nil); err != nil {
				t.Fatal(err)
			}
			if err := s.store.Commit(ctx, "p1", []fhir.Write{w1}, nil); kindOf(err) != discharge.KindRetry {
				t.Fatalf("second create: %v", err)
			}
			w2 := fhir.Write{Resource: res("Patient", "a", 2, `{"v":2}`), ExpectVersion: 1, Index: []fhir.IndexEntry{tok("identifier", "x|2")}}
			if err := s.store.Commit(ctx, "p1", []fhir.Write{w2}, nil); err != nil {
				t.Fatal(err)
			}
			stale := fhir.Write{Resource: res("Patient", "a", 2, `{"v":"stale"}`), ExpectVersion: 1}
			if err := s.store.Commit(ctx, "p1", []fhir.Write{stale}, nil); kindOf(err) != discharge.KindRetry {
				t.Fatalf("stale: %v", err)
			}
			ahead := fhir.Write{Resource: res("Patient", "a", 4, `{"v":"ahead"}`), ExpectVersion: 3}
			if err := s.store.Commit(ctx, "p1", []fhir.Write{ahead}, nil); kindOf(err) != discharge.KindRetry {
				t.Fatalf("ahead: %v", err)
			}
			r, err := s.store.Read(ctx, "p1", "Patient", "a")
			if err != nil || r.VersionID != 2 || string(r.JSON) != `{"v":2}` || !r.LastUpdated.Equal(w2.Resource.LastUpdated) || r.Type != "Patient" || r.ID != "a" {
				t.Fatalf("read %+v %v", r, err)
			}
			h1, err := s.store.ReadVersion(ctx, "p1", "Patient", "a", 1)
			if err != nil || string(h1.JSON) != `{"v":1}` || h1.VersionID != 1 {
				t.Fatalf("vread 1: %s %v", h1.JSON, err)
			}
			if _, err := s.store.ReadVersion(ctx, "p1", "Patient", "a", 3); kindOf(err) != discharge.KindNotFound {
				t.Fatalf("vread 3: %v", err)
			}
			if _, err := s.store.Read(ctx, "p1", "Patient", "nope"); kindOf(err) != discharge.KindNotFound {
				t.Fatalf("read absent: %v", err)
			}
			for token, want := range map[string]int{"x|1": 0, "x|2": 1} {
				_, total, err := s.store.Search(ctx, "p1", fhir.Query{Type: "Patient", Filters: []fhir.Filter{{Param: "identifier", AnyOf: []string{token}}}, Count: 10})
				if err != nil || total != want {
					t.Fatalf("search %s: %d %v", token, total, err)
				}
			}
		},
		"history newest first, paged": func(t *testing.T, s subject) {
			st := s.sql
			ctx := context.Background()
			for v := int64(1); v <= 5; v++ {
				w := fhir.Write{Resource: res("Patient", "h", v, fmt.Sprintf(`{"v":%d}`, v)), ExpectVersion: v - 1}
				if err := st.Commit(ctx, "p", []fhir.Write{w}, nil); err != nil {
					t.Fatal(err)
				}
			}
			tests := []struct {
				offset, count int
				want          string
			}{
				{0, 2, "5,4"}, {2, 2, "3,2"}, {4, 10, "1"}, {5, 10, ""}, {math.MaxInt, math.MaxInt, ""}, {0, 0, ""}, {-3, 1, "5"},
			}
			for _, tc := range tests {
				got, total, err := st.History(ctx, "p", "Patient", "h", tc.offset, tc.count)
				var vs []string
				for _, r := range got {
					vs = append(vs, fmt.Sprint(r.VersionID))
				}
				if err != nil || total != 5 || strings.Join(vs, ",") != tc.want {
					t.Fatalf("offset %d count %d: %v total %d err %v", tc.offset, tc.count, vs, total, err)
				}
			}
			if _, _, err := st.History(ctx, "p", "Patient", "none", 0, 10); kindOf(err) != discharge.KindNotFound {
				t.Fatalf("absent: %v", err)
			}
			if _, _, err := st.History(ctx, "other", "Patient", "h", 0, 10); kindOf(err) != discharge.KindNotFound {
				t.Fatalf("other partition: %v", err)
			}
		},
		"a failed commit writes nothing": func(t *testing.T, s subject) {
			ctx := context.Background()
			// In the directory, the one partition with a generation.
			const p = fhir.DirectoryPartition
			gen0, _ := s.store.Generation(ctx, p)
			ws := []fhir.Write{
				{Resource: res("Patient", "p", 1, `{}`), Index: []fhir.IndexEntry{tok("identifier", "n|1"), {Param: "birthdate", Low: 1, High: 2, IsRange: true}}},
				{Resource: res("Encounter", "e", 1, `{}`), Index: []fhir.IndexEntry{tok("patient", "Patient/p")}},
				{Resource: res("ServiceRequest", "s", 2, `{}`), ExpectVersion: 1}, // does not exist: fails
			}
			if err := s.store.Commit(ctx, p, ws, nil); kindOf(err) != discharge.KindRetry {
				t.Fatalf("want retry, got %v", err)
			}
			// A failing guard is all-or-nothing too.
			if err := s.store.Commit(ctx, p, []fhir.Write{{Resource: res("Patient", "g", 1, `{}`), Index: []fhir.IndexEntry{tok("identifier", "g|1")}}}, nil); err != nil {
				t.Fatal(err)
			}
			gen1, _ := s.store.Generation(ctx, p)
			if err := s.store.Commit(ctx, p, ws[:2], []fhir.Guard{{Type: "Patient", Param: "identifier", Token: "g|1"}}); kindOf(err) != discharge.KindRetry {
				t.Fatalf("guard: want retry, got %v", err)
			}
			if gen, _ := s.store.Generation(ctx, p); gen != gen1 || gen1 != gen0+1 {
				t.Fatalf("generation %d → %d → %d: failed commits must not count", gen0, gen1, gen)
			}
			for _, w := range ws {
				if _, err := s.store.Read(ctx, p, w.Resource.Type, w.Resource.ID); kindOf(err) != discharge.KindNotFound {
					t.Fatalf("%s written by a failed commit: %v", w.Resource.ID, err)
				}
				if _, err := s.store.ReadVersion(ctx, p, w.Resource.Type, w.Resource.ID, w.Resource.VersionID); kindOf(err) != discharge.KindNotFound {
					t.Fatalf("history of %s written by a failed commit: %v", w.Resource.ID, err)
				}
			}
			lo := 10.0
			for _, f := range []fhir.Filter{{Param: "identifier", AnyOf: []string{"n|1"}}, {Param: "birthdate", Range: &fhir.RangeFilter{LowAtMost: &lo}}} {
				if _, total, err := s.store.Search(ctx, p, fhir.Query{Type: "Patient", Filters: []fhir.Filter{f}}); err != nil || total != 0 {
					t.Fatalf("index written by a failed commit: %d %v", total, err)
				}
			}
			ws[2] = fhir.Write{Resource: res("ServiceRequest", "s", 1, `{}`)}
			if err := s.store.Commit(ctx, p, ws, nil); err != nil {
				t.Fatal(err)
			}
			got, err := s.store.ReadMany(ctx, p, []fhir.Ref{{Type: "Patient", ID: "p"}, {Type: "Encounter", ID: "e"}, {Type: "ServiceRequest", ID: "s"}, {Type: "Patient", ID: "absent"}})
			if err != nil || len(got) != 3 || got["Encounter/e"].VersionID != 1 {
				t.Fatalf("read many: %v %v", got, err)
			}
		},
		"50 racing conditional creates leave one": func(t *testing.T, s subject) {
			ctx := context.Background()
			var won, lost atomic.Int32
			var wg sync.WaitGroup
			guard := []fhir.Guard{{Type: "Patient", Param: "identifier", Token: "nhs|9476719931"}}
			for i := range 50 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					w := fhir.Write{Resource: res("Patient", fmt.Sprintf("id%d", i), 1, `{}`), Index: []fhir.IndexEntry{tok("identifier", "nhs|9476719931")}}
					err := s.store.Commit(ctx, "p", []fhir.Write{w}, guard)
					switch {
					case kindOf(err) == discharge.KindRetry:
						lost.Add(1)
					case err != nil:
						t.Error(err)
					default:
						won.Add(1)
					}
				}()
			}
			wg.Wait()
			_, total, err := s.store.Search(ctx, "p", fhir.Query{Type: "Patient", Filters: []fhir.Filter{{Param: "identifier", AnyOf: []string{"nhs|9476719931"}}}})
			if won.Load() != 1 || lost.Load() != 49 || total != 1 || err != nil {
				t.Fatalf("won %d lost %d total %d err %v", won.Load(), lost.Load(), total, err)
			}
		},
		"the directory's generation counts its commits, and only its": func(t *testing.T, s subject) {
			ctx := context.Background()
			d := fhir.DirectoryPartition
			for i := range 3 {
				w := fhir.Write{Resource: res("Location", fmt.Sprint("l", i), 1, `{}`)}
				if err := s.store.Commit(ctx, d, []fhir.Write{w}, nil); err != nil {
					t.Fatal(err)
				}
			}
			// Commits elsewhere neither count nor keep a counter of their own.
			if err := s.store.Commit(ctx, "p", []fhir.Write{{Resource: res("Location", "l0", 1, `{}`)}}, nil); err != nil {
				t.Fatal(err)
			}
			if gen, err := s.store.Generation(ctx, d); err != nil || gen != 3 {
				t.Fatalf("directory generation %d %v, want 3", gen, err)
			}
			if _, err := s.store.Generation(ctx, "p"); kindOf(err) != discharge.KindInternal {
				t.Fatalf("generation of a patient partition: %v, want internal", err)
			}
		},
		"a guard on a value an update removed holds again": func(t *testing.T, s subject) {
			ctx := context.Background()
			g := []fhir.Guard{{Type: "Patient", Param: "identifier", Token: "n|9"}}
			w := fhir.Write{Resource: res("Patient", "a", 1, `{}`), Index: []fhir.IndexEntry{tok("identifier", "n|9")}}
			if err := s.store.Commit(ctx, "p", []fhir.Write{w}, g); err != nil {
				t.Fatal(err)
			}
			w2 := fhir.Write{Resource: res("Patient", "a", 2, `{}`), ExpectVersion: 1, Index: []fhir.IndexEntry{tok("identifier", "n|10")}}
			if err := s.store.Commit(ctx, "p", []fhir.Write{w2}, nil); err != nil {
				t.Fatal(err)
			}
			// No resource has n|9 now: a conditional create of it is a create.
			b := fhir.Write{Resource: res("Patient", "b", 1, `{}`), Index: []fhir.IndexEntry{tok("identifier", "n|9")}}
			if err := s.store.Commit(ctx, "p", []fhir.Write{b}, g); err != nil {
				t.Fatalf("create after the value was removed: %v", err)
			}
		},
		"a commit of several resources in any order": func(t *testing.T, s subject) {
			ctx := context.Background()
			// Given out of (type, id) order, with one create among updates.
			a1 := fhir.Write{Resource: res("Patient", "z", 1, `{"v":1}`)}
			b1 := fhir.Write{Resource: res("Encounter", "y", 1, `{"v":1}`)}
			if err := s.store.Commit(ctx, "p", []fhir.Write{a1, b1}, nil); err != nil {
				t.Fatal(err)
			}
			a2 := fhir.Write{Resource: res("Patient", "z", 2, `{"v":2}`), ExpectVersion: 1}
			c1 := fhir.Write{Resource: res("Appointment", "x", 1, `{"v":1}`)}
			b2 := fhir.Write{Resource: res("Encounter", "y", 2, `{"v":2}`), ExpectVersion: 1}
			ws := []fhir.Write{a2, c1, b2}
			if err := s.store.Commit(ctx, "p", ws, nil); err != nil {
				t.Fatal(err)
			}
			if ws[0].Resource.ID != "z" || ws[2].Resource.ID != "y" {
				t.Fatal("Commit reordered the caller's writes")
			}
			got, err := s.store.ReadMany(ctx, "p", []fhir.Ref{{Type: "Patient", ID: "z"}, {Type: "Encounter", ID: "y"}, {Type: "Appointment", ID: "x"}})
			if err != nil || got["Patient/z"].VersionID != 2 || got["Encounter/y"].VersionID != 2 || got["Appointment/x"].VersionID != 1 {
				t.Fatalf("read many: %v %v", got, err)
			}
			// Two writes of one resource in one commit fail, whichever
			// versions they expect.
			for _, twice := range [][]fhir.Write{
				{{Resource: res("Patient", "z", 3, `{}`), ExpectVersion: 2}, {Resource: res("Patient", "z", 4, `{}`), ExpectVersion: 3}},
				{{Resource: res("Patient", "z", 4, `{}`), ExpectVersion: 3}, {Resource: res("Patient", "z", 3, `{}`), ExpectVersion: 2}},
				{{Resource: res("Patient", "n", 1, `{}`)}, {Resource: res("Patient", "n", 1, `{}`)}},
			} {
				if err := s.store.Commit(ctx, "p", twice, nil); kindOf(err) != discharge.KindRetry {
					t.Fatalf("two writes of one resource: %v", err)
				}
			}
			if r, err := s.store.Read(ctx, "p", "Patient", "z"); err != nil || r.VersionID != 2 {
				t.Fatalf("after the refused commits: %+v %v", r, err)
			}
			// A create of a resource that exists fails the whole commit.
			dup := []fhir.Write{{Resource: res("Patient", "w", 1, `{}`)}, {Resource: res("Appointment", "x", 1, `{}`)}}
			if err := s.store.Commit(ctx, "p", dup, nil); kindOf(err) != discharge.KindRetry {
				t.Fatalf("create of an existing resource: %v", err)
			}
			if _, err := s.store.Read(ctx, "p", "Patient", "w"); kindOf(err) != discharge.KindNotFound {
				t.Fatalf("a failed commit wrote w: %v", err)
			}
		},
		"equal guards in one commit": func(t *testing.T, s subject) {
			ctx := context.Background()
			g := fhir.Guard{Type: "Patient", Param: "identifier", Token: "n|7"}
			one := fhir.Write{Resource: res("Patient", "one", 1, `{}`), Index: []fhir.IndexEntry{tok("identifier", "n|7")}}
			// The same condition twice over one create holds.
			if err := s.store.Commit(ctx, "p", []fhir.Write{one}, []fhir.Guard{g, g}); err != nil {
				t.Fatal(err)
			}
			// And now fails: the value exists.
			again := fhir.Write{Resource: res("Patient", "again", 1, `{}`), Index: []fhir.IndexEntry{tok("identifier", "n|7")}}
			if err := s.store.Commit(ctx, "p", []fhir.Write{again}, []fhir.Guard{g}); kindOf(err) != discharge.KindRetry {
				t.Fatalf("existing value: %v", err)
			}
			// A guard on another type or parameter is another condition.
			other := fhir.Write{Resource: res("Practitioner", "pr", 1, `{}`), Index: []fhir.IndexEntry{tok("identifier", "n|7")}}
			if err := s.store.Commit(ctx, "p", []fhir.Write{other}, []fhir.Guard{{Type: "Practitioner", Param: "identifier", Token: "n|7"}}); err != nil {
				t.Fatal(err)
			}
		},
		"two creates of one guarded value in one commit": func(t *testing.T, s subject) {
			st := s.sql
			ctx := context.Background()
			g := fhir.Guard{Type: "Patient", Param: "identifier", Token: "n|8"}
			a := fhir.Write{Resource: res("Patient", "a", 1, `{}`), Index: []fhir.IndexEntry{tok("identifier", "n|8")}}
			b := fhir.Write{Resource: res("Patient", "b", 1, `{}`), Index: []fhir.IndexEntry{tok("identifier", "n|8"), tok("identifier", "n|8")}}
			if err := st.Commit(ctx, "p", []fhir.Write{a, b}, []fhir.Guard{g, g}); kindOf(err) != discharge.KindRetry {
				t.Fatalf("want retry, got %v", err)
			}
			if _, total, err := st.Search(ctx, "p", fhir.Query{Type: "Patient"}); total != 0 || err != nil {
				t.Fatalf("wrote %d resources: %v", total, err)
			}
			// Without the guard the same commit is fine (identifiers need
			// not be unique).
			if err := st.Commit(ctx, "p", []fhir.Write{a, b}, nil); err != nil {
				t.Fatal(err)
			}
		},
		"empty inputs": func(t *testing.T, s subject) {
			ctx := context.Background()
			gen0, err := s.store.Generation(ctx, fhir.DirectoryPartition)
			if err != nil || gen0 != 0 {
				t.Fatalf("generation of a new directory: %d %v", gen0, err)
			}
			for _, p := range []string{"empty", fhir.DirectoryPartition} {
				if err := s.store.Commit(ctx, p, nil, nil); err != nil {
					t.Fatalf("empty commit: %v", err)
				}
			}
			if gen, err := s.store.Generation(ctx, fhir.DirectoryPartition); err != nil || gen != gen0 {
				t.Fatalf("an empty commit moved the generation: %d %v", gen, err)
			}
			got, err := s.store.ReadMany(ctx, "empty", nil)
			if err != nil || got == nil || len(got) != 0 {
				t.Fatalf("empty read many: %v %v", got, err)
			}
			if err := s.store.Commit(ctx, "empty", []fhir.Write{{Resource: res("Patient", "a", 1, `{}`)}}, nil); err != nil {
				t.Fatal(err)
			}
			for name, q := range map[string]fhir.Query{
				"no filters":         {Type: "Patient", Count: 10},
				"count only":         {Type: "Patient"},
				"empty AnyOf":        {Type: "Patient", Filters: []fhir.Filter{{Param: "identifier"}}, Count: 10},
				"empty _id":          {Type: "Patient", Filters: []fhir.Filter{{Param: "_id"}}, Count: 10},
				"range without ends": {Type: "Patient", Filters: []fhir.Filter{{Param: "birthdate", Range: &fhir.RangeFilter{}}}, Count: 10},
				"unknown type":       {Type: "Nothing", Count: 10},
			} {
				page, total, err := s.store.Search(ctx, "empty", q)
				want := map[string]int{"no filters": 1, "count only": 1, "range without ends": 1}[name]
				wantPage := want
				if q.Count == 0 {
					wantPage = 0
				}
				if err != nil || total != want || len(page) != wantPage {
					t.Errorf("%s: %d results, total %d, err %v; want total %d", name, len(page), total, err, want)
				}
			}
		},
		"search: tokens, ranges, ids, order and paging": func(t *testing.T, s subject) {
			ctx := context.Background()
			day := func(d int) float64 { return float64(time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC).Unix()) }
			var ws []fhir.Write
			for i := 1; i <= 9; i++ {
				status := "finished"
				if i%3 == 0 {
					status = "in-progress"
				}
				hi := day(i) + 3600
				if i == 9 {
					hi = math.Inf(1) // still open
				}
				ws = append(ws, fhir.Write{Resource: res("Encounter", fmt.Sprintf("e%d", i), 1, fmt.Sprintf(`{"n":%d}`, i)),
					Index: []fhir.IndexEntry{tok("status", status), tok("patient", "Patient/"+map[bool]string{true: "a", false: "b"}[i <= 5]),
						{Param: "date", Low: day(i), High: hi, IsRange: true}}})
			}
			// Byte order puts upper case before lower case whatever the
			// database's collation.
			ws = append(ws, fhir.Write{Resource: res("Encounter", "Z", 1, `{}`)}, fhir.Write{Resource: res("Encounter", "a", 1, `{}`)})
			if err := s.store.Commit(ctx, "p", ws, nil); err != nil {
				t.Fatal(err)
			}
			f := func(v float64) *float64 { return &v }
			tests := []struct {
				name    string
				filters []fhir.Filter
				want    string
			}{
				{"all", nil, "Z,a,e1,e2,e3,e4,e5,e6,e7,e8,e9"},
				{"status", []fhir.Filter{{Param: "status", AnyOf: []string{"in-progress"}}}, "e3,e6,e9"},
				{"or", []fhir.Filter{{Param: "status", AnyOf: []string{"in-progress", "nope"}}}, "e3,e6,e9"},
				{"and", []fhir.Filter{{Param: "status", AnyOf: []string{"finished"}}, {Param: "patient", AnyOf: []string{"Patient/a"}}}, "e1,e2,e4,e5"},
				{"on or after day 8", []fhir.Filter{{Param: "date", Range: &fhir.RangeFilter{HighAtLeast: f(day(8))}}}, "e8,e9"},
				{"before day 3", []fhir.Filter{{Param: "date", Range: &fhir.RangeFilter{LowAtMost: f(day(3) - 1)}}}, "e1,e2"},
				{"open end overlaps the future", []fhir.Filter{{Param: "date", Range: &fhir.RangeFilter{LowAtMost: f(day(30)), HighAtLeast: f(day(29))}}}, "e9"},
				{"open end is +inf", []fhir.Filter{{Param: "date", Range: &fhir.RangeFilter{HighAtLeast: f(math.Inf(1))}}}, "e9"},
				{"no match", []fhir.Filter{{Param: "status", AnyOf: []string{"cancelled"}}}, ""},
				{"_id", []fhir.Filter{{Param: "_id", AnyOf: []string{"e2", "e7", "nope"}}}, "e2,e7"},
				{"_id and token", []fhir.Filter{{Param: "_id", AnyOf: []string{"e2", "e3"}}, {Param: "status", AnyOf: []string{"in-progress"}}}, "e3"},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					got, total, err := s.store.Search(ctx, "p", fhir.Query{Type: "Encounter", Filters: tc.filters, Count: 100})
					if err != nil || ids(got) != tc.want || total != len(got) {
						t.Fatalf("got %v (total %d, err %v), want %s", ids(got), total, err, tc.want)
					}
				})
			}
			pages := []struct {
				offset, count int
				want          string
			}{
				{6, 3, "e5,e6,e7"}, {9, 5, "e8,e9"}, {11, 5, ""}, {1000, 5, ""}, {math.MaxInt, 5, ""},
				{0, math.MaxInt, "Z,a,e1,e2,e3,e4,e5,e6,e7,e8,e9"}, {math.MaxInt, math.MaxInt, ""}, {-5, 2, "Z,a"},
			}
			for _, pg := range pages {
				page, total, err := s.store.Search(ctx, "p", fhir.Query{Type: "Encounter", Offset: pg.offset, Count: pg.count})
				if err != nil || total != 11 || ids(page) != pg.want {
					t.Fatalf("offset %d count %d: %v total %d err %v", pg.offset, pg.count, ids(page), total, err)
				}
			}
			page, _, _ := s.store.Search(ctx, "p", fhir.Query{Type: "Encounter", Offset: 6, Count: 1})
			if len(page) != 1 || string(page[0].JSON) != `{"n":5}` || page[0].VersionID != 1 || page[0].Type != "Encounter" || !page[0].LastUpdated.Equal(ws[0].Resource.LastUpdated) {
				t.Fatalf("page resource: %+v", page)
			}
		},
		"an update replaces the index": func(t *testing.T, s subject) {
			ctx := context.Background()
			w1 := fhir.Write{Resource: res("Patient", "u", 1, `{}`), Index: []fhir.IndexEntry{tok("name", "old"), {Param: "birthdate", Low: 10, High: 20, IsRange: true}}}
			w2 := fhir.Write{Resource: res("Patient", "u", 2, `{}`), ExpectVersion: 1, Index: []fhir.IndexEntry{tok("name", "new"), {Param: "birthdate", Low: 100, High: 200, IsRange: true}}}
			for _, w := range []fhir.Write{w1, w2} {
				if err := s.store.Commit(ctx, "p", []fhir.Write{w}, nil); err != nil {
					t.Fatal(err)
				}
			}
			f := func(v float64) *float64 { return &v }
			for name, tc := range map[string]struct {
				f    fhir.Filter
				want int
			}{
				"old token":  {fhir.Filter{Param: "name", AnyOf: []string{"old"}}, 0},
				"new token":  {fhir.Filter{Param: "name", AnyOf: []string{"new"}}, 1},
				"old range":  {fhir.Filter{Param: "birthdate", Range: &fhir.RangeFilter{LowAtMost: f(50)}}, 0},
				"new range":  {fhir.Filter{Param: "birthdate", Range: &fhir.RangeFilter{LowAtMost: f(150), HighAtLeast: f(150)}}, 1},
				"range hull": {fhir.Filter{Param: "birthdate", Range: &fhir.RangeFilter{HighAtLeast: f(200)}}, 1},
			} {
				if _, total, err := s.store.Search(ctx, "p", fhir.Query{Type: "Patient", Filters: []fhir.Filter{tc.f}}); err != nil || total != tc.want {
					t.Errorf("%s: total %d err %v, want %d", name, total, err, tc.want)
				}
			}
		},
		"partitions are isolated": func(t *testing.T, s subject) {
			ctx := context.Background()
			w := fhir.Write{Resource: res("Patient", "a", 1, `{}`), Index: []fhir.IndexEntry{tok("identifier", "x|1")}}
			if err := s.store.Commit(ctx, "A", []fhir.Write{w}, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := s.store.Read(ctx, "B", "Patient", "a"); kindOf(err) != discharge.KindNotFound {
				t.Fatalf("read: %v", err)
			}
			if _, err := s.store.ReadVersion(ctx, "B", "Patient", "a", 1); kindOf(err) != discharge.KindNotFound {
				t.Fatalf("vread: %v", err)
			}
			if got, err := s.store.ReadMany(ctx, "B", []fhir.Ref{{Type: "Patient", ID: "a"}}); err != nil || len(got) != 0 {
				t.Fatalf("read many: %v %v", got, err)
			}
			if _, total, err := s.store.Search(ctx, "B", fhir.Query{Type: "Patient", Filters: []fhir.Filter{{Param: "identifier", AnyOf: []string{"x|1"}}}}); err != nil || total != 0 {
				t.Fatalf("search: %d %v", total, err)
			}
			// The same id in B is another resource, and a guard in B does
			// not see A's value.
			if err := s.store.Commit(ctx, "B", []fhir.Write{w}, []fhir.Guard{{Type: "Patient", Param: "identifier", Token: "x|1"}}); err != nil {
				t.Fatal(err)
			}
		},
		"read many, large commits": func(t *testing.T, s subject) {
			ctx := context.Background()
			var ws []fhir.Write
			var refs []fhir.Ref
			for i := range 1200 { // over one multi-row INSERT's chunk
				ws = append(ws, fhir.Write{Resource: res("Location", fmt.Sprintf("l%04d", i), 1, fmt.Sprintf(`{"i":%d}`, i)),
					Index: []fhir.IndexEntry{tok("type", "ward"), tok("name", fmt.Sprint(i))}})
				refs = append(refs, fhir.Ref{Type: "Location", ID: fmt.Sprintf("l%04d", i)})
			}
			if err := s.store.Commit(ctx, "p", ws, nil); err != nil {
				t.Fatal(err)
			}
			refs = append(refs, fhir.Ref{Type: "Location", ID: "absent"}, fhir.Ref{Type: "Patient", ID: "l0001"})
			got, err := s.store.ReadMany(ctx, "p", refs)
			if err != nil || len(got) != 1200 || string(got["Location/l0777"].JSON) != `{"i":777}` {
				t.Fatalf("read many: %d %v", len(got), err)
			}
			if _, total, err := s.store.Search(ctx, "p", fhir.Query{Type: "Location", Filters: []fhir.Filter{{Param: "type", AnyOf: []string{"ward"}}}}); err != nil || total != 1200 {
				t.Fatalf("search: %d %v", total, err)
			}
			for i := range ws {
				ws[i].ExpectVersion, ws[i].Resource.VersionID = 1, 2
				ws[i].Index = []fhir.IndexEntry{tok("type", "bay")}
			}
			if err := s.store.Commit(ctx, "p", ws, nil); err != nil {
				t.Fatal(err)
			}
			if _, total, err := s.store.Search(ctx, "p", fhir.Query{Type: "Location", Filters: []fhir.Filter{{Param: "type", AnyOf: []string{"ward"}}}}); err != nil || total != 0 {
				t.Fatalf("old index after a large update: %d %v", total, err)
			}
		},
		"ping": func(t *testing.T, s subject) {
			if err := s.store.Ping(context.Background()); err != nil {
				t.Fatal(err)
			}
		},
		"an expired context is a timeout": func(t *testing.T, s subject) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := s.store.Read(ctx, "p", "Patient", "a"); kindOf(err) != discharge.KindTimeout {
				t.Fatalf("read: %v", err)
			}
			w := fhir.Write{Resource: res("Patient", "a", 1, `{"v":1}`)}
			if err := s.store.Commit(ctx, "p", []fhir.Write{w}, nil); kindOf(err) != discharge.KindTimeout {
				t.Fatalf("commit: %v", err)
			}
		},
		"audit: record, search, page": func(t *testing.T, s subject) {
			st := s.sql
			ctx := context.Background()
			a := sqlstore.NewAudit(st)
			now := time.Now().UTC().Truncate(time.Millisecond)
			for i, id := range []string{"p1", "p2", "p1", "p3"} {
				if err := a.Record(ctx, auth.AuditEntry{Time: now.Add(time.Duration(i) * time.Millisecond), ClientID: "c" + fmt.Sprint(i%2), Org: "RXA",
					Role: auth.Role("clinician"), Action: "R", Interaction: "read", ResourceType: "Patient", ResourceID: id, Status: 200, RequestID: fmt.Sprint("r", i)}); err != nil {
					t.Fatal(err)
				}
			}
			reqs := func(es []auth.AuditEntry) string {
				var out []string
				for _, e := range es {
					out = append(out, e.RequestID)
				}
				return strings.Join(out, ",")
			}
			tests := []struct {
				name   string
				q      auth.AuditQuery
				offset int
				want   string
				total  int
			}{
				{"all newest first", auth.AuditQuery{}, 0, "r3,r2,r1,r0", 4},
				{"entity", auth.AuditQuery{Entity: "Patient/p1"}, 0, "r2,r0", 2},
				{"entity URL", auth.AuditQuery{Entity: "https://x.example/fhir/Patient/p1"}, 0, "r2,r0", 2},
				{"entity type", auth.AuditQuery{Entity: "Patient"}, 0, "r3,r2,r1,r0", 4},
				{"agent client", auth.AuditQuery{Agent: "c1"}, 0, "r3,r1", 2},
				{"agent org", auth.AuditQuery{Agent: "RXA"}, 0, "r3,r2,r1,r0", 4},
				{"from", auth.AuditQuery{From: now.Add(2 * time.Millisecond)}, 0, "r3,r2", 2},
				{"to", auth.AuditQuery{To: now.Add(time.Millisecond)}, 0, "r1,r0", 2},
				{"future", auth.AuditQuery{From: now.Add(time.Hour)}, 0, "", 0},
				{"paged", auth.AuditQuery{Count: 2}, 2, "r1,r0", 4},
				{"total only", auth.AuditQuery{Count: -1}, 0, "", 4},
				{"past the end", auth.AuditQuery{Count: 2}, math.MaxInt, "", 4},
			}
			for _, tc := range tests {
				q := tc.q
				q.Offset = tc.offset
				switch q.Count {
				case 0:
					q.Count = 100
				case -1:
					q.Count = 0 // the total only
				}
				pg, err := a.Search(ctx, q)
				got, total := pg.Entries, pg.Total
				if err != nil || reqs(got) != tc.want || total != tc.total {
					t.Errorf("%s: %s total %d err %v; want %s total %d", tc.name, reqs(got), total, err, tc.want, tc.total)
				}
			}
			pg, err := a.Search(ctx, auth.AuditQuery{Entity: "Patient/p2", Count: 10})
			got := pg.Entries
			if err != nil || len(got) != 1 || got[0].ID == "" || !got[0].Time.Equal(now.Add(time.Millisecond)) || got[0].Role != "clinician" || got[0].Status != 200 || got[0].Org != "RXA" {
				t.Fatalf("entry: %+v %v", got, err)
			}
		},
	})
}
