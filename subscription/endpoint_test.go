package subscription_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/subscription"
)

func TestEndpointCheck(t *testing.T) {
	p := subscription.EndpointPolicy{AllowHosts: []string{"receiver.test", "127.0.0.1"}}
	for _, c := range []struct {
		url string
		ok  bool
	}{
		{"https://receiver.example.org/hook", true},
		{"https://203.0.113.7:8443/hook", true},
		{"http://receiver.example.org/hook", false}, // plain http, not allow-listed
		{"http://receiver.test:8080/hook", true},    // allow-listed
		{"http://127.0.0.1:9/hook", true},           // allow-listed
		{"https://127.0.0.2/hook", false},
		{"https://10.0.0.1/hook", false},
		{"https://172.16.5.4/hook", false},
		{"https://192.168.0.1/hook", false},
		{"https://169.254.169.254/latest/meta-data", false}, // cloud metadata: link-local
		{"https://[::1]/hook", false},
		{"https://[fe80::1]/hook", false},
		{"https://[fd00::1]/hook", false},
		{"https://[::ffff:10.0.0.1]/hook", false},
		{"https://100.64.0.1/hook", false},
		{"https://0.0.0.0/hook", false},
		{"https://localhost/hook", false},
		{"https://a.localhost/hook", false},
		{"https://user:pw@receiver.example.org/hook", false},
		{"ftp://receiver.example.org/hook", false},
		{"/relative", false},
	} {
		err := p.Check(c.url)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v, want ok=%v", c.url, err, c.ok)
		}
		if err != nil {
			var de *discharge.Error
			if !errors.As(err, &de) || len(de.Issues) == 0 && !strings.Contains(de.Error(), "") {
				t.Errorf("%s: %v is not a discharge.Error", c.url, err)
			}
		}
	}
}

// The address check runs when the connection is made, on each address
// the name resolved to: a name that resolves to loopback, as a rebinding
// DNS answer would after Check passed, is refused at connect (the dialer
// never sees the name, only the address); allow-listed, the same name
// connects.
func TestTransportRefusesNonPublicAddressAtConnect(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	port := srv.URL[strings.LastIndexByte(srv.URL, ':')+1:]
	url := "http://localhost:" + port + "/"
	guarded := &http.Client{Transport: subscription.EndpointPolicy{}.Transport(2 * time.Second)}
	if resp, err := guarded.Get(url); err == nil {
		resp.Body.Close()
		t.Fatal("connected to a loopback address")
	} else if !strings.Contains(err.Error(), "not public") {
		t.Fatalf("refused for another reason: %v", err)
	}
	open := &http.Client{Transport: subscription.EndpointPolicy{AllowHosts: []string{"localhost"}}.Transport(2 * time.Second)}
	resp, err := open.Get(url)
	if err != nil {
		t.Fatalf("allow-listed: %v", err)
	}
	resp.Body.Close()
}

func TestSignature(t *testing.T) {
	now := time.Now()
	body := []byte(`{"resourceType":"Bundle"}`)
	h := subscription.Sign("secret", now, body)
	if !subscription.Verify("secret", h, body, now, time.Minute) {
		t.Fatal("own signature does not verify")
	}
	for name, ok := range map[string]bool{
		"other secret": subscription.Verify("other", h, body, now, time.Minute),
		"other body":   subscription.Verify("secret", h, []byte(`{}`), now, time.Minute),
		"replayed":     subscription.Verify("secret", h, body, now.Add(time.Hour), time.Minute),
		"garbage":      subscription.Verify("secret", "t=x,v1=y", body, now, time.Minute),
	} {
		if ok {
			t.Errorf("%s verifies", name)
		}
	}
}
