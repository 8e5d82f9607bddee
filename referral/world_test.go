package referral_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/internal/pgrecordtest"
	"github.com/dischargegateway/gateway/internal/pgtest"
	"github.com/dischargegateway/gateway/internal/sqlitetest"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/referral"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	sqlitetest.Cleanup()
	os.Exit(code)
}

// clock is a settable clock for the service.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// world is a record with a trust RXX (cases sr1..srN), a second trust RYY,
// a hub of RXX, and providers P1 (org1: svc1 at loc1), P2 (org2: svc2 at
// loc2) and so on to P8, each posting vacancies.
type world struct {
	st    *sqlstore.Store
	rec   *sqlstore.Referral
	caps  *sqlstore.Capacity
	svc   *referral.Service
	clock *clock
	audit *memAudit
}

type memAudit struct {
	mu      sync.Mutex
	entries []auth.AuditEntry
}

func (a *memAudit) Record(_ context.Context, e auth.AuditEntry) error {
	a.mu.Lock()
	a.entries = append(a.entries, e)
	a.mu.Unlock()
	return nil
}

var (
	trust    = &auth.Principal{ClientID: "trust-client", Org: "RXX", Role: auth.RoleTrust}
	trust2   = &auth.Principal{ClientID: "trust2-client", Org: "RYY", Role: auth.RoleTrust}
	hub      = &auth.Principal{ClientID: "hub-client", Org: "HUB1", Role: auth.RoleHub, Members: []string{"RXX"}}
	otherHub = &auth.Principal{ClientID: "hub2-client", Org: "HUB2", Role: auth.RoleHub, Members: []string{"RYY"}}
	prov1    = &auth.Principal{ClientID: "p1-client", Org: "P1", OrgSystem: mappings.CQCProviderSystem, Role: auth.RoleCareProvider}
	prov2    = &auth.Principal{ClientID: "p2-client", Org: "P2", OrgSystem: mappings.CQCProviderSystem, Role: auth.RoleCareProvider}
)

const bed = discharge.BedNursing

// providers is how many providers (and homes) a world has.
const providers = 8

var start = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

// newWorld opens a record on SQLite, or on PostgreSQL when pg (a private
// database on the shared test server), with cases in RXX, RYY and
// moreTrusts.
func newWorld(t testing.TB, pg bool, cases int, vacancies int, moreTrusts ...string) *world {
	t.Helper()
	url := ""
	if pg {
		url = pgrecordtest.URL(t)
	}
	return newWorldAt(t, url, cases, vacancies, moreTrusts...)
}

