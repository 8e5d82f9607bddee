package web_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/referral"
	"github.com/dischargegateway/gateway/web"
)

// checkedReferrals reads every Task body the forms build, as the referral
// loop does, so a form that builds a Task the loop cannot read fails.
type checkedReferrals struct{ fakeReferrals }

func (checkedReferrals) SendAll(_ context.Context, _ *auth.Principal, bodies [][]byte) ([]referral.Result, error) {
	for _, b := range bodies {
		if _, err := mappings.TaskToRequest(b); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func (checkedReferrals) Update(_ context.Context, _ *auth.Principal, _ string, body []byte, _ string) (referral.Result, error) {
	_, err := mappings.TaskToRequest(body)
	return referral.Result{}, err
}

// FuzzForms posts any values to the dashboard's forms (the decoders of
// people's input): no input panics or answers 5xx, and every Task a form
// builds is one the referral loop reads. The seeds run in the test
// command.
func FuzzForms(f *testing.F) {
	f.Add("org|hcs|loc", "nursing-dementia", "3", "no-vacancy", "loc-1", "sr-1")
	f.Add("", "", "", "", "", "")
	f.Add("a|b", "x", "-1", "?", "{}", "../../etc")
	f.Add("a|b|c|d", "residential", "99999999999999999999", "cannot-meet-needs", "\x00", "sr/1")
	f.Add("|||", "\u00e9", "1e3", "no-vacancy", "<script>", "\"")
	e := newEnvWith(f, web.Deps{Homes: fakeHomes{locs: []web.HomeLocation{{ID: "loc-1", BedTypes: []discharge.BedType{discharge.BedNursing}}}}},
		checkedReferrals{})
	c, token := e.signIn(f, "hub")
	home, homeToken := e.signIn(f, "home-1")
	f.Fuzz(func(t *testing.T, provider, bedType, number, reason, location, need string) {
		for _, p := range []page{
			e.post(t, c, "/cases/"+url.PathEscape(need)+"/offers", url.Values{"csrf": {token}, "need": {need}, "provider": {provider, provider + "x"}}),
			e.post(t, home, "/referrals/"+url.PathEscape(location)+"/accept", url.Values{"csrf": {homeToken}, "location": {location}, "bedType": {bedType}}),
			e.post(t, home, "/referrals/t1/decline", url.Values{"csrf": {homeToken}, "reason": {reason}, "reasonText": {provider}}),
			e.post(t, home, "/capacity/today", url.Values{"csrf": {homeToken}, "location": {location}, "bedType": {bedType, "nursing"},
				"max." + bedType: {number}, "occupied." + bedType: {number}, "reserved." + bedType: {"0"}, "accepting." + bedType: {number},
				"closed." + bedType: {reason}, "max.nursing": {number}, "occupied.nursing": {reason}}),
		} {
			if p.status >= http.StatusInternalServerError {
				t.Fatalf("%d:\n%s", p.status, p.body)
			}
		}
	})
}
