// Command carehome is a care home's software in miniature, for trying
// Subscriptions (docs/subscriptions.md): it subscribes to the referrals
// offered to its organisation, and for each one it is sent it reads the
// referral pack and accepts the offer, holding a bed at the Location the
// offer names.
//
//	carehome -gateway http://127.0.0.1:8080/fhir -token "$CARE_HOME_TOKEN" \
//	    -listen 127.0.0.1:9090 -endpoint http://127.0.0.1:9090/notify
//
// The gateway must allow the endpoint's host over plain http
// (SUBSCRIPTION_ALLOW_HOSTS=127.0.0.1); a real receiver is https.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/subscription"
)

func main() {
	gw := flag.String("gateway", "http://127.0.0.1:8080/fhir", "the gateway's FHIR base URL")
	token := flag.String("token", os.Getenv("CARE_HOME_TOKEN"), "the care home's bearer token (system/Task.rus system/Subscription.crds)")
	listen := flag.String("listen", "127.0.0.1:9090", "where to listen for notifications")
	endpoint := flag.String("endpoint", "http://127.0.0.1:9090/notify", "the notification URL as the gateway reaches it")
	bed := flag.String("bed-type", "nursing-dementia", "the bed type to hold when accepting")
	once := flag.Bool("once", false, "exit after accepting one referral")
	flag.Parse()
	if *token == "" {
		log.Fatal("no -token (or CARE_HOME_TOKEN)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	h := &home{gw: strings.TrimRight(*gw, "/"), token: *token, bedType: *bed, done: make(chan struct{})}
	srv := &http.Server{Addr: *listen, Handler: http.HandlerFunc(h.notify), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()
	if err := h.subscribe(*endpoint); err != nil {
		log.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-h.done:
		if !*once {
			<-ctx.Done()
		}
	}
	_ = srv.Shutdown(context.Background())
}

type home struct {
	gw, token, bedType string
	mu                 sync.Mutex
	secret             string
	accepted           map[string]bool
	done               chan struct{}
	doneOnce           sync.Once
}

// subscribe creates the Subscription and keeps its signing secret.
func (h *home) subscribe(endpoint string) error {
	const ig = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
	body := map[string]any{"resourceType": "Subscription", "status": "requested", "reason": "Referrals for our homes",
		"criteria": mappings.TopicCanonical("referral-offered"),
		"channel": map[string]any{"type": "rest-hook", "endpoint": endpoint, "payload": "application/fhir+json",
			"_payload":  map[string]any{"extension": []any{map[string]any{"url": ig + "backport-payload-content", "valueCode": "id-only"}}},
			"extension": []any{map[string]any{"url": ig + "backport-heartbeat-period", "valueUnsignedInt": 300}}}}
	h.mu.Lock() // the handshake may arrive before the answer
	defer h.mu.Unlock()
	resp, out, err := h.do("POST", "/Subscription", body, "")
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("subscribe: %s %s", resp.Status, out)
	}
	h.secret = resp.Header.Get("X-Subscription-Secret")
	var s struct{ ID string }
	_ = json.Unmarshal(out, &s)
	log.Printf("subscribed: Subscription/%s", s.ID)
	return nil
}

// notify takes one notification: checks its signature, then handles each
// Task it names.
func (h *home) notify(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "unreadable", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	secret := h.secret
	h.mu.Unlock()
	if !subscription.Verify(secret, r.Header.Get(subscription.SignatureHeader), body, time.Now(), 5*time.Minute) {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var b struct {
		Entry []struct {
			Resource struct {
				Parameter []struct {
					Name      string
					ValueCode string
					Part      []struct {
						Name           string
						ValueReference struct{ Reference string }
					}
				}
			}
		}
	}
	if err := json.Unmarshal(body, &b); err != nil || len(b.Entry) == 0 {
		http.Error(w, "not a notification", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusOK) // taken; the work goes on after the answer
	var tasks []string
	for _, p := range b.Entry[0].Resource.Parameter {
		switch {
		case p.Name == "type":
			log.Printf("notification: %s", p.ValueCode)
		case p.Name == "notification-event":
			for _, part := range p.Part {
				if id, ok := strings.CutPrefix(part.ValueReference.Reference, "Task/"); part.Name == "focus" && ok {
					tasks = append(tasks, id)
				}
			}
		}
	}
	go func() {
		for _, id := range tasks {
			if err := h.accept(id); err != nil {
				log.Printf("Task/%s: %v", id, err)
			}
		}
	}()
}

// accept reads the referral pack, then accepts the offer at the Location
// it names (a real home would decide here).
func (h *home) accept(id string) error {
	h.mu.Lock()
	if h.accepted == nil {
		h.accepted = map[string]bool{}
	}
	seen := h.accepted[id]
	h.accepted[id] = true
	h.mu.Unlock()
	if seen { // at least once: a notification may come again
		return nil
	}
	resp, _, err := h.do("GET", "/Task/"+id+"/$referral-pack", nil, "")
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("referral pack: %v %v", err, status(resp))
	}
	log.Printf("Task/%s: read the referral pack", id)
	resp, out, err := h.do("GET", "/Task/"+id, nil, "")
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("read: %v %v", err, status(resp))
	}
	var task map[string]any
	if err := json.Unmarshal(out, &task); err != nil {
		return err
	}
	var location any
	inputs, _ := task["input"].([]any)
	for _, in := range inputs {
		m, _ := in.(map[string]any)
		if b, _ := json.Marshal(m["type"]); strings.Contains(string(b), `"`+mappings.OfferParamLocation+`"`) {
			location = m["valueReference"]
		}
	}
	param := func(code string) map[string]any {
		return map[string]any{"coding": []any{map[string]any{"system": mappings.OfferParameterSystem, "code": code}}}
	}
	task["status"] = "accepted"
	task["output"] = []any{
		map[string]any{"type": param(mappings.OfferParamLocation), "valueReference": location},
		map[string]any{"type": param(mappings.OfferParamBedType), "valueCodeableConcept": map[string]any{
			"coding": []any{map[string]any{"system": mappings.BedTypeSystem, "code": h.bedType}}}},
	}
	resp, out, err = h.do("PUT", "/Task/"+id, task, resp.Header.Get("ETag"))
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("accept: %v %v %s", err, status(resp), out)
	}
	log.Printf("Task/%s: accepted", id)
	h.doneOnce.Do(func() { close(h.done) })
	return nil
}

func status(r *http.Response) string {
	if r == nil {
		return ""
	}
	return r.Status
}

func (h *home) do(method, path string, body any, ifMatch string) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.gw+path, rd)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+h.token)
	req.Header.Set("Accept", "application/fhir+json")
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp, out, err
}