// newWorldAt is newWorld on the record at url (SQLite when empty).
func newWorldAt(t testing.TB, url string, cases int, vacancies int, moreTrusts ...string) *world {
	t.Helper()
	ctx := context.Background()
	dataDir := ""
	if url == "" {
		dataDir = sqlitetest.Dir(t)
	}
	st, err := sqlstore.Open(ctx, url, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := &world{st: st, rec: sqlstore.NewReferral(st), caps: sqlstore.NewCapacity(st), clock: &clock{t: start}, audit: &memAudit{}}
	w.svc = referral.New(w.rec, referral.Options{Now: w.clock.Now, Audit: w.audit})
	put := func(partition string, docs ...string) {
		var ws []fhir.Write
		for _, d := range docs {
			var m map[string]any
			if err := json.Unmarshal([]byte(d), &m); err != nil {
				t.Fatal(err, d)
			}
			fhir.Stamp(m, m["id"].(string), 1, start)
			b, _ := json.Marshal(m)
			ws = append(ws, fhir.Write{Resource: fhir.Resource{Type: m["resourceType"].(string), ID: m["id"].(string), VersionID: 1, LastUpdated: start, JSON: b}})
		}
		if err := st.Commit(ctx, partition, ws, nil); err != nil {
			t.Fatal(err)
		}
	}
	var dir []string
	for i := 1; i <= providers; i++ {
		dir = append(dir,
			fmt.Sprintf(`{"resourceType":"Organization","id":"org%d","identifier":[{"system":%q,"value":"P%d"}]}`, i, mappings.CQCProviderSystem, i),
			fmt.Sprintf(`{"resourceType":"Location","id":"loc%d","managingOrganization":{"reference":"Organization/org%d"}}`, i, i),
			fmt.Sprintf(`{"resourceType":"HealthcareService","id":"svc%d","providedBy":{"reference":"Organization/org%d"},"location":[{"reference":"Location/loc%d"}]}`, i, i, i))
	}
	put(fhir.DirectoryPartition, dir...)
	for _, trust := range append([]string{"RXX", "RYY"}, moreTrusts...) {
		var docs []string
		for i := 1; i <= cases; i++ {
			docs = append(docs,
				fmt.Sprintf(`{"resourceType":"Patient","id":"%s-p%d","name":[{"family":"Secret"}],"birthDate":"1940-05-01","address":[{"use":"home","postalCode":"M14 5AB"}]}`, trust, i),
				fmt.Sprintf(`{"resourceType":"Encounter","id":"%s-e%d","status":"in-progress","class":{"code":"IMP"},"subject":{"reference":"Patient/%s-p%d"}}`, trust, i, trust, i),
				fmt.Sprintf(`{"resourceType":"ServiceRequest","id":"%s-sr%d","status":"active","intent":"order","subject":{"reference":"Patient/%s-p%d"},"encounter":{"reference":"Encounter/%s-e%d"}}`, trust, i, trust, i, trust, i))
		}
		put(trust, docs...)
	}
	for i := 1; i <= providers; i++ {
		w.post(t, fmt.Sprintf("loc%d", i), vacancies)
	}
	return w
}

// post records a posting of n nursing vacancies at loc.
func (w *world) post(t testing.TB, loc string, n int) {
	t.Helper()
	w.clock.Add(time.Millisecond)
	_, _, err := w.caps.Record(context.Background(), discharge.Capacity{LocationID: loc, AsOf: w.clock.Now(),
		Beds: []discharge.BedCapacity{{Type: bed, MaxCapacity: 20, Occupied: 20 - n, AcceptingAdmissions: n}}})
	if err != nil {
		t.Fatal(err)
	}
}

// taskJSON is a new offer of a trust's case sr to provider i.
func taskJSON(sr string, provider int) []byte {
	return []byte(fmt.Sprintf(`{"resourceType":"Task","status":"requested","intent":"order",
		"focus":{"reference":"ServiceRequest/%s"},"owner":{"reference":"Organization/org%d"},
		"input":[{"type":{"coding":[{"system":%q,"code":"healthcare-service"}]},"valueReference":{"reference":"HealthcareService/svc%d"}}]}`,
		sr, provider, mappings.OfferParameterSystem, provider))
}

// answer is a Task update to status (accepted: with the offered
// Location's bed; rejected: no-vacancy).
func answer(status discharge.OfferState, loc string) []byte {
	extra := ""
	switch status {
	case discharge.OfferAccepted:
		extra = fmt.Sprintf(`,"output":[{"type":{"coding":[{"system":%q,"code":"location"}]},"valueReference":{"reference":"Location/%s"}},
			{"type":{"coding":[{"system":%q,"code":"bed-type"}]},"valueCodeableConcept":{"coding":[{"system":%q,"code":%q}]}}]`,
			mappings.OfferParameterSystem, loc, mappings.OfferParameterSystem, mappings.BedTypeSystem, bed)
	case discharge.OfferRejected:
		extra = fmt.Sprintf(`,"statusReason":{"coding":[{"system":%q,"code":"no-vacancy"}]}`, mappings.OfferRejectReasonSystem)
	}
	return []byte(fmt.Sprintf(`{"resourceType":"Task","status":%q,"intent":"order"%s}`, status, extra))
}

func (w *world) send(t testing.TB, p *auth.Principal, sr string, provider int) string {
	t.Helper()
	r, err := w.svc.Send(context.Background(), p, taskJSON(sr, provider))
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	return r.Resource.ID
}

// activeHolds counts the active holds at loc.
func (w *world) activeHolds(t testing.TB, loc string) int {
	t.Helper()
	vacant, held, err := w.rec.Bookable(context.Background(), loc, bed)
	_ = vacant
	if err != nil {
		t.Fatal(err)
	}
	return held
}

func kindOf(err error) discharge.Kind {
	if err == nil {
		return 255
	}
	return discharge.ErrorKind(err)
}

func detailOf(err error) string {
	var de *discharge.Error
	if !errors.As(err, &de) || len(de.Issues) == 0 {
		return ""
	}
	return de.Issues[0].Detail
}
