package records_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/records"
)

// A transaction whose commit loses a race (KindRetry) is planned again from
// the entries as sent: the write path stamps and rewrites the validator's
// documents in place, so a retry that reused them would keep the first
// attempt's ids and references. The second attempt's Encounter must refer
// to the second attempt's Patient, and each resource carry its own id.
func TestTransactionRetryStartsFromTheBody(t *testing.T) {
	n, commits := 0, 0
	st := &fakeStore{}
	st.commit = func(string, []fhir.Write) error {
		commits++
		if commits == 1 {
			return discharge.KindOf(discharge.KindRetry)
		}
		return nil
	}
	s := records.New(records.Config{}, records.Deps{Store: st, NewID: func() string { n++; return "id" + strconv.Itoa(n) }})
	bundle := `{"resourceType":"Bundle","type":"transaction","entry":[
		{"fullUrl":"urn:uuid:8f7e5c1a-0000-4000-8000-000000000001","resource":{"resourceType":"Patient","birthDate":"1941-03-02"},
		 "request":{"method":"POST","url":"Patient"}},
		{"fullUrl":"urn:uuid:8f7e5c1a-0000-4000-8000-000000000002","resource":{"resourceType":"Encounter","status":"in-progress",
		 "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"IMP"},
		 "subject":{"reference":"urn:uuid:8f7e5c1a-0000-4000-8000-000000000001"}},
		 "request":{"method":"POST","url":"Encounter"}}]}`
	res, err := s.Bundle(context.Background(), trust("RXA"), []byte(bundle), "")
	if err != nil {
		t.Fatal(err)
	}
	if commits != 2 {
		t.Fatalf("%d commits, want 2 (one refused, one retried)", commits)
	}
	pat, enc := res.Entries[0].Resource, res.Entries[1].Resource
	if pat.ID != "id3" || enc.ID != "id4" {
		t.Fatalf("ids %s, %s: want the second attempt's, id3 and id4", pat.ID, enc.ID)
	}
	if !strings.Contains(string(enc.JSON), `"subject":{"reference":"Patient/id3"}`) {
		t.Errorf("the retried Encounter refers elsewhere: %s", enc.JSON)
	}
	if !strings.Contains(string(pat.JSON), `"id":"id3"`) || !strings.Contains(string(enc.JSON), `"id":"id4"`) {
		t.Errorf("stored JSON carries another id: %s / %s", pat.JSON, enc.JSON)
	}
	if got := string(st.res["RXA"]["Encounter/id4"].JSON); got != string(enc.JSON) {
		t.Errorf("stored %s, answered %s", got, enc.JSON)
	}
}
