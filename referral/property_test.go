package referral_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
)

var allStates = []discharge.OfferState{discharge.OfferRequested, discharge.OfferReceived, discharge.OfferAccepted,
	discharge.OfferRejected, discharge.OfferCancelled, discharge.OfferFailed, discharge.OfferInProgress, discharge.OfferCompleted}

// Random sequences of moves by random callers, on the real service and
// record, never produce a move the table of legal moves forbids: every
// change of an offer's state is one CanMove allows to whoever made it (the
// caller for the offer it named, the system for the others: supersession,
// expiry, case closure), and a visible but illegal move is refused with
// 409. Active holds never exceed the vacancies posted.
func TestStateMachineProperty(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	ctx := context.Background()
	w := newWorld(t, false, 3, 2)
	type offer struct {
		id       string
		provider int
		sr, enc  string
	}
	var offers []offer
	callers := []*auth.Principal{prov1, prov2, trust, hub, trust2}
	states := func() map[string]discharge.OfferState {
		out := map[string]discharge.OfferState{}
		for _, o := range offers {
			r, err := w.svc.Read(ctx, trust, o.id)
			if err != nil {
				t.Fatal(err)
			}
			st, _ := taskState(t, r.JSON)
			out[o.id] = discharge.OfferState(st)
		}
		return out
	}
	// At least 400 steps, and on until the walk has checked enough moves
	// and refusals to mean something (some seeds' first 400 steps hold
	// fewer than 50 legal moves), at most 2,000.
	checked, refused := 0, 0
	for step := 0; step < 2000 && (step < 400 || checked < 50 || refused < 20); step++ {
		if len(offers) < 3 || rng.IntN(6) == 0 {
			c, prov := 1+rng.IntN(3), 1+rng.IntN(2)
			sr := "RXX-sr" + string(rune('0'+c))
			offers = append(offers, offer{w.send(t, trust, sr, prov), prov, sr, "RXX-e" + string(rune('0'+c))})
			continue
		}
		before := states()
		o := offers[rng.IntN(len(offers))]
		p := callers[rng.IntN(len(callers))]
		var actor discharge.OfferActor
		switch {
		case p == trust || p == hub:
			actor = discharge.ActorRequester
		case p.Role == auth.RoleCareProvider && p.Org == "P"+string(rune('0'+o.provider)):
			actor = discharge.ActorOwner
		}
		var err error
		var named string
		switch k := rng.IntN(10); {
		case k < 7:
			to := allStates[rng.IntN(len(allStates))]
			_, err = w.svc.Update(ctx, p, o.id, answer(to, "loc"+string(rune('0'+o.provider))), "")
			named = o.id
			if err == nil && actor != "" && before[o.id] != to && !discharge.CanMove(before[o.id], actor, to) {
				t.Fatalf("step %d: %s moved %s -> %s, which the table forbids", step, actor, before[o.id], to)
			}
			if actor != "" && before[o.id] != to && !discharge.CanMove(before[o.id], actor, to) {
				if kindOf(err) != discharge.KindConflict {
					t.Fatalf("step %d: illegal %s -> %s by %s answered %v, want 409", step, before[o.id], to, actor, err)
				}
				refused++
			}
		case k < 8:
			_, err = w.svc.Confirm(ctx, p, o.id)
			named = o.id
		case k < 9:
			w.clock.Add(time.Duration(rng.IntN(30)) * time.Hour)
			_, err = w.svc.Sweep(ctx, w.clock.Now())
			actor = discharge.ActorSystem
		default:
			err = w.svc.CloseCase(ctx, "RXX", o.enc, rng.IntN(2) == 0)
			actor = discharge.ActorSystem
		}
		if actor == "" && kindOf(err) != discharge.KindNotFound {
			t.Fatalf("step %d: a caller who cannot see the Task got %v, want not found", step, err)
		}
		after := states()
		for id, was := range before {
			now := after[id]
			if now == was {
				continue
			}
			checked++
			by := discharge.ActorSystem
			if id == named {
				by = actor
			}
			if !discharge.CanMove(was, by, now) {
				t.Fatalf("step %d: %s -> %s by %s, which the table forbids (err %v)", step, was, now, by, err)
			}
		}
		for _, loc := range []string{"loc1", "loc2"} {
			if n := w.activeHolds(t, loc); n > 2 {
				t.Fatalf("step %d: %d active holds at %s over 2 vacancies", step, n, loc)
			}
		}
	}
	if checked < 50 || refused < 20 {
		t.Fatalf("the walk checked %d moves and %d refusals: too few to mean anything", checked, refused)
	}
	t.Logf("%d moves checked, %d illegal moves refused, %d offers", checked, refused, len(offers))
}
