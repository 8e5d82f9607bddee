package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dischargegateway/gateway/adapters/cqccsv"
	"github.com/dischargegateway/gateway/adapters/geocode"
	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/capacity"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/internal/redistest"
)

// notEngland are the postcode areas of Scotland, Wales and Northern
// Ireland, left out of synthetic England.
var notEngland = map[string]bool{"AB": true, "DD": true, "DG": true, "EH": true, "FK": true, "G": true, "HS": true,
	"IV": true, "KA": true, "KW": true, "KY": true, "ML": true, "PA": true, "PH": true, "TD": true, "ZE": true,
	"CF": true, "LD": true, "LL": true, "NP": true, "SA": true, "BT": true}

// syntheticEngland writes a CQC-style CSV of n locations spread over
// England's postcode districts.
func syntheticEngland(tb testing.TB, n int) (string, *geocode.Table) {
	geo, err := geocode.LoadFiles(filepath.Join("..", "configs", "geo", "uk-outcode-centroids.csv"), "")
	if err != nil {
		tb.Fatal(err)
	}
	type place struct {
		oc       string
		lat, lon float64
	}
	var places []place
	geo.EachOutcode(func(oc string, p geocode.Point) {
		if !notEngland[geocode.Area(oc)] {
			places = append(places, place{oc, p.Lat, p.Lon})
		}
	})
	var b strings.Builder
	b.WriteString("name,cqcLocationId,providerId,services,specialisms,address,postcode,latitude,longitude,registeredBeds,contract,rating\n")
	settings := []string{"residential", "nursing;nursing-dementia", "residential;residential-dementia", "d2a-bed", "nursing"}
	for i := 0; i < n; i++ {
		p := places[i%len(places)]
		fmt.Fprintf(&b, "Home %d,1-%09d,1-%09d,%s,dementia,x,%s 1AA,%.5f,%.5f,%d,spot,good\n",
			i, 200000000+i, 300000000+i/4, settings[i%len(settings)], p.oc, p.lat+float64(i%11-5)*0.004, p.lon+float64(i%7-3)*0.006, 20+i%40)
	}
	return b.String(), geo
}

