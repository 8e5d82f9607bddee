package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/internal/pgtest"
	"github.com/dischargegateway/gateway/referral"
)

// acceptChange is the owner's acceptance of offer id (sent by
// offerChange at version 1) with a new hold at loc.
func acceptChange(partition, id, ownerOrg, loc string, at time.Time) referral.Change {
	c := offerChange(partition, id, ownerOrg, at)
	w := &c.Offers[0]
	w.ExpectVersion = 1
	w.Offer.State, w.Offer.Version, w.Offer.Updated = discharge.OfferAccepted, 2, at
	w.Offer.Hold = &discharge.Hold{ID: "h-" + id, LocationID: loc, BedType: discharge.BedNursing, State: discharge.HoldActive,
		Created: at, Expires: at.Add(24 * time.Hour)}
	w.NewHold = true
	w.Due = w.Offer.Hold.Expires
	w.Task.VersionID, w.Task.LastUpdated = 2, at
	w.Task.JSON = []byte(`{"resourceType":"Task","status":"accepted"}`)
	c.Events[0].Kind, c.Events[0].TaskID = referral.EventOfferAccepted, id
	return c
}

// The pipelined accept on PostgreSQL (pipelinedApply): whatever its checks
// find, the batch either commits all of the accept or none of it, and a
// failed hold condition is decided again in an ordinary transaction
// (counted by ReferralRechecks), deterministically, one case at a time: a
// bed bookable (no recheck), none left (recheck, refused with the
// numbers), a new posting with more beds (the pipeline's own read sees it:
// no recheck, no stale figure), a closed bed type, a posting that cannot
// be decoded, a posting that lands between the pipeline's read and its
// batch (SetAfterPostingRead: recheck, then a hold or a refusal against
// the new posting), a stale version (KindRetry, no recheck). After each
// refusal nothing of the accept is in the record and the pooled
// connection is clean.
func TestPipelinedAcceptChecks(t *testing.T) {
	ctx := context.Background()
	_, url := pgtest.Start(t).NewDatabase(t)
	s, err := sqlstore.Open(ctx, url, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	r := sqlstore.NewReferral(s)
	caps := sqlstore.NewCapacity(s)
	at := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	post := func(n int, closed bool) {
		t.Helper()
		at = at.Add(time.Minute)
		if _, _, err := caps.Record(ctx, discharge.Capacity{LocationID: "loc1", AsOf: at,
			Beds: []discharge.BedCapacity{{Type: discharge.BedResidential, MaxCapacity: 9, AcceptingAdmissions: 9},
				{Type: discharge.BedNursing, MaxCapacity: 5, Occupied: 5 - n, AcceptingAdmissions: n, ClosedToAdmissions: closed}}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 5; i++ {
		if err := r.Apply(ctx, offerChange("A", fmt.Sprintf("t%d", i), "P1", at)); err != nil {
			t.Fatal(err)
		}
	}
	events := func() int {
		t.Helper()
		es, err := r.Events(ctx, "A", "e1")
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	untouched := func(id string, wantEvents int) {
		t.Helper()
		if res, err := r.Read(ctx, "A", "Task", id); err != nil || res.VersionID != 1 {
			t.Fatalf("Task/%s after a refused accept: version %d (%v), want 1", id, res.VersionID, err)
		}
		if o, err := r.FindOffer(ctx, "A", id, false); err != nil || o.State != discharge.OfferRequested || o.Hold != nil {
			t.Fatalf("offer %s after a refused accept: %+v (%v)", id, o, err)
		}
		if n := events(); n != wantEvents {
			t.Fatalf("%d events after a refused accept, want %d", n, wantEvents)
		}
	}
	held := func(want int) {
		t.Helper()
		if _, n, err := r.Bookable(ctx, "loc1", discharge.BedNursing); err != nil || n != want {
			t.Fatalf("%d active holds (%v), want %d", n, err, want)
		}
	}
	const accepted = discharge.Kind(255) // no error
	step := func(name string, c referral.Change, wantKind discharge.Kind, wantRechecks int64) error {
		t.Helper()
		err := r.Apply(ctx, c)
		if got := discharge.ErrorKind(err); (err == nil) != (wantKind == accepted) || (err != nil && got != wantKind) {
			t.Fatalf("%s: %v (kind %q), want kind %q", name, err, got, wantKind)
		}
		if n := sqlstore.ReferralRechecks(r); n != wantRechecks {
			t.Fatalf("%s: %d rechecks, want %d", name, n, wantRechecks)
		}
		return err
	}

	post(1, false)
	base := events()
	step("a bookable bed", acceptChange("A", "t1", "P1", "loc1", at), accepted, 0)
	held(1)
	base++
	if n := events(); n != base {
		t.Fatalf("%d events after the accept, want %d", n, base)
	}

	err = step("no bed left", acceptChange("A", "t2", "P1", "loc1", at), discharge.KindConflict, 1)
	var de *discharge.Error
	if !errors.As(err, &de) || len(de.Issues) != 1 || de.Issues[0].Detail != referral.RuleHoldBookable ||
		!strings.Contains(de.Issues[0].Message, "(1 held of 1)") {
		t.Fatalf("refusal without its numbers: %v", err)
	}
	untouched("t2", base)
	held(1)

	post(2, false)
	step("a posting raised the vacancies", acceptChange("A", "t2", "P1", "loc1", at), accepted, 1)
	held(2)
	base++

	post(3, true)
	step("closed to admissions", acceptChange("A", "t3", "P1", "loc1", at), discharge.KindConflict, 2)
	untouched("t3", base)

	// A posting the database cannot decode: the batch's statement fails,
	// and the ordinary transaction reports it.
	raw, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close(ctx)
	if _, err := raw.Exec(ctx, `INSERT INTO capacity_postings (location, version, as_of, posting, recorded_at)
		SELECT 'loc1', MAX(version) + 1, 0, '{not json', 0 FROM capacity_postings WHERE location = 'loc1'`); err != nil {
		t.Fatal(err)
	}
	step("an unreadable posting", acceptChange("A", "t4", "P1", "loc1", at), discharge.KindInternal, 3)
	untouched("t4", base)

	// A posting lands between the pipeline's read of the latest posting
	// and its batch: the hold's INSERT finds another latest posting, the
	// batch rolls back, and the ordinary transaction decides against the
	// new one: a hold when it has a bed left, a refusal when not.
	post(3, false)
	undo := sqlstore.SetAfterPostingRead(func() { post(4, false) })
	step("a posting moved, a bed left", acceptChange("A", "t3", "P1", "loc1", at), accepted, 4)
	undo()
	held(3)
	base++
	undo = sqlstore.SetAfterPostingRead(func() { post(0, false) })
	err = step("a posting moved, no bed left", acceptChange("A", "t5", "P1", "loc1", at), discharge.KindConflict, 5)
	undo()
	if !errors.As(err, &de) || !strings.Contains(de.Issues[0].Message, "(3 held of 0)") {
		t.Fatalf("refusal after a posting moved: %v", err)
	}
	untouched("t5", base)

	post(5, false)
	step("a stale version", acceptChange("A", "t1", "P1", "loc1", at), discharge.KindRetry, 5)
	held(3)
	if n := events(); n != base {
		t.Fatalf("%d events after a stale accept, want %d", n, base)
	}
	step("the pool is clean after the refusals", acceptChange("A", "t5", "P1", "loc1", at), accepted, 5)
	held(4)
	var open int
	if err := raw.QueryRow(ctx, `SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()
		AND state LIKE 'idle in transaction%'`).Scan(&open); err != nil || open != 0 {
		t.Fatalf("%d sessions left in a transaction (%v)", open, err)
	}
}
