package records_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/records"
)

// fakeCloser records the cases it was asked to close.
type fakeCloser struct {
	closed []string
	fail   error
}

func (f *fakeCloser) CloseCase(_ context.Context, partition, encounterID string, finished bool) error {
	f.closed = append(f.closed, partition+"/"+encounterID+"/"+strconv.FormatBool(finished))
	return f.fail
}

func encounter(status string) []byte {
	return []byte(`{"resourceType":"Encounter","status":"` + status + `","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"IMP"},"subject":{"reference":"Patient/p1"}}`)
}

// Writing an Encounter that has ended closes its case after the commit,
// by create, update or transaction; one still in progress closes nothing;
// a closer that fails leaves the write done and logs no id.
func TestEndedEncounterClosesCase(t *testing.T) {
	ctx := context.Background()
	cl := &fakeCloser{}
	var logs bytes.Buffer
	n := 0
	s := records.New(records.Config{}, records.Deps{Store: &fakeStore{res: map[string]map[string]fhir.Resource{
		"RXA": {"Patient/p1": {Type: "Patient", ID: "p1", VersionID: 1, JSON: []byte(`{"resourceType":"Patient","id":"p1"}`)}}}}, Cases: cl, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		NewID: func() string { n++; return "enc" + strconv.Itoa(n) }})
	if _, err := s.Create(ctx, trust("RXA"), "Encounter", encounter("in-progress"), ""); err != nil {
		t.Fatal(err)
	}
	if len(cl.closed) != 0 {
		t.Fatalf("an open Encounter closed %v", cl.closed)
	}
	if _, err := s.Create(ctx, trust("RXA"), "Encounter", encounter("finished"), ""); err != nil {
		t.Fatal(err)
	}
	bundle := `{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:8f7e5c1a-0000-4000-8000-000000000001","resource":` + string(encounter("cancelled")) +
		`,"request":{"method":"POST","url":"Encounter"}}]}`
	if _, err := s.Bundle(ctx, trust("RXA"), []byte(bundle), ""); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cl.closed, ","); got != "RXA/enc2/true,RXA/enc3/false" {
		t.Fatalf("closed %s", got)
	}
	cl.fail = errors.New("record down")
	if _, err := s.Create(ctx, trust("RXA"), "Encounter", encounter("entered-in-error"), ""); err != nil {
		t.Fatalf("a failed closure failed the write: %v", err)
	}
	if !strings.Contains(logs.String(), "referral sweep will retry") || strings.Contains(logs.String(), "enc4") {
		t.Fatalf("log %s", logs.String())
	}
}
