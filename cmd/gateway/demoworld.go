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
	"github.com/dischargegateway/gateway/internal/wiring"
)

// defaultDemoWorld is GATEWAY_DEMO_WORLD's default, relative to the
// repository root where `go run ./cmd/gateway` runs.
const defaultDemoWorld = "configs/demo-world/gm-care-homes.csv"

// loadDemoWorld fills the embedded stores with the demo world at start, so
// a newcomer's first $placement-options has real homes to rank. The
// default file missing (a binary run outside the repository, the container
// image) is a warning; a file the operator named missing is an error.
func loadDemoWorld(ctx context.Context, cfg config, st *wiring.Stores, geo *geocode.Table, log *slog.Logger) error {
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
	if _, err := st.LoadWorld(ctx, geo, log, listings, caps); err != nil {
		return fmt.Errorf("demo world: %w", err)
	}
	log.Info("demo world loaded: real Greater Manchester care homes with SYNTHETIC vacancies and specialisms (GATEWAY_DEMO_WORLD=off to start empty)",
		slog.Int("providers", len(listings)), slog.String("took", time.Since(start).Round(time.Millisecond).String()))
	return nil
}