func importServer(b *testing.B) (*Server, *rediscache.Conn, *geocode.Table, string) {
	csv, geo := syntheticEngland(b, 25000)
	rs := redistest.Start(b)
	c, err := rediscache.Open(context.Background(), rediscache.Config{URL: rs.URL(), Timeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	rec, err := sqlstore.Open(context.Background(), "", b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rec.Close() })
	s := New(DefaultConfig(), Deps{Store: rec,
		Capacity: capacity.NewRecorded(sqlstore.NewCapacity(rec), rediscache.NewCapacityStore(c.Client), nil),
		Geocoder: geo, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	return s, c, geo, csv
}

// BenchmarkDirectoryImport25k imports 25,000 synthetic locations (75,000
// resources with indexes, plus the geo index) per op.
func BenchmarkDirectoryImport25k(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, _, _, csv := importServer(b)
		listings, rej, err := cqccsv.Parse(strings.NewReader(csv))
		if err != nil || len(rej) != 0 {
			b.Fatal(err, rej)
		}
		b.StartTimer()
		rep, err := s.ImportDirectory(context.Background(), listings, "")
		if err != nil || rep.Created != 25000 {
			b.Fatal(err, rep.Created)
		}
	}
	b.ReportMetric(25000*float64(b.N)/b.Elapsed().Seconds(), "locations/s")
}

// BenchmarkBaselineRawHSET75k is the raw floor for the import: 75,000 HSETs
// of the same resource sizes, pipelined 300 at a time.
func BenchmarkBaselineRawHSET75k(b *testing.B) {
	_, c, _, _ := importServer(b)
	doc := strings.Repeat("x", 700)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for start := 0; start < 75000; start += 300 {
			pipe := c.Client.Pipeline()
			for j := start; j < start+300; j++ {
				pipe.HSet(ctx, fmt.Sprintf("raw:%d:%d", i, j), "v", 1, "j", doc)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkCapacitySummary25k times GET /api/v1/capacity near a point with
// 25,000 locations posted, against the raw GEOSEARCH floor in the same run.
func BenchmarkCapacitySummary25k(b *testing.B) {
	s, c, geo, csv := importServer(b)
	listings, _, _ := cqccsv.Parse(strings.NewReader(csv))
	ctx := context.Background()
	now := time.Now()
	cs := rediscache.NewCapacityStore(c.Client) // the store s was built with
	for _, l := range listings {
		bt := discharge.BedNursing
		if l.Services[0] == discharge.CareResidential {
			bt = discharge.BedResidential
		}
		cp := discharge.Capacity{LocationID: "cqc-" + l.LocationID, AsOf: now, Beds: []discharge.BedCapacity{{Type: bt, MaxCapacity: 30, Occupied: 27, AcceptingAdmissions: 3}}}
		if _, _, err := cs.Put(ctx, cp, l.Position, geo.AreaOf(l.Postcode, *l.Position)); err != nil {
			b.Fatal(err)
		}
	}
	areas := geo.AreasNear(53.44, -2.22, 25)
	b.Run("baseline-raw-GEOSEARCH-and-HMGET", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			pipe := c.Client.Pipeline()
			var cmds []*redis.GeoSearchLocationCmd
			for _, bt := range []string{"nursing", "nursing-dementia"} {
				for _, a := range areas {
					cmds = append(cmds, pipe.GeoSearchLocation(ctx, "dg:{geo:"+bt+":"+a+"}", &redis.GeoSearchLocationQuery{
						GeoSearchQuery: redis.GeoSearchQuery{Longitude: -2.22, Latitude: 53.44, Radius: 25, RadiusUnit: "km", Sort: "ASC", Count: 200},
						WithDist:       true}))
				}
			}
			if _, err := pipe.Exec(ctx); err != nil {
				b.Fatal(err)
			}
			pipe = c.Client.Pipeline()
			n := 0
			for _, cmd := range cmds {
				for _, l := range cmd.Val() {
					pipe.HMGet(ctx, "dg:{cap:"+l.Name+"}", "rv", "doc")
					n++
				}
			}
			if _, err := pipe.Exec(ctx); err != nil || n == 0 {
				b.Fatal(err, n)
			}
		}
	})
	b.Run("summary", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			req := httptest.NewRequest("GET", "/api/v1/capacity?near=53.44,-2.22&radiusKm=25&setting=nursing", nil)
			rec := httptest.NewRecorder()
			if err := s.capacitySummary(s.echo.NewContext(req, rec)); err != nil || rec.Code != 200 {
				b.Fatal(err, rec.Code)
			}
		}
	})
}

// BenchmarkCapacityPost posts capacity over the JSON handler (validation,
// ownership check, atomic put with history, geo index; auth middleware
// excluded, it is measured on its own), against raw HSETs of the same
// payload in the same run.
func BenchmarkCapacityPost(b *testing.B) {
	s, c, geo, _ := importServer(b)
	ctx := context.Background()
	l := discharge.Listing{Row: 2, Name: "Bench", LocationID: "1-100000001", ProviderID: "1-000000001", Services: []discharge.CareSetting{discharge.CareNursing},
		Postcode: "M14 6AB", Position: &discharge.Position{Lat: 53.44, Lon: -2.22}}
	if _, err := s.ImportDirectory(ctx, []discharge.Listing{l}, ""); err != nil {
		b.Fatal(err)
	}
	_ = geo
	p := &auth.Principal{ClientID: "bench", Role: auth.RoleCareProvider, Org: "1-000000001", OrgSystem: "https://cqc.org.uk/provider-id"}
	body := `{"asOf":"%s","beds":[{"type":"nursing","maxCapacity":30,"occupied":26,"reserved":1,"acceptingAdmissions":3,"closedToAdmissions":false}]}`
	start := time.Now().Add(-time.Hour)
	b.Run("baseline-raw-HSET", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := c.Client.HSet(ctx, "raw:cap", "asOf", i, "doc", body).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("PUT-capacity", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			req := httptest.NewRequest("PUT", "/api/v1/capacity/cqc-1-100000001",
				strings.NewReader(fmt.Sprintf(body, start.Add(time.Duration(i)*time.Millisecond).UTC().Format(time.RFC3339Nano))))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			ec := s.echo.NewContext(req, rec)
			ec.SetParamNames("locationId")
			ec.SetParamValues("cqc-1-100000001")
			ec.Set(ctxPrincipal, p)
			if err := s.putCapacity(ec); err != nil || rec.Code != 200 {
				b.Fatal(err, rec.Code, rec.Body.String())
			}
		}
	})
}
