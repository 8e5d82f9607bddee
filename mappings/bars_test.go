package mappings_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
)

// TestBaRSMessageIn: the referral fixture maps to a transaction of its
// Patient, Encounter and ServiceRequest (conditional on their identifiers),
// and the record's verdicts on that transaction are named at the
// message's entries.
func TestBaRSMessageIn(t *testing.T) {
	m, err := mappings.BaRSMessageIn(read(t, "bars-referral.json"), fhir.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.ID != "1cbdfb97-5859-48a4-8301-d54eab818d68" || m.Header.EventCode != mappings.BaRSEventReferral {
		t.Errorf("header %+v", m.Header)
	}
	var tx struct {
		Type  string `json:"type"`
		Entry []struct {
			FullURL  string         `json:"fullUrl"`
			Resource map[string]any `json:"resource"`
			Request  struct{ Method, URL, IfNoneExist string }
		} `json:"entry"`
	}
	if err := json.Unmarshal(m.Transaction, &tx); err != nil {
		t.Fatal(err)
	}
	want := []struct{ typ, cond string }{
		{"Patient", "identifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C9434765919"},
		{"Encounter", "identifier=https%3A%2F%2Fsender.url%2FId%2Fcase-number%7Csender1234"},
		{"ServiceRequest", ""},
	}
	if tx.Type != "transaction" || len(tx.Entry) != len(want) {
		t.Fatalf("transaction %s", m.Transaction)
	}
	for i, w := range want {
		e := tx.Entry[i]
		if e.Request.Method != "POST" || e.Request.URL != w.typ || e.Request.IfNoneExist != w.cond || e.Resource["resourceType"] != w.typ {
			t.Errorf("entry %d: %+v, want %s if-none-exist %q", i, e.Request, w.typ, w.cond)
		}
	}
	// Paths: transaction entry 0 (the Patient) is message entry 5.
	err = m.Rebase(&discharge.Error{Kind: discharge.KindMultipleMatches, Issues: []discharge.Issue{
		{Expression: "Bundle.entry[0].request.ifNoneExist"}, {Expression: "Bundle.entry[2].resource.code"},
		{Expression: "Bundle.entry[1]"}, {Expression: "Patient.name"}, {Expression: "Bundle.entry["}, {Expression: "Bundle.entry[9].x"}}})
	var de *discharge.Error
	if !errors.As(err, &de) {
		t.Fatal(err)
	}
	for i, w := range []string{"Bundle.entry[5].resource.identifier", "Bundle.entry[1].resource.code",
		"Bundle.entry[3].resource", "Patient.name", "Bundle.entry[", "Bundle.entry[9].x"} {
		if de.Issues[i].Expression != w {
			t.Errorf("issue %d at %q, want %q", i, de.Issues[i].Expression, w)
		}
	}
}

// TestBaRSTarget: NHSD-Target-Identifier is base64 JSON of an Identifier.
func TestBaRSTarget(t *testing.T) {
	ok := base64.StdEncoding.EncodeToString([]byte(`{"system":"https://fhir.nhs.uk/Id/dos-service-id","value":"111"}`))
	if got, err := mappings.BaRSTarget(ok); err != nil || got != "https://fhir.nhs.uk/Id/dos-service-id|111" {
		t.Errorf("%q %v", got, err)
	}
	for _, bad := range []string{"", "%%%", base64.StdEncoding.EncodeToString([]byte(`{"value":"1"}`)),
		base64.StdEncoding.EncodeToString([]byte(`[]`))} {
		if _, err := mappings.BaRSTarget(bad); discharge.ErrorKind(err) != discharge.KindValue {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// FuzzBaRSMessageIn: no message panics the decoder; a refusal is a
// *discharge.Error with issues, an acceptance a transaction of three
// entries and an id; any header it reads renders a response message
// that is valid FHIR.
func FuzzBaRSMessageIn(f *testing.F) {
	f.Add(read(f, "bars-referral.json"))
	examples, _ := filepath.Glob(filepath.Join("..", "..", "shared", "fhir-examples", "bars", "process_message", "*", "*.json"))
	for _, p := range examples {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"resourceType":"Bundle","type":"message"}`))
	f.Add([]byte(`{"resourceType":"Bundle","type":"message","entry":[{"fullUrl":"urn:uuid:1cbdfb97-5859-48a4-8301-d54eab818d68","resource":{"resourceType":"MessageHeader","eventCoding":{"system":"https://fhir.nhs.uk/CodeSystem/message-events-bars","code":"servicerequest-request"},"source":{"endpoint":"x"},"focus":[{"reference":"urn:uuid:1cbdfb97-5859-48a4-8301-d54eab818d68"}]}}]}`))
	f.Add([]byte(`null`))
	// Compile the Bundle schema (every resource type) in each worker before
	// the first input: under coverage instrumentation on a loaded machine it
	// can take longer than the fuzzer's per-input deadline.
	if err := fhir.Preload("Bundle"); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := mappings.BaRSMessageIn(raw, fhir.DefaultLimits)
		if err != nil {
			var de *discharge.Error
			if !errors.As(err, &de) || (len(de.Issues) == 0 && de.Message == "") {
				t.Fatalf("refusal %v is not a *discharge.Error that says why", err)
			}
			_ = m.Rebase(err)
		} else if m.Header.ID == "" || len(m.Transaction) == 0 {
			t.Fatalf("accepted without an id or a transaction: %+v", m)
		}
		if m.Header.ID == "" {
			return
		}
		out := mappings.BaRSResponse(mappings.BaRSReply{ID: "a", BundleID: "b", OutcomeID: "00000000-0000-4000-8000-000000000000",
			Time: time.Unix(0, 0), Request: m.Header, Code: mappings.ResponseFatalError, Source: "https://gw.example/fhir/$process-message",
			Outcome: fhir.OperationOutcome([]fhir.OutcomeIssue{{Code: fhir.IssueInvalid, Diagnostics: "x"}})})
		if _, err := fhir.Validate(out, "Bundle", fhir.DefaultLimits); err != nil {
			t.Fatalf("response message is not valid FHIR: %v\n%s", err, out)
		}
	})
}
