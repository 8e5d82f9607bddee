package mappings_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
)

func sampleOffer() discharge.Offer {
	at := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	return discharge.Offer{ID: "t1", Partition: "RXX", Requester: "RXX", Owner: "org1", OwnerOrg: "P1",
		ServiceRequestID: "sr1", EncounterID: "e1", PatientID: "p1", HealthcareServiceID: "svc1", LocationID: "loc1",
		State: discharge.OfferAccepted, Deadline: at.Add(4 * time.Hour), Version: 3, Created: at, Updated: at.Add(time.Hour),
		Hold: &discharge.Hold{ID: "h1", LocationID: "loc1", BedType: discharge.BedNursing, State: discharge.HoldActive}}
}

// A Task rendered from an offer reads back as the same offer's elements.
func TestOfferToTaskRoundTrip(t *testing.T) {
	o := sampleOffer()
	o.State, o.Reason, o.ReasonText = discharge.OfferRejected, discharge.RejectOther, "roof repairs"
	body, err := mappings.OfferToTask(o)
	if err != nil {
		t.Fatal(err)
	}
	got, err := mappings.TaskToRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	want := mappings.TaskRequest{ID: "t1", Status: discharge.OfferRejected, ServiceRequestID: "sr1", PatientID: "p1",
		EncounterID: "e1", Owner: "org1", Requester: "RXX", HealthcareServiceID: "svc1", LocationID: "loc1",
		Deadline: o.Deadline, Reason: discharge.RejectOther, ReasonText: "roof repairs", HeldLocationID: "loc1",
		BedType: discharge.BedNursing}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read back\n%+v\nwant\n%+v", got, want)
	}
	var doc map[string]any
	_ = json.Unmarshal(body, &doc)
	if doc["intent"] != "order" || doc["meta"].(map[string]any)["versionId"] != "3" {
		t.Fatalf("rendered %s", body)
	}
}

func TestTaskToRequestRefuses(t *testing.T) {
	for _, c := range []struct {
		name, body string
		kind       discharge.Kind
		expr       string
	}{
		{"no status", `{"resourceType":"Task","intent":"order"}`, discharge.KindRequired, "Task.status"},
		{"unknown status", `{"resourceType":"Task","status":"draft","intent":"order"}`, discharge.KindCodeInvalid, "Task.status"},
		{"plan", `{"resourceType":"Task","status":"requested","intent":"plan"}`, discharge.KindValue, "Task.intent"},
		{"focus not a ServiceRequest", `{"resourceType":"Task","status":"requested","intent":"order","focus":{"reference":"Patient/1"}}`, discharge.KindValue, "Task.focus"},
		{"requester without ODS", `{"resourceType":"Task","status":"requested","intent":"order","requester":{"reference":"Organization/x"}}`, discharge.KindValue, "Task.requester"},
		{"bad deadline", `{"resourceType":"Task","status":"requested","intent":"order","restriction":{"period":{"end":"tomorrow"}}}`, discharge.KindValue, "Task.restriction.period.end"},
		{"unknown reason", `{"resourceType":"Task","status":"rejected","intent":"order","statusReason":{"coding":[{"system":"` + mappings.OfferRejectReasonSystem + `","code":"bored"}]}}`, discharge.KindCodeInvalid, "Task.statusReason"},
		{"not a Task", `{"resourceType":"Patient"}`, discharge.KindStructure, "Task"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := mappings.TaskToRequest([]byte(c.body))
			checkErr(t, err)
			if err == nil {
				t.Fatal("accepted")
			}
			var de *discharge.Error
			if !errors.As(err, &de) || de.Issues[0].Kind != c.kind || de.Issues[0].Expression != c.expr {
				t.Fatalf("got %v, want %s at %s", err, c.kind, c.expr)
			}
		})
	}
}

func TestMinimisedPatientKeepsNoIdentity(t *testing.T) {
	raw := []byte(`{"resourceType":"Patient","id":"p1","name":[{"family":"Smith"}],"identifier":[{"system":"` + mappings.NHSNumberSystem +
		`","value":"9000000009"}],"birthDate":"1941-02-03","address":[{"use":"home","line":["1 High St"],"postalCode":"M14 5AB"}]}`)
	out, err := mappings.MinimisedPatient(raw, time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	_ = json.Unmarshal(out, &doc)
	for _, k := range []string{"name", "identifier", "birthDate"} {
		if _, ok := doc[k]; ok {
			t.Errorf("minimised Patient keeps %s: %s", k, out)
		}
	}
	if s := string(out); !contains(s, `"postalCode":"M14"`) || !contains(s, `"80-89"`) || contains(s, "High St") {
		t.Errorf("minimised Patient %s", out)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func FuzzTaskToRequest(f *testing.F) {
	body, _ := mappings.OfferToTask(sampleOffer())
	f.Add(body)
	f.Add([]byte(`{"resourceType":"Task","status":"accepted","intent":"order","output":[{"type":{"coding":[{"system":"` +
		mappings.OfferParameterSystem + `","code":"bed-type"}]},"valueCodeableConcept":{"coding":[{"system":"x","code":"y"}]}}]}`))
	f.Add([]byte(`{"resourceType":"Task","status":"requested","intent":"order","focus":{"reference":"ServiceRequest/"}}`))
	f.Add([]byte(`{"resourceType":"Task"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := mappings.TaskToRequest(raw)
		checkErr(t, err)
		if err != nil {
			return
		}
		// What was read renders and reads back the same.
		o := discharge.Offer{ID: r.ID, State: r.Status, ServiceRequestID: r.ServiceRequestID, PatientID: r.PatientID,
			EncounterID: r.EncounterID, Owner: r.Owner, Requester: r.Requester, HealthcareServiceID: r.HealthcareServiceID,
			LocationID: r.LocationID, Deadline: r.Deadline, Reason: r.Reason, ReasonText: r.ReasonText}
		if r.BedType != "" && r.HeldLocationID != "" {
			o.Hold = &discharge.Hold{LocationID: r.HeldLocationID, BedType: r.BedType}
		}
		body, err := mappings.OfferToTask(o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := mappings.TaskToRequest(body); err != nil {
			t.Fatalf("a rendered Task does not read back: %v\n%s", err, body)
		}
	})
}

func FuzzMinimisedEncounter(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Encounter","id":"e1","status":"in-progress","extension":[{"url":"` + mappings.PathwayExtensionURL + `","valueCodeableConcept":{}}],"subject":{"reference":"Patient/1"}}`))
	f.Add([]byte(`{"resourceType":"Encounter","extension":[1,"x",null]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, err := mappings.MinimisedEncounter(raw)
		if err != nil {
			checkErr(t, err)
			return
		}
		// Only these elements pass (subject too: fhir.Validate requires it
		// of an Encounter, and the pack's Task names the same Patient).
		var doc map[string]any
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		for k := range doc {
			switch k {
			case "resourceType", "id", "status", "class", "subject", "extension":
			default:
				t.Fatalf("the minimised Encounter keeps %s: %s", k, out)
			}
		}
	})
}
