package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/referral"
	"github.com/dischargegateway/gateway/web"
)

// twoHomes are a provider's two Locations: a nursing home with dementia
// beds, and a home the directory names no bed-based service for.
var twoHomes = fakeHomes{locs: []web.HomeLocation{
	{ID: "loc-a", Name: "Acorn House", Postcode: "M14 6AB", BedTypes: []discharge.BedType{discharge.BedNursing, discharge.BedNursingDementia}},
	{ID: "loc-b", Name: "Birch Lodge", Postcode: "M20 2RN"},
}}

// TestCapacityFormListsOwnLocations: the form lists the home's own
// Locations by name (no id to know), offers the chosen one's bed types
// prefilled from its last posting, posts every filled line at once,
// audits the posting, and refuses a Location that is not the home's.
func TestCapacityFormListsOwnLocations(t *testing.T) {
	caps := &fakeCapacity{}
	e := newEnv(t, web.Deps{Homes: twoHomes, Capacity: caps})
	home, token := e.signIn(t, "home-1")

	// Two homes: choose one first (a GET form: no JavaScript needed).
	p := e.get(t, home, "/capacity/today")
	must(t, p, http.StatusOK, "Which home are you posting for?", "Acorn House, M14 6AB", "Birch Lodge, M20 2RN", `name="location" type="radio" value="loc-a"`)
	if strings.Contains(p.body, `name="max.`) {
		t.Fatal("the figures are asked before a home is chosen")
	}
	// Another provider's Location is not offered.
	must(t, e.get(t, home, "/capacity/today?location=loc-x"), http.StatusNotFound, "Choose one of your organisation", "nhsuk-error-summary")

	p = e.get(t, home, "/capacity/today?location=loc-a")
	must(t, p, http.StatusOK, "Acorn House", "Nothing posted for this home yet", `name="max.nursing"`, `name="max.nursing-dementia"`)
	if strings.Contains(p.body, `name="max.residential"`) {
		t.Fatal("a bed type the home does not offer is on the form")
	}

	before := len(e.audit.all())
	form := url.Values{"csrf": {token}, "location": {"loc-a"}, "bedType": {"nursing", "nursing-dementia"},
		"max.nursing": {"20"}, "occupied.nursing": {"18"}, "reserved.nursing": {"0"}, "accepting.nursing": {"2"},
		"max.nursing-dementia": {"10"}, "occupied.nursing-dementia": {"10"}, "reserved.nursing-dementia": {"0"},
		"accepting.nursing-dementia": {"0"}, "closed.nursing-dementia": {"yes"}}
	r := e.post(t, home, "/capacity/today", form)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/capacity/today?location=loc-a" {
		t.Fatalf("post: %d %q %s", r.status, r.header.Get("Location"), r.body)
	}
	got, ok := caps.last("loc-a")
	if !ok || len(got.Beds) != 2 || got.Beds[0] != (discharge.BedCapacity{Type: discharge.BedNursing, MaxCapacity: 20, Occupied: 18, AcceptingAdmissions: 2}) ||
		!got.Beds[1].ClosedToAdmissions || got.AsOf.IsZero() {
		t.Fatalf("posted %+v", got)
	}
	audit := e.audit.all()[before:]
	if len(audit) != 1 || audit[0].Interaction != "update" || audit[0].ResourceType != "Location" || audit[0].ResourceID != "loc-a" ||
		audit[0].ClientID != "web:home-1" || audit[0].Status != http.StatusOK {
		t.Fatalf("audit %+v", audit)
	}
	// The next visit starts from what was posted.
	must(t, e.get(t, home, "/capacity/today?location=loc-a"), http.StatusOK, "Capacity posted.", "Last posted",
		`name="max.nursing" type="text" inputmode="numeric" value="20"`, `id="closed-nursing-dementia" name="closed.nursing-dementia" type="checkbox" value="yes" checked`)

	// A home with no bed type in the directory is offered every one.
	must(t, e.get(t, home, "/capacity/today?location=loc-b"), http.StatusOK, "no bed-based service", `name="max.residential"`, `name="max.hospice"`)

	for name, tc := range map[string]struct {
		form   url.Values
		status int
		want   string
	}{
		"not its Location": {url.Values{"location": {"loc-x"}, "bedType": {"nursing"}, "max.nursing": {"1"}, "occupied.nursing": {"1"},
			"reserved.nursing": {"0"}, "accepting.nursing": {"0"}}, http.StatusBadRequest, "Choose one of your organisation"},
		"a figure missing": {url.Values{"location": {"loc-a"}, "bedType": {"nursing"}, "max.nursing": {"1"}}, http.StatusBadRequest,
			"Enter the occupied beds for Nursing"},
		"not a number": {url.Values{"location": {"loc-a"}, "bedType": {"nursing"}, "max.nursing": {"x"}, "occupied.nursing": {"1"},
			"reserved.nursing": {"0"}, "accepting.nursing": {"0"}}, http.StatusBadRequest, "as a whole number from 0"},
		"nothing filled in": {url.Values{"location": {"loc-a"}, "bedType": {"nursing"}}, http.StatusBadRequest, "at least one bed type"},
		"unknown bed type":  {url.Values{"location": {"loc-a"}, "bedType": {"castle"}}, http.StatusBadRequest, "<li>A bed type is not one the form offered.</li>"},
	} {
		t.Run(name, func(t *testing.T) {
			tc.form.Set("csrf", token)
			must(t, e.post(t, home, "/capacity/today", tc.form), tc.status, tc.want)
		})
	}
	// A refused posting comes back as the form, as typed, with the
	// mistakes listed and marked at their fields: bedsOf's own (a figure
	// missing) and the capacity rules' (more beds used than there are).
	r = e.post(t, home, "/capacity/today", url.Values{"csrf": {token}, "location": {"loc-a"}, "bedType": {"nursing", "nursing-dementia"},
		"max.nursing": {"17"}})
	must(t, r, http.StatusBadRequest, "nhsuk-error-summary", `<a href="#occupied-nursing">Enter the occupied beds for Nursing.</a>`,
		`id="max-nursing" name="max.nursing" type="text" inputmode="numeric" value="17"`, `nhsuk-input--error" id="occupied-nursing"`,
		`aria-describedby="occupied-nursing-error"`, "<title>Error: Post today")
	r = e.post(t, home, "/capacity/today", url.Values{"csrf": {token}, "location": {"loc-a"}, "bedType": {"nursing-dementia", "nursing"},
		"max.nursing": {"5"}, "occupied.nursing": {"5"}, "reserved.nursing": {"1"}, "accepting.nursing": {"0"},
		"max.nursing-dementia": {"10"}, "occupied.nursing-dementia": {"10"}, "reserved.nursing-dementia": {"0"}, "accepting.nursing-dementia": {"0"}})
	must(t, r, http.StatusBadRequest, `<li><a href="#max-nursing">`, `nhsuk-input--error" id="max-nursing" name="max.nursing" type="text" inputmode="numeric" value="5"`)
	if got, _ := caps.last("loc-a"); got.Beds[0].MaxCapacity != 20 {
		t.Fatalf("a refused posting was stored: %+v", got)
	}
	// Without the token nothing is posted.
	delete(form, "csrf")
	must(t, e.post(t, home, "/capacity/today", form), http.StatusForbidden)
}

