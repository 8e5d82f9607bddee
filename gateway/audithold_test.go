package gateway_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dischargegateway/gateway/auth"
)

// countingListener counts the bytes the server writes to its connections.
type countingListener struct {
	net.Listener
	written *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{Conn: c, written: l.written}, nil
}

type countingConn struct {
	net.Conn
	written *atomic.Int64
}

// Write counts before writing, so no byte reaches the client uncounted.
func (c countingConn) Write(p []byte) (int, error) {
	c.written.Add(int64(len(p)))
	return c.Conn.Write(p)
}

// gatedAudit is the real audit trail with a hook before each entry of the
// requests the test names (by X-Request-Id), and a failure it may inject.
type gatedAudit struct {
	auth.AuditLog
	mu     sync.Mutex
	before func(auth.AuditEntry) error // nil error: record it
}

func (g *gatedAudit) Record(ctx context.Context, e auth.AuditEntry) error {
	g.mu.Lock()
	before := g.before
	g.mu.Unlock()
	if before != nil && strings.HasPrefix(e.RequestID, "gated-") {
		if err := before(e); err != nil {
			return err
		}
	}
	return g.AuditLog.Record(ctx, e)
}

func (g *gatedAudit) set(f func(auth.AuditEntry) error) {
	g.mu.Lock()
	g.before = f
	g.mu.Unlock()
}

// gatedPatient is a gateway whose audit trail is gated, holding one stored
// Patient (the fixture, with a family name and an NHS number to look for).
func gatedPatient(t *testing.T) (e *env, gate *gatedAudit, pat map[string]any, id string) {
	t.Helper()
	gate = &gatedAudit{}
	e = newEnvWith(t, envOptions{limit: 100000,
		audit: func(a auth.AuditLog) auth.AuditLog { gate.AuditLog = a; return gate }})
	pat = fixture(t, "patient.json")
	id = str(e.do("POST", "/fhir/Patient", pat).mustStatus(t, http.StatusCreated).json, "id")
	if str(pat, "name", 0, "family") == "" || str(pat, "identifier", 0, "value") == "" {
		t.Fatal("the fixture has no family name or NHS number to look for")
	}
	return e, gate, pat, id
}

// A patient's history of twenty versions is an answer larger than net/http's
// buffers: before, most of it had left for the caller when the audit entry
// was written, so a process killed between the two disclosed the history
// with no trail. Now not a byte of the answer is written to the connection
// until the entry is committed.
func TestNothingLeavesBeforeItsAuditEntry(t *testing.T) {
	var written atomic.Int64
	gate := &gatedAudit{}
	e := newEnvWith(t, envOptions{limit: 100000,
		audit:  func(a auth.AuditLog) auth.AuditLog { gate.AuditLog = a; return gate },
		listen: func(l net.Listener) net.Listener { return countingListener{Listener: l, written: &written} }})
	admin := e.tokenFor("ops", auth.RoleAdmin, "DGADMIN", "system/AuditEvent.rs")
	pat := fixture(t, "patient.json")
	id := str(e.do("POST", "/fhir/Patient", pat).mustStatus(t, http.StatusCreated).json, "id")
	pat["id"] = id
	for v := 2; v <= 20; v++ {
		pat["gender"] = []string{"male", "female"}[v%2]
		e.do("PUT", "/fhir/Patient/"+id, pat).mustStatus(t, http.StatusOK)
	}

	// Every earlier answer has been read whole, so the server has written
	// all it will for them.
	var atEntry, afterEntry int64
	base := written.Load()
	gate.set(func(auth.AuditEntry) error { atEntry = written.Load(); return nil })
	h := e.do("GET", "/fhir/Patient/"+id+"/_history", nil, "X-Request-Id", "gated-history").mustStatus(t, http.StatusOK)
	afterEntry = written.Load()
	if len(h.body) < 12<<10 {
		t.Fatalf("the history is %d bytes: too small to leave before the handler returns", len(h.body))
	}
	if atEntry != base {
		t.Fatalf("%d bytes of the answer were written before its audit entry", atEntry-base)
	}
	if afterEntry-base < int64(len(h.body)) {
		t.Fatalf("%d bytes written in all for a %d-byte body", afterEntry-base, len(h.body))
	}
	trail, _ := e.auditTrail(t, admin, "&entity=Patient/"+id)
	if got := trail["gated-history"]; len(got) != 1 {
		t.Fatalf("audit entries of the history read: %v", got)
	}
}

