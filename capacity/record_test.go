package capacity_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/geocode"
	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/capacity"
	"github.com/dischargegateway/gateway/directory"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/internal/sqlitetest"
)

// recordedWorld is a capacity service on real stores: the record in an
// SQLite file, the cache in an embedded Redis, and one directory Location
// (L1, in Manchester) in the record.
type recordedWorld struct {
	sql     *sqlstore.Store
	record  *sqlstore.Capacity
	redis   *rediscache.Conn
	cache   *rediscache.CapacityStore
	svc     *capacity.Service
	rebuild func(cache capacity.Cache) *capacity.Rebuilder
	now     time.Time
}

func newRecordedWorld(t *testing.T) *recordedWorld {
	t.Helper()
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, "", sqlitetest.Dir(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	rc, err := rediscache.Open(ctx, rediscache.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	geo, err := geocode.LoadFiles(filepath.Join("..", "configs", "geo", "uk-outcode-centroids.csv"), "")
	if err != nil {
		t.Fatal(err)
	}
	loc := `{"resourceType":"Location","id":"L1","position":{"latitude":53.45,"longitude":-2.22},"address":{"postalCode":"M14 6AB"}}`
	if err := s.Commit(ctx, directory.Partition, []fhir.Write{{Resource: fhir.Resource{Type: "Location", ID: "L1", VersionID: 1,
		LastUpdated: time.Now(), JSON: []byte(loc)}}}, nil); err != nil {
		t.Fatal(err)
	}
	w := &recordedWorld{sql: s, record: sqlstore.NewCapacity(s), redis: rc, cache: rediscache.NewCapacityStore(rc.Client),
		now: time.Now().Truncate(time.Millisecond)}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	dir := directory.New(s, w.cache, geo, nil, log, nil)
	w.svc = capacity.New(capacity.NewRecorded(w.record, w.cache, log), geo, placedAt{dir}, nil, discharge.DefaultFreshness, nil)
	w.rebuild = func(cache capacity.Cache) *capacity.Rebuilder {
		return &capacity.Rebuilder{Record: w.record, Cache: cache, Directory: s, Places: dir}
	}
	return w
}

// placedAt lets P1 post for L1, placed where the directory says.
type placedAt struct{ dir *directory.Service }

func (p placedAt) OwnLocation(_ context.Context, pr *auth.Principal, id string) (directory.Place, error) {
	if id != "L1" || pr.Org != "P1" {
		return directory.Place{}, discharge.E(discharge.KindNotFound, "locationId", "no such location")
	}
	pos, area := p.dir.Place(&discharge.Position{Lat: 53.45, Lon: -2.22}, "M14 6AB")
	return directory.Place{Position: pos, Area: area}, nil
}

var provider = &auth.Principal{Org: "P1", Role: auth.RoleCareProvider}

func beds(free int) []discharge.BedCapacity {
	return []discharge.BedCapacity{{Type: discharge.BedNursing, MaxCapacity: 10, Occupied: 10 - free, AcceptingAdmissions: free}}
}

func latest(t *testing.T, rec capacity.Record) map[string]discharge.Capacity {
	t.Helper()
	out := map[string]discharge.Capacity{}
	if err := rec.EachLatest(context.Background(), func(c discharge.Capacity) error { out[c.LocationID] = c; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPostRecordsBeforeCaching: a posting is in the record and in the
// cache; an older one changes neither.
func TestPostRecordsBeforeCaching(t *testing.T) {
	ctx := context.Background()
	w := newRecordedWorld(t)
	got, err := w.svc.Post(ctx, provider, discharge.Capacity{LocationID: "L1", AsOf: w.now, Beds: beds(3)}, nil)
	if err != nil || !got.Applied {
		t.Fatalf("%+v %v", got, err)
	}
	if r := latest(t, w.record)["L1"]; r.Beds[0].AcceptingAdmissions != 3 || !r.AsOf.Equal(w.now) {
		t.Fatalf("record holds %+v", r)
	}
	if v, err := w.svc.Get(ctx, "L1"); err != nil || v.Beds[0].AcceptingAdmissions != 3 {
		t.Fatalf("cache holds %+v %v", v, err)
	}
	got, err = w.svc.Post(ctx, provider, discharge.Capacity{LocationID: "L1", AsOf: w.now.Add(-time.Hour), Beds: beds(9)}, nil)
	if err != nil || got.Applied || got.Beds[0].AcceptingAdmissions != 3 {
		t.Fatalf("older posting: %+v %v", got, err)
	}
	if r := latest(t, w.record)["L1"]; r.Beds[0].AcceptingAdmissions != 3 || r.Version != 1 {
		t.Fatalf("record after an older posting: %+v", r)
	}
}

// TestPostSurvivesACacheFailure: with the cache gone after the record
// committed, the posting is acknowledged (the record keeps it), and a
// rebuild into a fresh cache brings it and the Location index back.
func TestPostSurvivesACacheFailure(t *testing.T) {
	ctx := context.Background()
	w := newRecordedWorld(t)
	w.redis.Close() // the cache is unreachable from here on
	got, err := w.svc.Post(ctx, provider, discharge.Capacity{LocationID: "L1", AsOf: w.now, Beds: beds(4)}, nil)
	if err != nil || !got.Applied {
		t.Fatalf("a posting the record kept was refused: %+v %v", got, err)
	}
	if _, ok := latest(t, w.record)["L1"]; !ok {
		t.Fatal("not recorded")
	}

	// A fresh, empty cache (a flushed Redis, the embedded one restarted).
	rc, err := rediscache.Open(ctx, rediscache.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	fresh := rediscache.NewCapacityStore(rc.Client)
	if have, _ := fresh.Get(ctx, "L1"); len(have) != 0 {
		t.Fatal("fresh cache not empty")
	}
	b := w.rebuild(fresh)
	rep, err := b.Rebuild(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Postings != 1 || rep.Cached != 1 || rep.Locations != 1 {
		t.Fatalf("rebuild: %+v", rep)
	}
	have, err := fresh.Get(ctx, "L1")
	if err != nil || have["L1"].Beds[0].AcceptingAdmissions != 4 {
		t.Fatalf("after rebuild: %+v %v", have, err)
	}
	near, err := fresh.Near(ctx, []string{"M"}, []discharge.BedType{discharge.BedNursing}, 53.45, -2.22, 5, 10)
	if err != nil || len(near) != 1 || near[0].LocationID != "L1" {
		t.Fatalf("capacity geo index after rebuild: %+v %v", near, err)
	}
	locs, err := fresh.NearLocations(ctx, []string{"M"}, 53.45, -2.22, 5, 10)
	if err != nil || len(locs) != 1 {
		t.Fatalf("Location geo index after rebuild: %+v %v", locs, err)
	}
	// A cache that is current needs nothing.
	if rep, err := b.Rebuild(ctx, false); err != nil || rep.Cached != 0 || rep.Locations != 0 {
		t.Fatalf("second rebuild: %+v %v", rep, err)
	}
}

// TestPostFailsWhenTheRecordDoes: no record, no acknowledgement, and
// nothing cached that the record does not hold.
func TestPostFailsWhenTheRecordDoes(t *testing.T) {
	ctx := context.Background()
	w := newRecordedWorld(t)
	w.sql.Close()
	_, err := w.svc.Post(ctx, provider, discharge.Capacity{LocationID: "L1", AsOf: w.now, Beds: beds(4)}, nil)
	if err == nil {
		t.Fatal("acknowledged without the record")
	}
	if have, _ := w.cache.Get(ctx, "L1"); len(have) != 0 {
		t.Fatalf("cached without the record: %+v", have)
	}
}

// TestHistoryAndVersionsOutliveTheCache: a location's history and its
// postings' versions are the record's. After the cache is lost and
// rebuilt, the history still holds every posting, and the current posting
// reads at the version it was answered with, not a version the new cache
// counted from 1. A cache holding the latest posting at another version
// (one written before versions were the record's) is brought to the
// record's by a rebuild.
func TestHistoryAndVersionsOutliveTheCache(t *testing.T) {
	ctx := context.Background()
	w := newRecordedWorld(t)
	var answered []int64
	for i := range 3 {
		got, err := w.svc.Post(ctx, provider, discharge.Capacity{LocationID: "L1", AsOf: w.now.Add(time.Duration(i-3) * time.Minute), Beds: beds(i)}, nil)
		if err != nil || !got.Applied {
			t.Fatalf("%+v %v", got, err)
		}
		answered = append(answered, got.Version)
	}
	if answered[0] != 1 || answered[1] != 2 || answered[2] != 3 {
		t.Fatalf("answered versions %v, want the record's 1, 2, 3", answered)
	}
	history := func() []int64 {
		t.Helper()
		page, total, err := w.svc.History(ctx, "L1", 0, 10)
		if err != nil || total != 3 || len(page) != 3 {
			t.Fatalf("history %+v total %d %v", page, total, err)
		}
		vs := make([]int64, len(page))
		for i, v := range page {
			vs[i] = v.Version
		}
		return vs
	}
	if vs := history(); vs[0] != 3 || vs[2] != 1 {
		t.Fatalf("history versions %v", vs)
	}

	// The cache is lost: a fresh one, rebuilt from the record.
	w.redis.Close()
	rc, err := rediscache.Open(ctx, rediscache.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	fresh := rediscache.NewCapacityStore(rc.Client)
	if _, err := w.rebuild(fresh).Rebuild(ctx, false); err != nil {
		t.Fatal(err)
	}
	if have, err := fresh.Get(ctx, "L1"); err != nil || have["L1"].Version != 3 || have["L1"].Beds[0].AcceptingAdmissions != 2 {
		t.Fatalf("rebuilt cache holds %+v %v, want version 3", have, err)
	}
	if vs := history(); vs[0] != 3 || vs[1] != 2 || vs[2] != 1 {
		t.Fatalf("history after the cache was lost: %v", vs)
	}

	// Another cache holds the latest posting at its own version 1.
	rc2, err := rediscache.Open(ctx, rediscache.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc2.Close()
	other := rediscache.NewCapacityStore(rc2.Client)
	last := latest(t, w.record)["L1"]
	last.Version = 0
	if cur, _, err := other.Put(ctx, last, nil, ""); err != nil || cur.Version != 1 {
		t.Fatalf("%+v %v", cur, err)
	}
	rep, err := w.rebuild(other).Rebuild(ctx, false)
	if err != nil || rep.Cached != 1 {
		t.Fatalf("rebuild over another version: %+v %v", rep, err)
	}
	if have, err := other.Get(ctx, "L1"); err != nil || have["L1"].Version != 3 {
		t.Fatalf("after the rebuild: %+v %v", have, err)
	}
}