// TestCapacityFormOneHome: a provider with one Location goes straight to
// its figures; one with none is told how to register a home.
func TestCapacityFormOneHome(t *testing.T) {
	e := newEnv(t, web.Deps{Homes: fakeHomes{locs: twoHomes.locs[:1]}})
	home, _ := e.signIn(t, "home-1")
	must(t, e.get(t, home, "/capacity/today"), http.StatusOK, "Acorn House", `name="location" value="loc-a"`, `name="max.nursing"`)

	none := newEnv(t, web.Deps{})
	home, _ = none.signIn(t, "home-1")
	must(t, none.get(t, home, "/capacity/today"), http.StatusOK, "no Location in the directory yet")
}

// offeredReferrals is a referral loop with one open offer at loc-a.
type offeredReferrals struct{ fakeReferrals }

func (offeredReferrals) Search(_ context.Context, _ *auth.Principal, vals url.Values, _ bool, _ string) (referral.Searchset, error) {
	if !strings.Contains(vals.Get("status"), "requested") {
		return referral.Searchset{}, nil
	}
	b, err := mappings.RequestToTask(mappings.TaskRequest{Status: discharge.OfferRequested, ServiceRequestID: "sr-1",
		Owner: "org-1", HealthcareServiceID: "hcs-1", LocationID: "loc-a"})
	if err != nil {
		return referral.Searchset{}, err
	}
	var doc map[string]any
	_ = json.Unmarshal(b, &doc)
	doc["id"] = "task-1"
	b, _ = json.Marshal(doc)
	return referral.Searchset{Total: 1, Entries: []fhir.BundleEntryOut{{Resource: b}}}, nil
}

// TestAcceptOffersLocationBedTypes: accepting a referral offers the bed
// types the offered Location has, not every bed type.
func TestAcceptOffersLocationBedTypes(t *testing.T) {
	e := newEnv(t, web.Deps{Homes: twoHomes, Referrals: offeredReferrals{}})
	home, _ := e.signIn(t, "home-1")
	p := e.get(t, home, "/referrals")
	must(t, p, http.StatusOK, "Referral task-1", "Offered for Acorn House, M14 6AB.", `<option value="nursing">`, `<option value="nursing-dementia">`)
	if strings.Contains(p.body, `<option value="residential">`) {
		t.Fatalf("a bed type the Location does not have is offered:\n%s", p.body)
	}
}
