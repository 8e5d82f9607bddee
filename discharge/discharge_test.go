package discharge_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/discharge"
)

func TestValidNHSNumber(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"9476719931", true},
		{"9000000009", true},
		{"9476719932", false}, // wrong check digit
		{"947671993", false},  // too short
		{"94767199311", false},
		{"947671993A", false},
		{"1000000010", false}, // remainder gives 10
		{"", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := discharge.ValidNHSNumber(tc.in); got != tc.want {
				t.Errorf("ValidNHSNumber(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestOutcode(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"M14 4AB", "M14"}, {"m144ab", "M14"}, {"M14", "M14"}, {" sw1a 1aa ", "SW1A"},
		{"SW1A1AA", "SW1A"}, {"B11AA", "B1"}, {"", ""},
	} {
		if got := discharge.Outcode(tc.in); got != tc.want {
			t.Errorf("Outcode(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := discharge.NormalisePostcode("m144ab"); got != "M14 4AB" {
		t.Errorf("NormalisePostcode = %q", got)
	}
	if discharge.ValidOutcode("14M") || !discharge.ValidOutcode("EC1A") {
		t.Error("ValidOutcode shape check wrong")
	}
}

func TestAgeBand(t *testing.T) {
	d := func(s string) discharge.Date {
		v, err := discharge.ParseDate(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct{ birth, at, want string }{
		{"1940-03-01", "2026-11-24", "80-89"},
		{"1936-11-25", "2026-11-24", "80-89"}, // 90th birthday tomorrow
		{"1936-11-24", "2026-11-24", "90-99"},
		{"2026-01-01", "2026-11-24", "0-9"},
		{"1920-01-01", "2026-11-24", "100+"},
		{"2027-01-01", "2026-11-24", ""},
	} {
		if got := discharge.AgeBand(d(tc.birth), d(tc.at)); got != tc.want {
			t.Errorf("AgeBand(%s, %s) = %q, want %q", tc.birth, tc.at, got, tc.want)
		}
	}
}

func TestDateJSON(t *testing.T) {
	d, _ := discharge.ParseDate("2026-01-05")
	b, err := json.Marshal(struct{ D *discharge.Date }{&d})
	if err != nil || string(b) != `{"D":"2026-01-05"}` {
		t.Fatalf("marshal = %s, %v", b, err)
	}
	var back struct{ D discharge.Date }
	if err := json.Unmarshal(b, &back); err != nil || back.D != d {
		t.Fatalf("unmarshal = %v, %v", back.D, err)
	}
	if err := json.Unmarshal([]byte(`{"D":"2026-13-01"}`), &back); err == nil {
		t.Fatal("month 13 accepted")
	}
}

func TestConceptLists(t *testing.T) {
	for name, list := range map[string][]discharge.Concept{
		"care": discharge.CareSettings(), "req": discharge.Requirements(), "fund": discharge.Fundings(),
		"pathway": discharge.Pathways(), "dest": discharge.DischargeDestinations(),
	} {
		seen := map[string]bool{}
		for _, c := range list {
			if c.Code == "" || c.Display == "" || c.Definition == "" || seen[c.Code] {
				t.Errorf("%s: bad or duplicate concept %+v", name, c)
			}
			seen[c.Code] = true
		}
	}
	if len(discharge.CareSettings()) != 10 || len(discharge.Requirements()) != 10 || len(discharge.Fundings()) != 4 {
		t.Error("concept list sizes changed")
	}
	if !discharge.CareNursingDementia.Valid() || discharge.CareSetting("ct-scan").Valid() {
		t.Error("CareSetting.Valid")
	}
	if p, ok := discharge.CareNursingDementia.Pathway(); !ok || p != 3 {
		t.Error("nursing-dementia should be pathway 3")
	}
}

func TestErrorKindOfAnExpiredDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), -time.Second)
	defer cancel()
	if k := discharge.ErrorKind(fmt.Errorf("store: %w", ctx.Err())); k != discharge.KindTimeout {
		t.Fatalf("an expired deadline is %s, want timeout", k)
	}
	if k := discharge.ErrorKind(errors.New("other")); k != discharge.KindInternal {
		t.Fatalf("a plain error is %s, want internal", k)
	}
	if k := discharge.ErrorKind(fmt.Errorf("x: %w", discharge.E(discharge.KindNotFound, "", "gone"))); k != discharge.KindNotFound {
		t.Fatalf("a wrapped *Error is %s", k)
	}
}
