package audittrail_test

import (
	"context"
	"errors"
	"net/url"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/audittrail"
	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// fakeLog records the query it was asked and answers with page.
type fakeLog struct {
	asked []auth.AuditQuery
	page  auth.AuditPage
	err   error
}

func (f *fakeLog) Search(_ context.Context, q auth.AuditQuery) (auth.AuditPage, error) {
	f.asked = append(f.asked, q)
	return f.page, f.err
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// sameQuery compares queries, their times as instants.
func sameQuery(a, b auth.AuditQuery) bool {
	return a.From.Equal(b.From) && a.To.Equal(b.To) &&
		a.Agent == b.Agent && a.Entity == b.Entity && a.Offset == b.Offset && a.Count == b.Count
}

func TestSearchQuery(t *testing.T) {
	day := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, tc := range []struct {
		name    string
		query   string
		want    auth.AuditQuery
		applied url.Values
	}{
		{"no filter: the default page", "", auth.AuditQuery{Count: fhir.DefaultCount}, url.Values{}},
		{"agent and entity, first value only", "agent=trust-a&agent=other&entity=Patient/1&_count=5&_offset=10",
			auth.AuditQuery{Agent: "trust-a", Entity: "Patient/1", Offset: 10, Count: 5},
			url.Values{"agent": {"trust-a"}, "entity": {"Patient/1"}}},
		{"date eq is the day", "date=2026-03-04",
			auth.AuditQuery{From: day("2026-03-04"), To: day("2026-03-05"), Count: fhir.DefaultCount},
			url.Values{"date": {"2026-03-04"}}},
		{"date ge and le bound both ends", "date=ge2026-03-04&date=le2026-03",
			auth.AuditQuery{From: day("2026-03-04"), To: day("2026-04-01"), Count: fhir.DefaultCount},
			url.Values{"date": {"ge2026-03-04", "le2026-03"}}},
		{"_count above the maximum is served as the maximum", "_count=100000&_total=accurate&_format=json",
			auth.AuditQuery{Count: fhir.MaxCount}, url.Values{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &fakeLog{page: auth.AuditPage{Total: 0}}
			page, warns, err := audittrail.New(log).Search(context.Background(), mustQuery(t, tc.query), true)
			if err != nil {
				t.Fatal(err)
			}
			if len(warns) != 0 {
				t.Errorf("warnings %v", warns)
			}
			if len(log.asked) != 1 || !sameQuery(log.asked[0], tc.want) {
				t.Errorf("asked %+v, want %+v", log.asked, tc.want)
			}
			if !reflect.DeepEqual(page.Applied, tc.applied) {
				t.Errorf("applied %v, want %v", page.Applied, tc.applied)
			}
		})
	}
}

func TestSearchRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, query string
		strict      bool
		kind        discharge.Kind
		expression  string
	}{
		{"not a date", "date=yesterday", false, discharge.KindValue, "date"},
		{"unknown date prefix", "date=sa2026-01-01", false, discharge.KindNotSupported, "date"},
		{"bad _count", "_count=x", false, discharge.KindValue, "_count"},
		{"negative _offset", "_offset=-1", false, discharge.KindValue, "_offset"},
		{"unknown parameter when strict", "subject=Patient/1", true, discharge.KindNotSupported, "subject"},
		// Names are read in order, so the first problem does not depend on
		// map order.
		{"first problem by name", "zzz=1&date=bad", true, discharge.KindValue, "date"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &fakeLog{}
			_, _, err := audittrail.New(log).Search(context.Background(), mustQuery(t, tc.query), tc.strict)
			var de *discharge.Error
			if !errors.As(err, &de) || de.Kind != tc.kind || len(de.Issues) == 0 || de.Issues[0].Expression != tc.expression {
				t.Fatalf("err %v, want %v at %s", err, tc.kind, tc.expression)
			}
			if len(log.asked) != 0 {
				t.Error("the log was searched after a refusal")
			}
		})
	}
}

