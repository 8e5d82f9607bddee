package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/cases"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/referral"
	"github.com/dischargegateway/gateway/web"
)

// memCases is an in-memory cases.Store of open cases, so the benchmark
// measures the dashboard's own work over the real cases.Service: the
// session, the service's parsing, merging and escalation, the audit, the
// template. The store's worklist query over 10,000 cases is measured at
// the store (adapters/sqlstore BenchmarkWorklist, docs/performance.md).
type memCases struct{ rows []cases.WorklistRow }

func (m *memCases) Events(context.Context, string, string) ([]referral.Event, error) { return nil, nil }
func (m *memCases) Offers(context.Context, string, string) ([]discharge.Offer, error) {
	return nil, nil
}
func (m *memCases) AppendEvent(_ context.Context, e referral.Event) (referral.Event, error) {
	return e, nil
}
func (m *memCases) Facts(context.Context, string, time.Time) ([]cases.CaseFacts, error) {
	return nil, nil
}
func (m *memCases) Answers(context.Context, string, time.Time) ([]cases.Answer, error) {
	return nil, nil
}

// Worklist pages the partition's rows in NCTR order (they are kept
// sorted), as the store's index range does.
func (m *memCases) Worklist(_ context.Context, partition string, q cases.WorklistQuery) (cases.WorklistResult, error) {
	var res cases.WorklistResult
	for _, r := range m.rows {
		if r.Partition != partition {
			continue
		}
		if res.Total >= q.Offset && len(res.Rows) < q.Limit {
			res.Rows = append(res.Rows, r)
		}
		res.Total++
	}
	return res, nil
}

func tenThousandOpenCases(now time.Time) *memCases {
	m := &memCases{}
	states := []referral.CaseState{referral.CaseReferred, referral.CaseShortlisted, referral.CaseOffersSent, referral.CaseAccepted}
	for i := range 10000 {
		since := discharge.DateOf(now.AddDate(0, 0, -(i % 60)))
		drd := since
		m.rows = append(m.rows, cases.WorklistRow{Partition: "RXA", CaseID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i),
			State: states[i%len(states)], Pathway: fmt.Sprint(i % 4), NCTRSince: &since, DRD: &drd, Updated: now,
			FirstOfferSent: now.Add(-time.Duration(i%10) * time.Hour)})
	}
	sort.SliceStable(m.rows, func(i, j int) bool { return m.rows[i].NCTRSince.Before(*m.rows[j].NCTRSince) })
	return m
}

// BenchmarkWorklistRender: GET /worklist (50 rows of 10,000 open cases)
// as a signed-in hub, through HTTP, against a bare Echo handler writing
// a page of the same size through the same HTTP path (the baseline). The
// target is p99 ≤ 100 ms for the server render.
func BenchmarkWorklistRender(b *testing.B) {
	now := time.Now()
	svc := cases.New(cases.DefaultConfig(), nil, tenThousandOpenCases(now), func() time.Time { return now })
	e := newEnv(b, web.Deps{Cases: svc})
	c, _ := e.signIn(b, "hub")
	first := e.get(b, c, "/worklist")
	if first.status != http.StatusOK || !strings.Contains(first.body, "of 10000") {
		b.Fatalf("worklist: %d %.300s", first.status, first.body)
	}
	bare := echo.New()
	page := []byte(first.body)
	bare.GET("/worklist", func(c echo.Context) error { return c.HTMLBlob(http.StatusOK, page) })
	bareSrv := httptest.NewServer(bare)
	b.Cleanup(bareSrv.Close)

	// zc is the hub's session without the transport's own decompression.
	zc := &http.Client{Jar: c.Jar, Transport: &http.Transport{DisableCompression: true}}
	zipped := 0
	results := map[string][2]time.Duration{}
	for _, bc := range []struct {
		name string
		get  func() int
	}{
		{"bare-echo-same-page", func() int {
			resp, err := c.Get(bareSrv.URL + "/worklist")
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}},
		{"dashboard-worklist-10000", func() int { return e.get(b, c, "/worklist?sort=-nctrDays").status }},
		// The same page as the browser gets it from a dashboard link:
		// gzipped (web/compress.go), read compressed.
		{"dashboard-worklist-10000-gzip", func() int {
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/worklist?sort=-nctrDays", nil)
			req.Header.Set("Accept-Encoding", "gzip")
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			resp, err := zc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.Header.Get("Content-Encoding") != "gzip" {
				b.Fatal("not gzipped")
			}
			zipped = int(n)
			return resp.StatusCode
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var ds []time.Duration
			for b.Loop() {
				t0 := time.Now()
				if st := bc.get(); st != http.StatusOK {
					b.Fatal(st)
				}
				ds = append(ds, time.Since(t0))
			}
			slices.Sort(ds)
			p50, p99 := ds[len(ds)/2], ds[min(len(ds)-1, len(ds)*99/100)]
			b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
			results[bc.name] = [2]time.Duration{p50, p99}
		})
	}
	if out := os.Getenv("DASHBOARD_BENCH_OUT"); out != "" {
		base, dash, gz := results["bare-echo-same-page"], results["dashboard-worklist-10000"], results["dashboard-worklist-10000-gzip"]
		if base[0] == 0 || dash[0] == 0 || gz[0] == 0 {
			return
		}
		f, err := os.OpenFile(out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		fmt.Fprintf(f, "| %s | %d / %d | %.2f / %.2f ms | %.2f / %.2f ms | %.2f / %.2f ms | %.1fx / %.1fx |\n", now.UTC().Format("2006-01-02 15:04"),
			len(page), zipped, ms(base[0]), ms(base[1]), ms(dash[0]), ms(dash[1]), ms(gz[0]), ms(gz[1]),
			float64(dash[0])/float64(base[0]), float64(dash[1])/float64(base[1]))
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
