package subscription

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dischargegateway/gateway/discharge"
)

// EndpointPolicy is where notifications may go. An endpoint is https; plain
// http only to a host on AllowHosts (local testing). Its addresses must be
// public: loopback, private, link-local, unspecified and multicast
// addresses are refused unless the host is on AllowHosts. The address
// check runs at create time on a literal address, and again on every
// address the dialer connects to (Transport), so a name that resolves to
// a public address when created and to 127.0.0.1 later (DNS rebinding)
// still fails.
type EndpointPolicy struct {
	// AllowHosts are host names (or literal addresses), without port,
	// exempt from the https and public-address rules
	// (SUBSCRIPTION_ALLOW_HOSTS).
	AllowHosts []string
}

func (p EndpointPolicy) allowed(host string) bool {
	return slices.Contains(p.AllowHosts, strings.ToLower(host))
}

// Check refuses an endpoint the policy forbids, naming
// Subscription.channel.endpoint.
func (p EndpointPolicy) Check(raw string) error {
	const at = "Subscription.channel.endpoint"
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return discharge.E(discharge.KindValue, at, "The endpoint must be an absolute https URL without credentials or fragment.")
	}
	host := u.Hostname()
	switch {
	case p.allowed(host):
		if u.Scheme != "https" && u.Scheme != "http" {
			return discharge.E(discharge.KindValue, at, "The endpoint must be an https URL.")
		}
		return nil
	case u.Scheme != "https":
		return discharge.E(discharge.KindValue, at, "The endpoint must be an https URL (http only to allow-listed hosts).")
	}
	if a, err := netip.ParseAddr(host); err == nil && !public(a) {
		return discharge.E(discharge.KindValue, at, "The endpoint's address is not public (loopback, private or link-local).")
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return discharge.E(discharge.KindValue, at, "The endpoint's address is not public (loopback).")
	}
	return nil
}

// public reports whether a is a public unicast address.
func public(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	// Shared address space (RFC 6598) and the benchmarking range are not
	// anyone's public endpoint either.
	for _, p := range []netip.Prefix{netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("198.18.0.0/15"),
		netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("64:ff9b::/96")} {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

var errForbiddenAddress = errors.New("endpoint address is not public")

// Transport is the HTTP transport deliveries use: no proxy, no
// keep-alive surprises across endpoints beyond the pool, and a dialer
// whose Control refuses every non-public address it is about to connect
// to, after resolution, unless the URL's host is allow-listed.
func (p EndpointPolicy) Transport(timeout time.Duration) *http.Transport {
	guarded := &net.Dialer{Timeout: timeout, Control: func(network, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		a, err := netip.ParseAddr(host)
		if err != nil || !public(a) {
			return errForbiddenAddress
		}
		return nil
	}}
	open := &net.Dialer{Timeout: timeout}
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if p.allowed(host) {
				return open.DialContext(ctx, network, addr)
			}
			return guarded.DialContext(ctx, network, addr)
		},
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
}

// SignatureHeader carries the delivery's HMAC: "t=<unix seconds>,
// v1=<hex HMAC-SHA256 of "<t>.<body>" with the Subscription's secret>".
// The time stops a captured delivery being replayed later.
const SignatureHeader = "X-Subscription-Signature"

// Sign returns the SignatureHeader value of body at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a SignatureHeader value against body and secret, with
// the time no further than skew from now (for receivers; the example
// receiver uses it).
func Verify(secret, header string, body []byte, now time.Time, skew time.Duration) bool {
	var ts, sig string
	for _, kv := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(sec, 0)); d > skew || d < -skew {
		return false
	}
	want := Sign(secret, time.Unix(sec, 0), body)
	return hmac.Equal([]byte(want), []byte("t="+ts+",v1="+sig))
}

// reservedHeaders may not be set by a subscriber's channel.header.
var reservedHeaders = []string{"host", "content-type", "content-length", "transfer-encoding", "connection",
	strings.ToLower(SignatureHeader)}

func reserved(name string) bool {
	return slices.Contains(reservedHeaders, strings.ToLower(strings.TrimSpace(name)))
}
