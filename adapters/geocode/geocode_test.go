package geocode_test

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/adapters/geocode"
)

func shipped(t testing.TB) *geocode.Table {
	t.Helper()
	tab, err := geocode.LoadFiles(filepath.Join("..", "..", "configs", "geo", "uk-outcode-centroids.csv"), "")
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func TestShippedOutcodeTable(t *testing.T) {
	tab := shipped(t)
	if tab.Outcodes() < 2900 {
		t.Fatalf("%d outcodes", tab.Outcodes())
	}
	for _, pc := range []string{"M14 4AB", "m144ab", "M14", " m14 4ab "} {
		p, ok := tab.Lookup(pc)
		// M14 (Fallowfield, Manchester) is near 53.44 N, 2.22 W.
		if !ok || math.Abs(p.Lat-53.44) > 0.05 || math.Abs(p.Lon+2.22) > 0.05 || p.Precision != geocode.PrecisionOutcode {
			t.Fatalf("%q: %+v %v", pc, p, ok)
		}
	}
	for _, pc := range []string{"", "ZZ99 9ZZ", "not a postcode"} {
		if p, ok := tab.Lookup(pc); ok {
			t.Fatalf("%q placed at %+v", pc, p)
		}
	}
}

func TestFullPostcodesTakePrecedence(t *testing.T) {
	tab := shipped(t)
	onspd := "pcd,pcds,lat,long,other\n" +
		"M14 4AB,M14 4AB,53.4501,-2.2190,x\n" +
		"M99 9ZZ,M99 9ZZ,99.999999,0.000000,x\n" + // no grid reference: skipped
		"M13 9PL,M13 9PL,,,x\n"
	if err := tab.LoadPostcodes(strings.NewReader(onspd)); err != nil {
		t.Fatal(err)
	}
	p, ok := tab.Lookup("m14 4ab")
	if !ok || p.Precision != geocode.PrecisionPostcode || p.Lat != 53.4501 {
		t.Fatalf("%+v", p)
	}
	// Another postcode in the district still gets the centroid.
	if p, _ := tab.Lookup("M14 5ZZ"); p.Precision != geocode.PrecisionOutcode {
		t.Fatalf("%+v", p)
	}
	if p, _ := tab.Lookup("M13 9PL"); p.Precision != geocode.PrecisionOutcode {
		t.Fatalf("row without coordinates used: %+v", p)
	}
}

func TestBadTables(t *testing.T) {
	for name, body := range map[string]string{
		"no header columns": "a,b,c\nM14,1,2\n",
		"not numbers":       "outcode,latitude,longitude\nM14,north,west\n",
		"out of range":      "outcode,latitude,longitude\nM14,123,2\n",
		"not an outcode":    "outcode,latitude,longitude\nHELLO WORLD,53,-2\n",
		"short row":         "outcode,latitude,longitude\nM14\n",
	} {
		if err := geocode.New().LoadOutcodes(strings.NewReader(body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	tab := shipped(b)
	for i := 0; i < b.N; i++ {
		if _, ok := tab.Lookup("SK3 0AB"); !ok {
			b.Fatal("not found")
		}
	}
}

func TestAreas(t *testing.T) {
	tab := shipped(t)
	for pc, want := range map[string]string{"M14 4AB": "M", "sk3 0ab": "SK", "SW1A 1AA": "SW", "B1": "B"} {
		if got := geocode.Area(pc); got != want {
			t.Errorf("%s: %s", pc, got)
		}
	}
	near := tab.AreasNear(53.44, -2.22, 25) // Fallowfield, Manchester
	has := func(a string) bool {
		for _, x := range near {
			if x == a {
				return true
			}
		}
		return false
	}
	if !has("M") || !has("SK") || !has("OL") || has("SW") || has("AB") || len(near) > 20 {
		t.Fatalf("areas near Manchester: %v", near)
	}
	if a := tab.NearestArea(53.41, -2.16); a != "SK" && a != "M" {
		t.Fatalf("nearest area %s", a)
	}
}
