package placement_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/placement"
)

// fakeDemand is a hand-written DemandRecorder.
type fakeDemand struct {
	partitions []string
	got        []discharge.Demand
	err        error
}

func (f *fakeDemand) RecordDemand(_ context.Context, partition string, d discharge.Demand) error {
	f.partitions = append(f.partitions, partition)
	f.got = append(f.got, d)
	return f.err
}

// A search that finds fewer than three options (here none) is counted once,
// for the case's trust, by need and district, with no identity; a nil
// recorder is allowed (TestOptionsEncounter).
func TestUnmetDemandIsRecorded(t *testing.T) {
	tr, err := mappings.LoadTranslator(os.DirFS(filepath.Join("..", "configs", "conceptmaps")))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 16, 10, 0, 0, 0, time.UTC)
	rec := &fakeDemand{}
	svc := placement.New(placement.Config{Freshness: discharge.DefaultFreshness, Weights: discharge.DefaultWeights, Translator: tr,
		Now: func() time.Time { return now }, Demand: rec}, &fakeCapacity{}, fakeDirectory{}, fakeGeo{}, walkthroughRecords(t, func(map[string]any) {}))
	a, err := svc.Options(context.Background(), placement.Request{Principal: &auth.Principal{Org: "RXA", Role: auth.RoleTrust}, ServiceRequestID: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Total != 0 || len(rec.got) != 1 || rec.partitions[0] != "RXA" {
		t.Fatalf("total %d, recorded %+v in %v", a.Total, rec.got, rec.partitions)
	}
	d := rec.got[0]
	if d.Outcode != "M14" || d.Setting != discharge.CareNursingDementia || len(d.Requirements) != 2 || !d.At.Equal(now) || d.Options != 0 {
		t.Fatalf("demand %+v", d)
	}
}

// A demand count that cannot be written does not fail the answer, and is
// not dropped in silence: the log says so, by error kind only (nothing of
// the need or the district).
func TestUnmetDemandFailureIsLogged(t *testing.T) {
	tr, err := mappings.LoadTranslator(os.DirFS(filepath.Join("..", "configs", "conceptmaps")))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 16, 10, 0, 0, 0, time.UTC)
	rec := &fakeDemand{err: discharge.E(discharge.KindUnavailable, "", "down")}
	var logs bytes.Buffer
	svc := placement.New(placement.Config{Freshness: discharge.DefaultFreshness, Weights: discharge.DefaultWeights, Translator: tr,
		Now: func() time.Time { return now }, Demand: rec, Logger: slog.New(slog.NewTextHandler(&logs, nil))},
		&fakeCapacity{}, fakeDirectory{}, fakeGeo{}, walkthroughRecords(t, func(map[string]any) {}))
	if _, err := svc.Options(context.Background(), placement.Request{Principal: &auth.Principal{Org: "RXA", Role: auth.RoleTrust}, ServiceRequestID: "s1"}); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if len(rec.got) != 1 || !strings.Contains(out, "unmet demand not counted") || !strings.Contains(out, discharge.KindUnavailable.String()) {
		t.Fatalf("recorded %d, log %q", len(rec.got), out)
	}
	if strings.Contains(out, "M14") || strings.Contains(out, "nursing") {
		t.Fatalf("the log names the need or district: %q", out)
	}
}
