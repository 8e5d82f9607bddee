package sqlstore

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/internal/pgtest"
	"github.com/dischargegateway/gateway/referral"
)

// TestAcceptStatementProfile is a tool, not a check (skipped unless
// ACCEPT_PROFILE=<accepts>): it sends that many offers on PostgreSQL, then
// runs each accept's batch (applyStatements, exactly as pipelinedApply
// sends it) one statement at a time under EXPLAIN (ANALYZE) inside a
// transaction it commits, and prints the server's mean planning and
// execution time per statement, triggers included, and their sum: what one
// accept costs the server before any round trip or WAL flush. The gap
// between that sum and the benchmark's time per accept is the client, the
// round trips and the flush (bench/referral-accept.md).
func TestAcceptStatementProfile(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("ACCEPT_PROFILE"))
	if n == 0 {
		t.Skip("ACCEPT_PROFILE=<accepts> prints the server's time per statement of the accept")
	}
	ctx := context.Background()
	_, url := pgtest.Start(t).NewDatabase(t)
	s, err := Open(ctx, url, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	r := NewReferral(s)
	at := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	if _, _, err := NewCapacity(s).Record(ctx, discharge.Capacity{LocationID: "loc1", AsOf: at,
		Beds: []discharge.BedCapacity{{Type: discharge.BedNursing, MaxCapacity: 1_000_000, AcceptingAdmissions: 1_000_000}}}); err != nil {
		t.Fatal(err)
	}
	offer := func(i int) (discharge.Offer, fhir.Resource) {
		id := fmt.Sprintf("t%d", i)
		o := discharge.Offer{ID: id, Partition: "A", Requester: "A", Owner: "org-P1", OwnerOrg: "P1",
			ServiceRequestID: fmt.Sprintf("sr%d", i%50), EncounterID: fmt.Sprintf("e%d", i%50), PatientID: "p1",
			HealthcareServiceID: "svc1", LocationID: "loc1", State: discharge.OfferRequested, Deadline: at.Add(time.Hour),
			Version: 1, Created: at, Updated: at}
		return o, fhir.Resource{Type: "Task", ID: id, VersionID: 1, LastUpdated: at, JSON: []byte(`{"resourceType":"Task","status":"requested"}`)}
	}
	for i := range n {
		o, task := offer(i)
		if err := r.Apply(ctx, referral.Change{Partition: "A", At: at, Offers: []referral.OfferWrite{{Offer: o, Task: task, Due: o.Deadline}},
			Events: []referral.Event{{Partition: "A", CaseID: o.EncounterID, At: at, Kind: referral.EventOfferSent, TaskID: o.ID}}}); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	type cost struct{ plan, exec float64 }
	costs := map[int]*cost{}
	names := map[int]string{}
	for i := range n {
		o, task := offer(i)
		o.State, o.Version = discharge.OfferAccepted, 2
		o.Hold = &discharge.Hold{ID: "h" + o.ID, LocationID: "loc1", BedType: discharge.BedNursing, State: discharge.HoldActive,
			Created: at, Expires: at.Add(24 * time.Hour)}
		task.VersionID = 2
		task.JSON = []byte(`{"resourceType":"Task","status":"accepted"}`)
		p, err := prepare(fhir.Write{Resource: task, ExpectVersion: 1})
		if err != nil {
			t.Fatal(err)
		}
		c := referral.Change{Partition: "A", At: at, Offers: []referral.OfferWrite{{Offer: o, Task: task, ExpectVersion: 1,
			NewHold: true, Due: o.Hold.Expires}},
			Events: []referral.Event{{Partition: "A", CaseID: o.EncounterID, At: at, Kind: referral.EventOfferAccepted, TaskID: o.ID}}}
		stmts := applyStatements(c, []prepared{p})
		for k, st := range stmts {
			if k == 0 || k == len(stmts)-1 { // BEGIN, COMMIT: sent as is
				if _, err := conn.Exec(ctx, st.q); err != nil {
					t.Fatal(err)
				}
				continue
			}
			var plan []map[string]any
			if err := conn.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+st.q, st.args...).Scan(&plan); err != nil {
				t.Fatalf("%s: %v", st.q, err)
			}
			if costs[k] == nil {
				costs[k] = &cost{}
				names[k] = strings.Join(strings.Fields(st.q), " ")
			}
			costs[k].plan += plan[0]["Planning Time"].(float64)
			costs[k].exec += plan[0]["Execution Time"].(float64)
			if trs, ok := plan[0]["Triggers"].([]any); ok {
				for _, tr := range trs {
					costs[k].exec += tr.(map[string]any)["Time"].(float64)
				}
			}
		}
	}
	keys := make([]int, 0, len(costs))
	for k := range costs {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var sumPlan, sumExec float64
	var b strings.Builder
	for _, k := range keys {
		c := costs[k]
		sumPlan += c.plan / float64(n)
		sumExec += c.exec / float64(n)
		fmt.Fprintf(&b, "%2d plan %.3f ms exec %.3f ms  %.110s\n", k, c.plan/float64(n), c.exec/float64(n), names[k])
	}
	fmt.Fprintf(&b, "sum per accept: planning %.3f ms, execution (triggers included) %.3f ms\n", sumPlan, sumExec)
	t.Logf("server time per statement of an accept, mean of %d:\n%s", n, b.String())
}
