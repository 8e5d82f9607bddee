package gateway_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/auth"
)

const directoryCSV = `name,cqcLocationId,providerId,services,specialisms,address,postcode,latitude,longitude,registeredBeds,contract,rating
Fallowfield Nursing,1-100000001,1-000000001,nursing;nursing-dementia,dementia;hoist,"1 Wilmslow Road, Manchester",M14 6AB,53.445,-2.221,40,block,good
Rusholme Residential,1-100000002,1-000000001,residential,,"2 Oxford Road, Manchester",M13 9PL,,,25,spot,outstanding
Bad Postcode Home,1-100000003,1-000000001,nursing,,x,NOT A POSTCODE,,,10,,
Unknown Setting Home,1-100000004,1-000000001,spa,,x,M14 5AA,,,10,,
Other Provider Home,1-100000005,1-000000002,nursing,,x,SK3 0AB,,,10,,
`

func TestDirectoryImport(t *testing.T) {
	e := newEnv(t)
	home1 := e.tokenFor("home-1", auth.RoleCareProvider, "1-000000001", directoryScopes)
	admin := e.tokenFor("ops", auth.RoleAdmin, "DGADMIN", directoryScopes)
	post := func(tok, body string) resp {
		return e.do("POST", "/api/v1/directory/import", body, "Authorization", "Bearer "+tok, "Content-Type", "text/csv")
	}
	r := post(home1, directoryCSV).mustStatus(t, http.StatusOK)
	if num(r.json, "rows") != 5 || num(r.json, "accepted") != 2 || num(r.json, "created") != 2 || len(r.json["rejected"].([]any)) != 3 {
		t.Fatalf("first import: %s", r.body)
	}
	reasons := string(r.body)
	for _, want := range []string{`"row":4,"column":"postcode"`, `"row":5,"column":"services"`, `"row":6,"column":"providerId"`} {
		if !strings.Contains(reasons, want) {
			t.Fatalf("missing rejection %s: %s", want, reasons)
		}
	}
	again := post(home1, directoryCSV).mustStatus(t, http.StatusOK)
	if num(again.json, "unchanged") != 2 || num(again.json, "created") != 0 || num(again.json, "updated") != 0 {
		t.Fatalf("second import changed things: %s", again.body)
	}
	loc := e.do("GET", "/fhir/Location/cqc-1-100000001", nil).mustStatus(t, http.StatusOK)
	if loc.header.Get("ETag") != `W/"1"` {
		t.Fatalf("re-import bumped the version: %s", loc.header.Get("ETag"))
	}
	changed := strings.Replace(directoryCSV, "40,block,good", "42,block,good", 1)
	upd := post(home1, changed).mustStatus(t, http.StatusOK)
	if num(upd.json, "updated") != 1 || num(upd.json, "unchanged") != 1 {
		t.Fatalf("update: %s", upd.body)
	}
	// The admin imports the other provider's row too.
	all := post(admin, directoryCSV).mustStatus(t, http.StatusOK)
	if num(all.json, "created") != 1 || len(all.json["rejected"].([]any)) != 2 {
		t.Fatalf("admin import: %s", all.body)
	}
	s := e.do("GET", "/fhir/HealthcareService?type=nursing-dementia&characteristic=hoist", nil).mustStatus(t, http.StatusOK)
	if num(s.json, "total") != 1 || !strings.Contains(string(s.body), "contract-type") {
		t.Fatalf("%s", s.body)
	}
	near := e.do("GET", "/fhir/Location?near=53.44|-2.22|5|km", nil).mustStatus(t, http.StatusOK)
	if num(near.json, "total") != 2 { // both Manchester homes; the second is placed by its postcode
		t.Fatalf("near: %s", near.body)
	}
	// A trust may not import; a non-CSV body is 415.
	e.do("POST", "/api/v1/directory/import", directoryCSV, "Content-Type", "text/csv").mustStatus(t, http.StatusForbidden)
	r = e.do("POST", "/api/v1/directory/import", `{}`, "Authorization", "Bearer "+home1, "Content-Type", "application/json")
	if r.status != http.StatusUnsupportedMediaType {
		t.Fatalf("%d %s", r.status, r.body)
	}
	bad := post(home1, "name,foo\nx,y\n").mustStatus(t, http.StatusBadRequest)
	if code, _ := bad.issue(t); code != "structure" {
		t.Fatalf("%s", bad.body)
	}
}

// syntheticCSV builds n listings spread over the given outcodes.
func syntheticCSV(n int, places [][3]any) string {
	var b strings.Builder
	b.WriteString("name,cqcLocationId,providerId,services,specialisms,address,postcode,latitude,longitude,registeredBeds,contract,rating\n")
	settings := []string{"residential", "nursing;nursing-dementia", "residential;residential-dementia", "d2a-bed", "home-care"}
	for i := 0; i < n; i++ {
		p := places[i%len(places)]
		fmt.Fprintf(&b, "Home %d,1-%09d,1-%09d,%s,dementia,x,%s 1AA,%.5f,%.5f,%d,spot,good\n",
			i, 200000000+i, 300000000+i/4, settings[i%len(settings)], p[0], p[1].(float64)+float64(i%7)*0.001, p[2].(float64), 20+i%40)
	}
	return b.String()
}
