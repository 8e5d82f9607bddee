package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/dischargegateway/gateway/adapters/cqccsv"
	"github.com/dischargegateway/gateway/adapters/geocode"
	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/gateway"
)

// importCommand is `gateway import directory FILE`: the operator's bulk
// import of a CQC-style directory into the Redis named by REDIS_URL. It
// prints the report as JSON; rejected rows are listed with their reasons.
func importCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) != 2 || args[0] != "directory" {
		return fmt.Errorf("usage: gateway import directory FILE.csv")
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	if cfg.RedisURL == "" && len(cfg.RedisAddrs) == 0 {
		return fmt.Errorf("set REDIS_URL: importing into the embedded store would be lost when this command exits")
	}
	f, err := os.Open(args[1])
	if err != nil {
		return err
	}
	defer f.Close()
	listings, rejected, err := cqccsv.Parse(f)
	if err != nil {
		return err
	}
	rc, err := rediscache.Open(ctx, rediscache.Config{URL: cfg.RedisURL, Addrs: cfg.RedisAddrs, SentinelMaster: cfg.RedisMaster, Timeout: cfg.RedisTimeout})
	if err != nil {
		return err
	}
	defer rc.Close()
	geo, err := geocode.LoadFiles(cfg.OutcodesCSV, cfg.PostcodesCSV)
	if err != nil {
		return err
	}
	srv := gateway.New(gateway.DefaultConfig(), gateway.Deps{Store: rediscache.New(rc.Client),
		Capacity: rediscache.NewCapacityStore(rc.Client, int64(cfg.CapacityHistory)), Geocoder: geo,
		Logger: slog.New(slog.NewJSONHandler(stderr, nil))})
	rep, err := srv.ImportDirectory(ctx, listings, "")
	if err != nil {
		return err
	}
	rep.Rows += len(rejected)
	rep.Rejected = append(rejected, rep.Rejected...)
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
