package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	r4 "github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// intakeProfile, when set, is where the intake phase's CPU profile goes.
var intakeProfile string

// intakePatient is the body the intake phase posts: a Patient as an EPR
// sends one (NHS number, trust MRN, name, gender, birth date, home address
// and phone), about 1 kB, with a fresh NHS number and MRN per request so
// that every create is a new patient.
func intakePatient(i int) []byte {
	nhs := nhsNumber(i)
	return []byte(`{"resourceType":"Patient","meta":{"profile":["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"]},` +
		`"identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"` + nhs + `",` +
		`"extension":[{"url":"https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",` +
		`"valueCodeableConcept":{"coding":[{"system":"https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland","code":"01","display":"Number present and verified"}]}}]},` +
		`{"system":"https://trust.example/mrn","value":"LG` + strconv.Itoa(i) + `"}],` +
		`"active":true,"name":[{"use":"official","family":"Loadgen","given":["Patient","Number"],"prefix":["Mrs"]}],` +
		`"telecom":[{"system":"phone","value":"0161 496 0000","use":"home"}],"gender":"female","birthDate":"1938-04-12",` +
		`"address":[{"use":"home","line":["1 Example Street","Salford"],"city":"Manchester","postalCode":"M6 8HD","country":"GB"}],` +
		`"generalPractitioner":[{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"P84001"}}]}`)
}

// nhsNumber is a valid NHS number (modulus 11) derived from i: the first
// nine digits count up from 900000000 (the test range), skipping those
// whose check digit would be 10.
func nhsNumber(i int) string {
	for n := 900000000 + i; ; n += 1000000 {
		s := strconv.Itoa(n % 1000000000)
		for len(s) < 9 {
			s = "0" + s
		}
		sum := 0
		for k := 0; k < 9; k++ {
			sum += int(s[k]-'0') * (10 - k)
		}
		c := 11 - sum%11
		if c == 11 {
			c = 0
		}
		if c != 10 {
			return s + strconv.Itoa(c)
		}
	}
}

// intake measures POST /fhir/Patient in a closed loop (each a new patient:
// a durable create and its audit entry), and, in the same run, a bare Echo
// handler that decodes the same body into the FHIR model the gateway uses
// and encodes it back: the JSON floor of intake.
func intake(base, token string, client *http.Client, workers int, duration time.Duration, measured func(func() phase) phase) (phase, phase, error) {
	post := func(url string, b []byte, token string) error {
		return send(client, "POST", url, "application/fhir+json", token, b, 201, 200)
	}
	// One create first: a wrong token or body fails here, loudly.
	if err := post(base+"/fhir/Patient", intakePatient(0), token); err != nil {
		return phase{}, phase{}, fmt.Errorf("creating a Patient: %w", err)
	}
	got, err := profiled(intakeProfile, func() phase {
		return measured(func() phase {
			return closedLoop("intake POST /fhir/Patient, closed loop", workers, duration, func(r *rand.Rand) error {
				return post(base+"/fhir/Patient", intakePatient(1+r.IntN(1<<28)), token)
			})
		})
	})
	if err != nil {
		return phase{}, phase{}, err
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.POST("/Patient", func(c echo.Context) error {
		b, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return c.String(400, err.Error())
		}
		var p r4.Patient
		if err := json.Unmarshal(b, &p); err != nil {
			return c.String(400, err.Error())
		}
		out, err := json.Marshal(p)
		if err != nil {
			return c.String(500, err.Error())
		}
		return c.Blob(201, "application/fhir+json", out)
	})
	addr, stop, err := serveBare(e)
	if err != nil {
		return phase{}, phase{}, err
	}
	defer stop()
	bare := closedLoop("bare Echo handler decoding the same Patient into the FHIR model and re-encoding it", workers, duration, func(r *rand.Rand) error {
		return post("http://"+addr+"/Patient", intakePatient(1+r.IntN(1<<28)), "")
	})
	return got, bare, nil
}
