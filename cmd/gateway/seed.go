package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/dischargegateway/gateway/adapters/geocode"
	"github.com/dischargegateway/gateway/adapters/synthetic"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/internal/wiring"
)

// seedCommand is `gateway seed [--providers N] [--seed S] [--cases N]
// [--case-trusts RXA,RXB]`: synthetic England (directory entries and
// current capacity) and synthetic inpatient stays for the sitrep loaded
// into the record
// (DATABASE_URL's, else the embedded SQLite file, which the next `gateway
// serve` reads and rebuilds its cache from), and into REDIS_URL's cache.
func seedCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	n := fs.Int("providers", 1000, "how many synthetic care locations")
	seed := fs.Uint64("seed", 1, "random seed: the same seed gives the same world")
	ncases := fs.Int("cases", 300, "how many synthetic inpatient stays, over the last three weeks, for the sitrep")
	caseTrusts := fs.String("case-trusts", "RXA,RXB", "the trusts (ODS codes, comma-separated) the synthetic stays belong to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	geo, err := geocode.LoadFiles(cfg.OutcodesCSV, cfg.PostcodesCSV)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	st, err := openStores(ctx, cfg, log, wiring.BulkRedisTimeout)
	if err != nil {
		return err
	}
	defer st.Close()
	start := time.Now()
	listings, caps := synthetic.Providers(*n, synthetic.England(geo), time.Now(), *seed)
	rep, err := st.LoadWorld(ctx, geo, log, listings, caps)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seeded %d synthetic locations (%d created, %d updated, %d unchanged) with capacity in %s\n",
		len(listings), rep.Created, rep.Updated, rep.Unchanged, time.Since(start).Round(time.Millisecond))
	if err := seedVirtualWardsAndSay(ctx, st, geo, stdout); err != nil { // seed_virtualwards.go
		return err
	}
	if *ncases > 0 {
		start = time.Now()
		created, err := seedCasesWithForecast(ctx, st.Record, listings, synthetic.Cases(*ncases, strings.Split(*caseTrusts, ","), time.Now(), *seed), *seed)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "seeded %d synthetic inpatient stays (%d already there) for the sitrep in %s\n",
			created, *ncases-created, time.Since(start).Round(time.Millisecond))
		n, err := seedUnmetDemand(ctx, st.Record, strings.Split(*caseTrusts, ","), *ncases/5, time.Now(), *seed)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "seeded %d synthetic unmet placement searches by district\n", n)
	}
	return nil
}

// seedCases stores the synthetic stays that are not there yet (a second
// seed leaves them as they are), each as version 1 with its search index,
// so the sitrep's counters are kept by the same triggers as any write.
func seedCases(ctx context.Context, rec fhir.Store, cs []synthetic.Case) (int, error) {
	now := time.Now().UTC()
	created := 0
	for _, c := range cs {
		if _, err := rec.Read(ctx, c.Trust, "Encounter", c.ID); err == nil {
			continue
		} else if discharge.ErrorKind(err) != discharge.KindNotFound {
			return created, err
		}
		var doc map[string]any
		if err := json.Unmarshal(c.Encounter, &doc); err != nil {
			return created, err
		}
		doc["meta"] = map[string]any{"versionId": "1", "lastUpdated": now.Format(time.RFC3339Nano)}
		body, err := json.Marshal(doc)
		if err != nil {
			return created, err
		}
		w := fhir.Write{Resource: fhir.Resource{Type: "Encounter", ID: c.ID, VersionID: 1, LastUpdated: now, JSON: body},
			Index: fhir.IndexEntries("Encounter", doc)}
		if err := rec.Commit(ctx, c.Trust, []fhir.Write{w}, nil); err != nil {
			return created, err
		}
		created++
	}
	return created, nil
}
