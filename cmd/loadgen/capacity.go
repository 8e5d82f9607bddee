package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
)

// capacityLocations is how many bed-holding locations the capacity phase
// posts for (spread over their providers, as many providers post at once).
const capacityLocations = 300

// postingBody mirrors the wire posting (gateway/wire_capacity.go).
type postingBody struct {
	AsOf string        `json:"asOf"`
	Beds []postingBeds `json:"beds"`
}

type postingBeds struct {
	Type                discharge.BedType `json:"type"`
	MaxCapacity         int               `json:"maxCapacity"`
	Occupied            int               `json:"occupied"`
	Reserved            int               `json:"reserved"`
	AcceptingAdmissions int               `json:"acceptingAdmissions"`
	ClosedToAdmissions  bool              `json:"closedToAdmissions"`
}

// postings measures PUT /api/v1/capacity/{id} in a closed loop, and, in the
// same run, a bare Echo handler that decodes the same body and encodes it
// back (the JSON floor of a posting).
func postings(ctx context.Context, base string, issuer *auth.Issuer, client *http.Client, listings []discharge.Listing, caps []discharge.Capacity,
	workers int, duration time.Duration, measured func(func() phase) phase) (phase, phase, error) {
	type target struct {
		id, token string
		beds      []postingBeds
	}
	sc, _ := auth.ParseScopes("system/MeasureReport.cruds")
	tokens := map[string]string{}
	var targets []target
	for i, l := range listings {
		if len(targets) == capacityLocations {
			break
		}
		if i >= len(caps) || len(caps[i].Beds) == 0 {
			continue
		}
		tok, ok := tokens[l.ProviderID]
		if !ok {
			var err error
			if tok, _, err = issuer.Issue(&auth.Client{ID: "loadgen-" + l.ProviderID, Role: auth.RoleCareProvider, Org: l.ProviderID,
				OrgSystem: "https://cqc.org.uk/provider-id"}, sc); err != nil {
				return phase{}, phase{}, err
			}
			tokens[l.ProviderID] = tok
		}
		t := target{id: caps[i].LocationID, token: tok}
		for _, b := range caps[i].Beds {
			t.beds = append(t.beds, postingBeds{Type: b.Type, MaxCapacity: b.MaxCapacity, Occupied: b.Occupied, Reserved: b.Reserved,
				AcceptingAdmissions: b.AcceptingAdmissions})
		}
		targets = append(targets, t)
	}
	if len(targets) == 0 {
		return phase{}, phase{}, fmt.Errorf("no bed-holding locations to post capacity for")
	}
	body := func(t target) []byte {
		b, _ := json.Marshal(postingBody{AsOf: time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano), Beds: t.beds})
		return b
	}
	put := func(url, token string, b []byte) error {
		return send(client, "PUT", url, "application/json", token, b, 200)
	}
	// One posting each first: a wrong token or body fails here, loudly.
	for _, t := range targets {
		if err := put(base+"/api/v1/capacity/"+t.id, t.token, body(t)); err != nil {
			return phase{}, phase{}, fmt.Errorf("posting capacity for %s: %w", t.id, err)
		}
	}
	got, err := profiled(capacityProfile, func() phase {
		return measured(func() phase {
			return closedLoop("capacity PUT /api/v1/capacity/{id}, closed loop", workers, duration, func(r *rand.Rand) error {
				t := targets[r.IntN(len(targets))]
				return put(base+"/api/v1/capacity/"+t.id, t.token, body(t))
			})
		})
	})
	if err != nil {
		return phase{}, phase{}, err
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.PUT("/capacity/:id", func(c echo.Context) error {
		var in postingBody
		dec := json.NewDecoder(c.Request().Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			return c.String(400, err.Error())
		}
		return c.JSON(200, in)
	})
	addr, stop, err := serveBare(e)
	if err != nil {
		return phase{}, phase{}, err
	}
	defer stop()
	bare := closedLoop("bare Echo handler decoding and re-encoding the same posting", workers, duration, func(r *rand.Rand) error {
		t := targets[r.IntN(len(targets))]
		return put("http://"+addr+"/capacity/"+t.id, "", body(t))
	})
	return got, bare, nil
}

// profiled runs f, with a CPU profile written to path unless it is empty.
func profiled(path string, f func() phase) (phase, error) {
	if path == "" {
		return f(), nil
	}
	out, err := os.Create(path)
	if err != nil {
		return phase{}, err
	}
	defer out.Close()
	if err := pprof.StartCPUProfile(out); err != nil {
		return phase{}, err
	}
	p := f()
	pprof.StopCPUProfile()
	return p, nil
}

// serveBare serves a baseline's Echo on a loopback port until stop.
func serveBare(e *echo.Echo) (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	bs := &http.Server{Handler: e}
	go bs.Serve(ln)
	return ln.Addr().String(), func() { bs.Close() }, nil
}

// send sends body with its content type and, unless token is empty, a
// bearer token, reads the answer and fails unless its status is one of
// want.
func send(client *http.Client, method, url, contentType, token string, body []byte, want ...int) error {
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if !slices.Contains(want, res.StatusCode) {
		return fmt.Errorf("status %d", res.StatusCode)
	}
	return nil
}
