package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAnswerOfNamesTheIssueCode(t *testing.T) {
	oo := []byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"transient"},{"severity":"error","code":"timeout"}]}`)
	cases := []struct {
		status int
		body   []byte
		want   answer
	}{
		{200, []byte(`{"resourceType":"Bundle"}`), answer{status: 200}},
		{503, oo, answer{503, "transient"}},
		{500, []byte(`<html>oops</html>`), answer{500, "not an OperationOutcome"}},
		{404, []byte(`{"resourceType":"OperationOutcome","issue":[]}`), answer{404, "not an OperationOutcome"}},
		{400, []byte(`{"resourceType":"Patient"}`), answer{400, "not an OperationOutcome"}},
	}
	for _, c := range cases {
		if got := answerOf(c.status, c.body); got != c.want {
			t.Errorf("answerOf(%d, %s) = %+v, want %+v", c.status, c.body, got, c.want)
		}
	}
}

func TestTransportErrorClasses(t *testing.T) {
	// A port nobody listens on: connection refused.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := http.Get(url)
	if err == nil || transportError(err) != "connection refused" {
		t.Errorf("closed server: %v classified as %q", err, transportError(err))
	}
	// A server slower than the client's timeout.
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	c := &http.Client{Timeout: 50 * time.Millisecond}
	_, err = c.Get(slow.URL)
	if err == nil || transportError(err) != "client timeout" {
		t.Errorf("slow server: %v classified as %q", err, transportError(err))
	}
	if got := transportError(errors.New("something else")); got != "transport error" {
		t.Errorf("other error classified as %q", got)
	}
	if got := transportError(context.Canceled); got != "transport error" {
		t.Errorf("context.Canceled classified as %q", got)
	}
}

// The report splits error answers by the fault window and fails the run
// for a 5xx outside it, never for one inside it.
func TestReportSplitsErrorsByFaultWindow(t *testing.T) {
	every := 30 * time.Second
	mk := func(errs map[string]int, s5 int) *interval {
		iv := &interval{errors: errs}
		iv.lat[kPlacement] = []time.Duration{time.Millisecond, 2 * time.Millisecond}
		iv.ok[kPlacement] = 2 - s5
		iv.s5xx[kPlacement] = s5
		return iv
	}
	s := &soak{gateways: []string{"a", "b"}}
	out := filepath.Join(t.TempDir(), "soak.md")
	inside := []*interval{mk(nil, 0), mk(map[string]int{"placement 503 transient": 2}, 2), mk(nil, 0)}
	if err := s.report(out, "", inside, every, 90*time.Second, 30*time.Second, 60*time.Second, nil, nil, nil, 0, 0, nil); err != nil {
		t.Fatalf("a 5xx inside the fault window failed the run: %v", err)
	}
	b, _ := os.ReadFile(out)
	if !strings.Contains(string(b), "| placement 503 transient | 2 | 0 |") {
		t.Errorf("error table missing or wrong:\n%s", b)
	}
	outside := []*interval{mk(nil, 0), mk(nil, 0), mk(map[string]int{"intake 500 exception": 1}, 1)}
	err := s.report(out, "", outside, every, 90*time.Second, 30*time.Second, 60*time.Second, nil, nil, nil, 0, 0, nil)
	if err == nil {
		t.Fatal("a 5xx outside the fault window passed")
	}
	b, _ = os.ReadFile(out)
	if !strings.Contains(string(b), "| intake 500 exception | 0 | 1 |") {
		t.Errorf("error table missing or wrong:\n%s", b)
	}
}
