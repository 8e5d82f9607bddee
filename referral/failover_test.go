package referral_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/internal/pgtest"
)

// A primary with a synchronous standby is killed while providers accept
// offers, and the standby promoted: every acceptance acknowledged before,
// during or after the failover is in the new primary with its hold, and
// acceptances are acknowledged again after the promotion (the record's URL
// names both hosts with target_session_attrs=read-write).
func TestFailoverLosesNoAcknowledgedAcceptance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a primary and a standby")
	}
	ctx := context.Background()
	primary := pgtest.Start(t)
	_, dbURL := primary.NewDatabase(t)
	standby := primary.StartStandby(t, "standby1")
	primary.SetSynchronousStandbys(t, "ANY 1 (standby1)", 1)
	failoverURL := primary.FailoverURL(t, dbURL, standby)
	var trusts []string
	for i := range 8 {
		trusts = append(trusts, fmt.Sprintf("F%02d", i))
	}
	w := newWorldAt(t, failoverURL, 20, 1000, trusts...)
	const callers, each = 8, 40
	ids := make([][]string, callers)
	for c := range callers {
		org := trusts[c]
		p := &auth.Principal{ClientID: "c-" + org, Org: org, Role: auth.RoleTrust}
		for i := range each {
			ids[c] = append(ids[c], w.send(t, p, fmt.Sprintf("%s-sr%d", org, 1+i%20), 1+c))
		}
	}
	var (
		mu            sync.Mutex
		acked         = map[string]int{} // task id → caller
		promoted      atomic.Bool
		afterPromoted atomic.Int64
		ackedSoFar    atomic.Int64
		wg            sync.WaitGroup
	)
	for c := range callers {
		owner := &auth.Principal{ClientID: fmt.Sprintf("p%d", c+1), Org: fmt.Sprintf("P%d", c+1), Role: auth.RoleCareProvider}
		body := answer(discharge.OfferAccepted, fmt.Sprintf("loc%d", c+1))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, id := range ids[c] {
				for try := 0; try < 50; try++ {
					cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
					_, err := w.svc.Update(cctx, owner, id, body, "")
					cancel()
					if err == nil {
						mu.Lock()
						acked[id] = c
						mu.Unlock()
						ackedSoFar.Add(1)
						if promoted.Load() {
							afterPromoted.Add(1)
						}
						break
					}
					switch discharge.ErrorKind(err) {
					case discharge.KindUnavailable, discharge.KindTimeout, discharge.KindInternal:
						time.Sleep(100 * time.Millisecond) // the gap: try again
						continue
					}
					break // refused (an earlier try committed unacknowledged, say)
				}
			}
		}()
	}
	for ackedSoFar.Load() < 40 {
		time.Sleep(10 * time.Millisecond)
	}
	primary.Kill()
	time.Sleep(500 * time.Millisecond)
	standby.Promote(t)
	promoted.Store(true)
	wg.Wait()
	if afterPromoted.Load() == 0 {
		t.Fatal("no acceptance was acknowledged after the promotion")
	}
	for id, c := range acked {
		r, err := w.svc.Read(ctx, &auth.Principal{ClientID: "x", Org: trusts[c], Role: auth.RoleTrust}, id)
		if err != nil {
			t.Fatalf("acknowledged %s: %v", id, err)
		}
		if st, _ := taskState(t, r.JSON); st != "accepted" {
			t.Fatalf("acknowledged acceptance %s is %s on the new primary", id, st)
		}
	}
	held := 0
	for c := range callers {
		held += w.activeHolds(t, fmt.Sprintf("loc%d", c+1))
	}
	if held < len(acked) {
		t.Fatalf("%d holds on the new primary for %d acknowledged acceptances", held, len(acked))
	}
	// Eight callers at once: acceptances shared transactions (the store's
	// group commit), and the test covers them as well as single ones.
	groups, _ := w.rec.GroupCommits()
	if groups == 0 {
		t.Fatal("no acceptances were committed together: the failover tested single commits only")
	}
	t.Logf("%d acceptances acknowledged (%d after the promotion), %d holds, %d group commits", len(acked), afterPromoted.Load(), held, groups)
}