// When the access cannot be recorded, a read or a search discloses nothing:
// 503 with an OperationOutcome, none of the held answer, and no patient
// data in the log. A create has already written the record, so its answer
// still goes (a refusal would invite a second create), and the failure is
// logged.
func TestNoDisclosureWithoutAnAuditEntry(t *testing.T) {
	e, gate, pat, id := gatedPatient(t)
	family, nhs := str(pat, "name", 0, "family"), str(pat, "identifier", 0, "value")
	gate.set(func(auth.AuditEntry) error { return errors.New("audit trail unavailable") })

	for _, path := range []string{"/fhir/Patient/" + id, "/fhir/Patient?_id=" + id, "/fhir/Patient/" + id + "/_history/1"} {
		r := e.do("GET", path, nil, "X-Request-Id", "gated-read").mustStatus(t, http.StatusServiceUnavailable)
		if code, _ := r.issue(t); code != "transient" {
			t.Errorf("GET %s: issue code %q", path, code)
		}
		if str(r.json, "resourceType") != "OperationOutcome" || strings.Contains(string(r.body), family) || strings.Contains(string(r.body), nhs) {
			t.Errorf("GET %s disclosed: %s", path, r.body)
		}
		if r.header.Get("ETag") != "" || r.header.Get("Last-Modified") != "" || r.header.Get("Retry-After") == "" {
			t.Errorf("GET %s headers: %v", path, r.header)
		}
	}
	// An entry that could not be written before the request's deadline is
	// the deadline's 503.
	gate.set(func(auth.AuditEntry) error { return context.DeadlineExceeded })
	if code, _ := e.do("GET", "/fhir/Patient/"+id, nil, "X-Request-Id", "gated-late").mustStatus(t, http.StatusServiceUnavailable).issue(t); code != "timeout" {
		t.Errorf("audit past the deadline: issue code %q", code)
	}
	gate.set(func(auth.AuditEntry) error { return errors.New("audit trail unavailable") })

	// A missing resource discloses nothing: its 404 stands.
	e.do("GET", "/fhir/Patient/no-such-patient", nil, "X-Request-Id", "gated-missing").mustStatus(t, http.StatusNotFound)

	delete(pat, "id")
	pat["identifier"] = []any{map[string]any{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9000000009"}}
	c := e.do("POST", "/fhir/Patient", pat, "X-Request-Id", "gated-create").mustStatus(t, http.StatusCreated)
	if str(c.json, "id") == "" {
		t.Fatalf("create: %s", c.body)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "audit record failed") {
		t.Fatal("the audit failures were not logged")
	}
	if strings.Contains(logs, family) || strings.Contains(logs, nhs) || strings.Contains(logs, "9000000009") {
		t.Fatal("the log holds patient data")
	}

	// With the trail back, the same read answers.
	gate.set(nil)
	e.do("GET", "/fhir/Patient/"+id, nil).mustStatus(t, http.StatusOK)
}

// A batch answers each entry on its own, so a GET entry whose access cannot
// be recorded discloses nothing in its own entry (503, transient, no
// resource), while the batch's create still answers 201: the record has
// changed. With the trail back, the same batch reads again.
func TestBatchReadsDiscloseNothingWithoutAnAuditEntry(t *testing.T) {
	e, gate, pat, id := gatedPatient(t)
	family, nhs := str(pat, "name", 0, "family"), str(pat, "identifier", 0, "value")
	other := fixture(t, "patient.json")
	other["identifier"] = []any{map[string]any{"system": "https://example.org/mrn", "value": "gated-batch"}}
	batch := map[string]any{"resourceType": "Bundle", "type": "batch", "entry": []any{
		map[string]any{"request": map[string]any{"method": "GET", "url": "Patient/" + id}},
		map[string]any{"request": map[string]any{"method": "GET", "url": "Patient?_id=" + id}},
		map[string]any{"resource": other, "request": map[string]any{"method": "POST", "url": "Patient"}},
		map[string]any{"request": map[string]any{"method": "GET", "url": "Patient/no-such-patient"}},
	}}
	want := []struct{ status, code string }{{"503", "transient"}, {"503", "transient"}, {"201", ""}, {"404", "not-found"}}

	for _, fail := range []struct {
		err  error
		code string
	}{{errors.New("audit trail unavailable"), "transient"}, {context.DeadlineExceeded, "timeout"}} {
		gate.set(func(auth.AuditEntry) error { return fail.err })
		r := e.do("POST", "/fhir", batch, "X-Request-Id", "gated-batch").mustStatus(t, http.StatusOK)
		if strings.Contains(string(r.body), family) || strings.Contains(string(r.body), nhs) {
			t.Fatalf("the batch disclosed the patient: %s", r.body)
		}
		entries, _ := r.json["entry"].([]any)
		if len(entries) != len(want) {
			t.Fatalf("%d entries: %s", len(entries), r.body)
		}
		for i, w := range want {
			en := entries[i]
			if st := str(en, "response", "status"); !strings.HasPrefix(st, w.status) {
				t.Errorf("entry %d status %q, want %s", i, st, w.status)
			}
			code := str(en, "response", "outcome", "issue", 0, "code")
			if w.code == "transient" {
				w.code = fail.code
			}
			if code != w.code {
				t.Errorf("entry %d issue code %q, want %q", i, code, w.code)
			}
			if m, ok := en.(map[string]any); ok && m["resource"] != nil {
				t.Errorf("entry %d carries a resource", i)
			}
		}
	}
	if logs := e.logs.String(); strings.Contains(logs, family) || strings.Contains(logs, nhs) {
		t.Fatal("the log holds patient data")
	}

	gate.set(nil)
	r := e.do("POST", "/fhir", batch, "X-Request-Id", "gated-batch").mustStatus(t, http.StatusOK)
	for i, typ := range []string{"Patient", "Bundle"} {
		en := r.json["entry"].([]any)[i]
		if st := str(en, "response", "status"); !strings.HasPrefix(st, "200") || str(en, "resource", "resourceType") != typ {
			t.Errorf("entry %d with the trail back: %q %q", i, st, str(en, "resource", "resourceType"))
		}
	}
}
