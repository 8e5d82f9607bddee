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
	"github.com/dischargegateway/gateway/internal/pgtest"
	"github.com/dischargegateway/gateway/internal/redistest"
	"github.com/dischargegateway/gateway/mappings"
)

// gatewayProcess is what one gateway process holds of the posting path:
// its own handle on the shared record and Redis, its own directory service
// (with its own ownership cache) and capacity service.
type gatewayProcess struct {
	dir *directory.Service
	svc *capacity.Service
}

func newGatewayProcess(t *testing.T, databaseURL, dataDir, redisURL string, geo *geocode.Table) gatewayProcess {
	t.Helper()
	ctx := context.Background()
	rec, err := sqlstore.Open(ctx, databaseURL, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rec.Close() })
	rc, err := rediscache.Open(ctx, rediscache.Config{URL: redisURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	cache := rediscache.NewCapacityStore(rc.Client)
	dir := directory.New(rec, cache, geo, nil, log, nil)
	svc := capacity.New(capacity.NewRecorded(sqlstore.NewCapacity(rec), cache, log), geo, dir, nil, discharge.DefaultFreshness, nil)
	return gatewayProcess{dir: dir, svc: svc}
}

func careProvider(org string) *auth.Principal {
	return &auth.Principal{ClientID: "home-" + org, Org: org, OrgSystem: mappings.CQCProviderSystem, Role: auth.RoleCareProvider}
}

// TestOwnershipChangeThroughAnotherProcess: a Location handed to another
// provider through a second gateway process on the same record and Redis
// is refused to its old owner at the first process's next posting, though
// that process had just let the old owner post (and cached the answer).
func TestOwnershipChangeThroughAnotherProcess(t *testing.T) {
	geo, err := geocode.LoadFiles(filepath.Join("..", "configs", "geo", "uk-outcode-centroids.csv"), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			var url, dataDir string
			if engine == "postgres" {
				_, url = pgtest.Start(t).NewDatabase(t)
			} else {
				dataDir = t.TempDir()
			}
			redis := redistest.Start(t)
			a := newGatewayProcess(t, url, dataDir, redis.URL(), geo)
			b := newGatewayProcess(t, url, dataDir, redis.URL(), geo)

			const p1, p2 = "1-1010001", "1-1020002" // CQC provider ids
			listing := func(provider string) discharge.Listing {
				return discharge.Listing{Row: 2, Name: "Oak House", ProviderID: provider, LocationID: "1-1000001", Postcode: "M14 6AB",
					Services: []discharge.CareSetting{discharge.CareSetting("nursing")}}
			}
			if _, err := b.dir.Import(ctx, []discharge.Listing{listing(p1)}, ""); err != nil {
				t.Fatal(err)
			}
			locID := "cqc-1-1000001"
			asOf := time.Now().Add(-time.Hour).Truncate(time.Second)
			post := func(org string) error {
				asOf = asOf.Add(time.Second)
				_, err := a.svc.Post(ctx, careProvider(org), discharge.Capacity{LocationID: locID, AsOf: asOf, Beds: beds(2)}, nil)
				return err
			}
			// Twice: the second is answered from process a's cache.
			for i := range 2 {
				if err := post(p1); err != nil {
					t.Fatalf("posting %d by the owner: %v", i+1, err)
				}
			}
			if err := post(p2); discharge.ErrorKind(err) != discharge.KindForbidden {
				t.Fatalf("posting by another provider: %v, want forbidden", err)
			}

			// Process b hands the Location to P2.
			if rep, err := b.dir.Import(ctx, []discharge.Listing{listing(p2)}, ""); err != nil || rep.Updated != 1 {
				t.Fatalf("moving the Location to P2: %+v %v", rep, err)
			}
			if err := post(p1); discharge.ErrorKind(err) != discharge.KindForbidden {
				t.Fatalf("posting by the old owner after the change: %v, want forbidden", err)
			}
			if err := post(p2); err != nil {
				t.Fatalf("posting by the new owner: %v", err)
			}
		})
	}
}