func TestSearchWarns(t *testing.T) {
	log := &fakeLog{page: auth.AuditPage{Total: 0}}
	page, warns, err := audittrail.New(log).Search(context.Background(), mustQuery(t, "subject=Patient/1&agent=a"), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 1 || warns[0].Kind != discharge.KindNotSupported || warns[0].Expression != "subject" ||
		warns[0].Severity != discharge.SeverityWarning {
		t.Fatalf("warnings %+v", warns)
	}
	if _, ok := page.Applied["subject"]; ok {
		t.Error("an ignored parameter is in the links")
	}
}

func TestSearchPage(t *testing.T) {
	entries := func(n int) []auth.AuditEntry {
		out := make([]auth.AuditEntry, n)
		for i := range out {
			out[i] = auth.AuditEntry{RequestID: "r" + string(rune('a'+i))}
		}
		out[0].ID = "1700000000000-0" // the log's own id is kept
		return out
	}
	rels := func(links []fhir.Link) []string {
		var out []string
		for _, l := range links {
			out = append(out, l.Relation)
		}
		return out
	}
	for _, tc := range []struct {
		name      string
		query     string
		log       auth.AuditPage
		total     int // -1: none
		linkTotal int
		rels      []string
		truncated bool
	}{
		{"counted", "_count=2&_offset=2", auth.AuditPage{Entries: entries(2), Total: 7}, 7, 7,
			[]string{"self", "first", "previous", "next", "last"}, false},
		{"truncated but counted", "_count=2", auth.AuditPage{Entries: entries(2), Total: 7, Truncated: true}, 7, 7,
			[]string{"self", "first", "next", "last"}, true},
		{"not counted, full page: a next link, no last", "_count=2&_offset=4", auth.AuditPage{Entries: entries(2), Total: -1, Truncated: true}, -1, 7,
			[]string{"self", "first", "previous", "next"}, true},
		{"not counted, short page: no next", "_count=3&_offset=4", auth.AuditPage{Entries: entries(2), Total: -1, Truncated: true}, -1, 6,
			[]string{"self", "first", "previous"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, warns, err := audittrail.New(&fakeLog{page: tc.log}).Search(context.Background(), mustQuery(t, tc.query), true)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.total < 0 && page.Total != nil:
				t.Errorf("total %d, want none", *page.Total)
			case tc.total >= 0 && (page.Total == nil || *page.Total != tc.total):
				t.Errorf("total %v, want %d", page.Total, tc.total)
			}
			if got := page.LinkTotal(); got != tc.linkTotal {
				t.Errorf("link total %d, want %d", got, tc.linkTotal)
			}
			if got := rels(page.Links("https://x/fhir/AuditEvent")); !reflect.DeepEqual(got, tc.rels) {
				t.Errorf("links %v, want %v", got, tc.rels)
			}
			if tc.truncated != (len(warns) == 1 && warns[0].Kind == discharge.KindTooLarge && warns[0].Expression == "date") {
				t.Errorf("warnings %+v, truncated %v", warns, tc.truncated)
			}
			if page.Entries[0].ID != "1700000000000-0" {
				t.Errorf("the log's id was replaced: %q", page.Entries[0].ID)
			}
			// An entry without the log's id gets one from its request id
			// and its position in the whole result.
			if want := "audit-rb-" + strconv.Itoa(page.Paging.Offset+1); page.Entries[1].ID != want {
				t.Errorf("id %q, want %q", page.Entries[1].ID, want)
			}
		})
	}
}

func TestSearchLogError(t *testing.T) {
	boom := discharge.Wrap(discharge.KindUnavailable, "audit", errors.New("down"))
	_, _, err := audittrail.New(&fakeLog{err: boom}).Search(context.Background(), url.Values{}, false)
	if !errors.Is(err, boom) {
		t.Fatalf("err %v, want the log's", err)
	}
}

// TestSearchWithoutALog: a gateway built without an audit log answers a
// search with not-supported, never a panic (a 500).
func TestSearchWithoutALog(t *testing.T) {
	_, _, err := audittrail.New(nil).Search(context.Background(), url.Values{}, false)
	if discharge.ErrorKind(err) != discharge.KindNotSupported {
		t.Fatalf("got %v", err)
	}
}
