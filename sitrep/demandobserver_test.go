package sitrep_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/placement"
	"github.com/dischargegateway/gateway/sitrep"
)

// fakeRecorder is a hand-written DemandRecorder.
type fakeRecorder struct {
	partitions []string
	got        []discharge.Demand
	err        error
}

func (f *fakeRecorder) RecordDemand(_ context.Context, partition string, d discharge.Demand) error {
	f.partitions = append(f.partitions, partition)
	f.got = append(f.got, d)
	return f.err
}

// search is a stored ServiceRequest's search as placement tells it.
func search(total int) placement.Search {
	return placement.Search{At: time.Date(2026, 11, 16, 10, 0, 0, 0, time.UTC),
		Principal: &auth.Principal{Org: "RXA", Role: auth.RoleTrust}, Partition: "RXA", CaseID: "e1",
		Need: &discharge.CareNeed{Setting: discharge.CareNursingDementia,
			Requirements: []discharge.Requirement{discharge.ReqDementia, discharge.ReqBariatric}},
		Outcode: "M14", RadiusKm: 25, Total: total,
		LeftOut: map[discharge.Filter]int{discharge.FilterVacancy: 4, discharge.FilterDistance: 1}}
}

// A search that finds fewer than three options is counted once, for the
// case's trust, by need and district, with no identity; one that found
// three, and a what-if question (no case), are not demand; a nil recorder
// counts nothing.
func TestUnmetDemandIsRecorded(t *testing.T) {
	rec := &fakeRecorder{}
	o := sitrep.NewDemandObserver(rec, nil)
	enough, whatIf := search(discharge.MinOptions), search(0)
	whatIf.Partition, whatIf.CaseID = "", ""
	for _, s := range []placement.Search{search(1), enough, whatIf} {
		if err := o.Observed(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	if len(rec.got) != 1 || rec.partitions[0] != "RXA" {
		t.Fatalf("recorded %+v in %v", rec.got, rec.partitions)
	}
	d, s := rec.got[0], search(1)
	if d.Outcode != "M14" || d.Setting != discharge.CareNursingDementia || len(d.Requirements) != 2 || !d.At.Equal(s.At) ||
		d.Options != 1 || d.TopFilter != discharge.FilterVacancy {
		t.Fatalf("demand %+v", d)
	}
	if err := sitrep.NewDemandObserver(nil, nil).Observed(context.Background(), search(0)); err != nil {
		t.Fatal(err)
	}
}

// A demand count that cannot be written does not fail the answer, and is
// not dropped in silence: the log says so, by error kind only (nothing of
// the need or the district).
func TestUnmetDemandFailureIsLogged(t *testing.T) {
	rec := &fakeRecorder{err: discharge.E(discharge.KindUnavailable, "", "down")}
	var logs bytes.Buffer
	o := sitrep.NewDemandObserver(rec, slog.New(slog.NewTextHandler(&logs, nil)))
	if err := o.Observed(context.Background(), search(0)); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if len(rec.got) != 1 || !strings.Contains(out, "unmet demand not counted") || !strings.Contains(out, discharge.KindUnavailable.String()) {
		t.Fatalf("recorded %d, log %q", len(rec.got), out)
	}
	if strings.Contains(out, "M14") || strings.Contains(out, "nursing") || strings.Contains(out, "e1") {
		t.Fatalf("the log names the need, the district or the case: %q", out)
	}
}
