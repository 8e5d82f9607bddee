package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"github.com/dischargegateway/gateway/adapters/demoworld"
	"github.com/dischargegateway/gateway/adapters/geocode"
	"github.com/dischargegateway/gateway/capacity"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/gateway"
)

// defaultDemoWorld is GATEWAY_DEMO_WORLD's default, relative to the
// repository root where `go run ./cmd/gateway` runs.
const defaultDemoWorld = "configs/demo-world/gm-care-homes.csv"

// loadWorld imports listings and posts their capacity the way an operator's
// import and the providers' postings would: through the directory import
// (idempotent, by the listings' ids) and the capacity store, which records
// each posting before caching it. caps[i] is listings[i]'s; a capacity
// with neither beds nor home care is not posted.
func loadWorld(ctx context.Context, srv *gateway.Server, capStore capacity.Store, geo *geocode.Table,
	listings []discharge.Listing, caps []discharge.Capacity) (gateway.ImportReport, error) {
	rep, err := srv.ImportDirectory(ctx, listings, "")
	if err != nil {
		return rep, err
	}
	for i, c := range caps {
		if len(c.Beds) == 0 && len(c.HomeCare) == 0 {
			continue
		}
		l := listings[i]
		area := ""
		if l.Position != nil {
			area = geo.AreaOf(l.Postcode, *l.Position)
		}
		if _, _, err := capStore.Put(ctx, c, l.Position, area); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// loadDemoWorld fills the embedded stores with the demo world at start, so
// a newcomer's first $placement-options has real homes to rank. The
// default file missing (a binary run outside the repository, the container
// image) is a warning; a file the operator named missing is an error.
func loadDemoWorld(ctx context.Context, cfg config, srv *gateway.Server, capStore capacity.Store, geo *geocode.Table, log *slog.Logger) error {
	f, err := os.Open(cfg.DemoWorld)
	if errors.Is(err, fs.ErrNotExist) && cfg.DemoWorld == defaultDemoWorld {
		log.Warn("no demo world: "+defaultDemoWorld+" is not here (run from the repository root); starting with an empty directory",
			slog.String("setting", "GATEWAY_DEMO_WORLD"))
		return nil
	}
	if err != nil {
		return fmt.Errorf("GATEWAY_DEMO_WORLD: %w", err)
	}
	defer f.Close()
	start := time.Now()
	listings, caps, err := demoworld.Load(f, start)
	if err != nil {
		return err
	}
	if _, err := loadWorld(ctx, srv, capStore, geo, listings, caps); err != nil {
		return fmt.Errorf("demo world: %w", err)
	}
	log.Info("demo world loaded: real Greater Manchester care homes with SYNTHETIC vacancies and specialisms (GATEWAY_DEMO_WORLD=off to start empty)",
		slog.Int("providers", len(listings)), slog.String("took", time.Since(start).Round(time.Millisecond).String()))
	return nil
}
